import { exportJWK, generateKeyPair } from 'jose'
import { describe, expect, it } from 'vitest'
import { loadConfig, SETTINGS } from './config'
import type { Env } from './env'
import { ImproperlyConfigured } from './errors'

const STRONG = 'x1y2z3-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123'
const base = { SECRET_KEY: STRONG } as Env

function problem(env: Partial<Env>): string {
  try {
    loadConfig({ ...base, ...env } as Env)
  } catch (error) {
    expect(error).toBeInstanceOf(ImproperlyConfigured)
    return (error as Error).message
  }
  throw new Error('expected ImproperlyConfigured')
}

describe('loadConfig', () => {
  it("has Django's defaults", () => {
    const config = loadConfig(base)
    expect(config.sessionCookieName).toBe('sessionid')
    expect(config.csrfCookieName).toBe('csrftoken')
    expect(config.sessionCookieAge).toBe(1_209_600)
    expect(config.sessionExpireAtBrowserClose).toBe(false)
    expect(config.loginFailureLimit).toBe(5)
    expect(config.loginFailureIpLimit).toBe(100)
    expect(config.loginFailureWindow).toBe(900)
    expect(config.originTimeoutMs).toBe(30_000)
    expect(config.originUrl).toBeNull()
  })

  it('requires SECRET_KEY outside DEBUG, naming it', () => {
    expect(problem({ SECRET_KEY: undefined })).toBe('Improperly configured: SECRET_KEY is not set.')
  })

  it('refuses a weak SECRET_KEY outside DEBUG', () => {
    expect(problem({ SECRET_KEY: 'short' })).toContain('SECRET_KEY must be at least 50 characters')
    expect(problem({ SECRET_KEY: 'a'.repeat(60) })).toContain(
      'SECRET_KEY must have at least 5 distinct',
    )
    expect(problem({ SECRET_KEY: `django-insecure-${STRONG}` })).toContain('SECRET_KEY')
  })

  it('runs without SECRET_KEY in DEBUG, with a random key', () => {
    const config = loadConfig({ DEBUG: 'true' } as Env)
    expect(config.secretKey).toHaveLength(64)
  })

  it('reads SECRET_KEY_FALLBACKS as a comma-separated list', () => {
    const config = loadConfig({ ...base, SECRET_KEY_FALLBACKS: ' old1 , old2 ,' })
    expect(config.secretKeyFallbacks).toEqual(['old1', 'old2'])
  })

  it.each([
    ['SESSION_COOKIE_AGE', 'abc'],
    ['SESSION_COOKIE_AGE', '-5'],
    ['LOGIN_FAILURE_LIMIT', '0'],
    ['ORIGIN_TIMEOUT_MS', '1.5'],
    ['SESSION_EXPIRE_AT_BROWSER_CLOSE', 'maybe'],
    ['ORIGIN_URL', 'ftp://example.com'],
    ['PUBLIC_PATHS', 'docs/*'],
    ['CSRF_TRUSTED_ORIGINS', 'example.com'],
    ['SESSION_COOKIE_NAME', 'bad name'],
    ['ASSERTION_KEYS', '{not json'],
    ['TRUSTED_PROXY_SECRET', 'shorter-than-32-characters'],
    ['ALLOWED_HOSTS', 'https://example.com'],
  ] as const)('names %s when it is %s', (name, value) => {
    expect(problem({ [name]: value })).toContain(name)
  })

  it('refuses SESSION_COOKIE_DOMAIN with a __Host- cookie name', () => {
    expect(
      problem({ SESSION_COOKIE_NAME: '__Host-sessionid', SESSION_COOKIE_DOMAIN: 'example.com' }),
    ).toContain('SESSION_COOKIE_DOMAIN')
  })

  it('parses lists, booleans and the origin', () => {
    const config = loadConfig({
      ...base,
      PUBLIC_PATHS: '/public/*, /docs',
      CSRF_TRUSTED_ORIGINS: 'https://App.example.com/',
      SESSION_EXPIRE_AT_BROWSER_CLOSE: 'true',
      ORIGIN_URL: 'http://127.0.0.1:9000',
    })
    expect(config.publicPaths).toEqual(['/public/*', '/docs'])
    expect(config.csrfTrustedOrigins).toEqual(['https://app.example.com'])
    expect(config.sessionExpireAtBrowserClose).toBe(true)
    expect(config.originUrl?.origin).toBe('http://127.0.0.1:9000')
    expect(config.assertionAudience).toBe('http://127.0.0.1:9000')
  })
})

describe('SETTINGS', () => {
  it('names each setting once, with a one-line meaning', () => {
    const names = SETTINGS.map((setting) => setting.name)
    expect(new Set(names).size).toBe(names.length)
    for (const setting of SETTINGS) {
      expect(setting.name).toMatch(/^[A-Z][A-Z0-9_]*$/)
      expect(setting.meaning).not.toMatch(/\n/)
      expect(setting.meaning.length).toBeGreaterThan(0)
    }
  })

  it('lists exactly the settings loadConfig reads', () => {
    const read = new Set<string | symbol>()
    const env = new Proxy(base, {
      get(target, name) {
        read.add(name)
        return Reflect.get(target, name)
      },
    })
    loadConfig(env)
    expect([...read].sort()).toEqual(SETTINGS.map((setting) => setting.name).sort())
  })

  it('gives its default to a setting that is unset or blank, as if it were set to it', () => {
    const unset = loadConfig(base)
    for (const setting of SETTINGS) {
      if (setting.default === null) continue
      expect(loadConfig({ ...base, [setting.name]: '  ' }), setting.name).toEqual(unset)
      expect(loadConfig({ ...base, [setting.name]: setting.default }), setting.name).toEqual(unset)
    }
  })
})

describe('ASSERTION_KEYS', () => {
  async function jwk(kid: string, part: 'private' | 'public' = 'private'): Promise<JsonWebKey> {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true })
    const { d, ...publicPart } = await exportJWK(privateKey)
    const key = part === 'private' ? { ...publicPart, d, kid } : { ...publicPart, kid }
    return key as unknown as JsonWebKey
  }
  const keys = (list: JsonWebKey[]) => ({ ASSERTION_KEYS: JSON.stringify(list) })

  it('takes public JWKs after the first, kept to be published', async () => {
    const list = [await jwk('new'), await jwk('old', 'public'), await jwk('older')]
    expect(loadConfig({ ...base, ...keys(list) }).assertionKeys).toEqual(list)
  })

  it('refuses a public JWK in first place, which would have to sign', async () => {
    expect(problem(keys([await jwk('new', 'public'), await jwk('old')]))).toBe(
      'Improperly configured: ASSERTION_KEYS must start with a private JWK (with "d"): the first entry signs.',
    )
  })

  it('refuses a kid used twice', async () => {
    expect(problem(keys([await jwk('same'), await jwk('same', 'public')]))).toContain(
      'ASSERTION_KEYS has the kid "same" twice.',
    )
  })

  it('refuses entries that are not EC P-256 JWKs with a kid', async () => {
    const good = await jwk('k')
    for (const bad of [
      { ...good, crv: 'P-384' },
      { kty: 'oct', k: 'c2VjcmV0', kid: 'k' },
      { ...good, x: undefined },
      { ...good, d: 42 },
      { ...good, kid: '' },
      null,
    ]) {
      expect(problem(keys([good, bad as JsonWebKey])), JSON.stringify(bad)).toContain(
        'ASSERTION_KEYS',
      )
    }
  })
})

describe('ROUTES', () => {
  const table = (routes: unknown, env: Partial<Env> = {}) =>
    loadConfig({ ...base, ROUTES: JSON.stringify(routes), ...env } as Env).routes

  it('reads each route with its defaults: ORIGIN_URL, authenticated, any method', () => {
    const [route] = table([{ path: '/api/**' }], { ORIGIN_URL: 'http://127.0.0.1:9000' })
    expect(route).toMatchObject({
      path: '/api/**',
      methods: null,
      access: 'authenticated',
      groups: null,
      mfa: false,
      audience: 'http://127.0.0.1:9000',
    })
    expect(route?.origin?.href).toBe('http://127.0.0.1:9000/')
  })

  it('reads methods upper-case, with HEAD beside GET, and its own origin and audience', () => {
    const [route] = table([
      { path: '/a/**', methods: ['get', 'POST'], origin: 'https://a.example.com/v1' },
    ])
    expect(route?.methods).toEqual(['GET', 'POST', 'HEAD'])
    expect(route?.origin?.href).toBe('https://a.example.com/v1')
    expect(route?.audience).toBe('https://a.example.com')
    const [pinned] = table([{ path: '/a', origin: 'https://a.example.com' }], {
      ASSERTION_AUDIENCE: 'my-apis',
    })
    expect(pinned?.audience).toBe('my-apis')
  })

  it('reads groups, mfa and every access level', () => {
    const routes = table([
      { path: '/p', access: 'public' },
      { path: '/s', access: 'staff', groups: ['ops'] },
      { path: '/r', access: 'superuser', mfa: true },
    ])
    expect(routes.map((route) => [route.access, route.groups, route.mfa])).toEqual([
      ['public', null, false],
      ['staff', ['ops'], false],
      ['superuser', null, true],
    ])
  })

  it('makes a table of PUBLIC_PATHS and STAFF_PATHS without it: staff, public, then the rest', () => {
    const config = loadConfig({ ...base, PUBLIC_PATHS: '/p/**', STAFF_PATHS: '/s/**' })
    expect(config.routes.map((route) => [route.path, route.access])).toEqual([
      ['/s/**', 'staff'],
      ['/p/**', 'public'],
      ['/**', 'authenticated'],
    ])
    expect(config.routes.every((route) => route.origin === null)).toBe(true)
  })

  it.each([
    ['{', 'ROUTES must be a JSON array of routes.'],
    ['{"path": "/"}', 'ROUTES must be a JSON array of routes.'],
    ['["/api"]', 'ROUTES entry 1: must be an object with a "path".'],
    ['[{"path": "api"}]', 'ROUTES entry 1: "path" must be a glob starting with "/".'],
    ['[{"path": "/"}, {"paht": "/x"}]', 'ROUTES entry 2: has an unknown field "paht".'],
    [
      '[{"path": "/", "access": "admin"}]',
      'ROUTES entry 1: "access" must be public, authenticated, staff or superuser, not "admin".',
    ],
    ['[{"path": "/", "methods": []}]', 'ROUTES entry 1: "methods" must be a non-empty array'],
    ['[{"path": "/", "methods": ["G T"]}]', 'ROUTES entry 1: "methods" holds "G T"'],
    ['[{"path": "/", "methods": ["trace"]}]', 'ROUTES entry 1: TRACE is never proxied.'],
    ['[{"path": "/", "origin": "ftp://x"}]', 'ROUTES entry 1: "origin" must be an http(s) URL'],
    ['[{"path": "/", "groups": "ops"}]', 'ROUTES entry 1: "groups" must be a non-empty array'],
    ['[{"path": "/", "groups": [" ops"]}]', 'ROUTES entry 1: "groups" holds " ops"'],
    ['[{"path": "/", "mfa": "yes"}]', 'ROUTES entry 1: "mfa" must be true or false.'],
    [
      '[{"path": "/", "access": "public", "groups": ["ops"]}]',
      'ROUTES entry 1: a public route cannot need "groups" or "mfa".',
    ],
  ])('refuses %s, naming ROUTES', (value, message) => {
    expect(problem({ ROUTES: value })).toContain(`Improperly configured: ${message}`)
  })

  it.each(['PUBLIC_PATHS', 'STAFF_PATHS', 'MFA_PATHS'] as const)(
    'refuses ROUTES together with %s',
    (name) => {
      expect(problem({ ROUTES: '[{"path": "/**"}]', [name]: '/x/**' })).toBe(
        `Improperly configured: ROUTES cannot be set together with ${name}: put those paths in the route table.`,
      )
    },
  )
})

describe('MFA_PATHS and CORS_ALLOWED_ORIGINS', () => {
  it('reads MFA_PATHS as globs starting with /', () => {
    expect(loadConfig({ ...base, MFA_PATHS: '/keys/**, /admin' }).mfaPaths).toEqual([
      '/keys/**',
      '/admin',
    ])
    expect(problem({ MFA_PATHS: 'keys/**' })).toContain('MFA_PATHS')
  })

  it('reads CORS_ALLOWED_ORIGINS as lower-cased origins', () => {
    const config = loadConfig({
      ...base,
      CORS_ALLOWED_ORIGINS: 'https://App.example.com, http://localhost:3000/',
    })
    expect(config.corsAllowedOrigins).toEqual(['https://app.example.com', 'http://localhost:3000'])
  })

  it.each([
    'app.example.com',
    'https://app.example.com/path',
    'https://*.example.com',
    '*',
    'null',
    'ftp://app.example.com',
    'https://user@app.example.com',
  ])('refuses the CORS origin %s, naming CORS_ALLOWED_ORIGINS', (origin) => {
    expect(problem({ CORS_ALLOWED_ORIGINS: origin })).toBe(
      `Improperly configured: CORS_ALLOWED_ORIGINS entries must be scheme://host[:port], not "${origin}".`,
    )
  })
})

describe('second-factor settings', () => {
  it('default to the request for the RP, no other origins, and 10 wrong answers', () => {
    const config = loadConfig(base)
    expect(config.webauthnRpId).toBeNull()
    expect(config.webauthnOrigins).toEqual([])
    expect(config.mfaFailureLimit).toBe(10)
  })

  it('read WEBAUTHN_RP_ID, WEBAUTHN_ORIGINS and MFA_FAILURE_LIMIT', () => {
    const config = loadConfig({
      ...base,
      WEBAUTHN_RP_ID: 'Example.COM',
      WEBAUTHN_ORIGINS: 'https://app.example.com, https://Admin.example.com:8443/',
      MFA_FAILURE_LIMIT: '3',
    })
    expect(config.webauthnRpId).toBe('example.com')
    expect(config.webauthnOrigins).toEqual([
      'https://app.example.com',
      'https://admin.example.com:8443',
    ])
    expect(config.mfaFailureLimit).toBe(3)
  })

  it('refuse an RP ID that is not a domain name, IP addresses included', () => {
    for (const bad of [
      'https://example.com',
      'example.com:443',
      '127.0.0.1',
      'ex ample.com',
      'a..b',
    ]) {
      expect(problem({ WEBAUTHN_RP_ID: bad }), bad).toMatch(
        /^Improperly configured: WEBAUTHN_RP_ID /,
      )
    }
  })

  it('refuse origins with a path or another scheme, and a limit under 1', () => {
    for (const bad of ['app.example.com', 'https://example.com/login', 'ftp://example.com']) {
      expect(problem({ WEBAUTHN_ORIGINS: bad }), bad).toMatch(
        /^Improperly configured: WEBAUTHN_ORIGINS /,
      )
    }
    expect(problem({ MFA_FAILURE_LIMIT: '0' })).toMatch(
      /^Improperly configured: MFA_FAILURE_LIMIT /,
    )
  })
})

describe('e-mail settings', () => {
  it('sends no e-mail by default outside DEBUG, and logs it in DEBUG', () => {
    expect(loadConfig(base).emailBackend).toBeNull()
    expect(loadConfig({ ...base, DEBUG: 'true' }).emailBackend).toBe('console')
    expect(loadConfig(base)).toMatchObject({
      emailFrom: 'webmaster@localhost',
      siteUrl: null,
      passwordResetTimeout: 259_200,
      emailVerification: 'none',
      signupOpen: false,
    })
  })

  it('reads the http backend, SITE_URL and the choices', () => {
    const config = loadConfig({
      ...base,
      EMAIL_BACKEND: 'HTTP',
      EMAIL_HTTP_URL: 'https://relay.example.com/send',
      EMAIL_HTTP_TOKEN: 'token',
      SITE_URL: 'https://accounts.example.com/',
      EMAIL_VERIFICATION: 'mandatory',
      SIGNUP: 'open',
    })
    expect(config).toMatchObject({
      emailBackend: 'http',
      emailHttpToken: 'token',
      siteUrl: 'https://accounts.example.com',
      emailVerification: 'mandatory',
      signupOpen: true,
    })
    expect(config.emailHttpUrl?.href).toBe('https://relay.example.com/send')
  })

  it('refuses bad e-mail settings, naming each', () => {
    expect(problem({ EMAIL_BACKEND: 'smtp' })).toContain('EMAIL_BACKEND must be one of')
    expect(problem({ EMAIL_BACKEND: 'http' })).toContain('EMAIL_HTTP_URL must be set')
    expect(problem({ EMAIL_BACKEND: 'http', EMAIL_HTTP_URL: 'ftp://x' })).toContain(
      'EMAIL_HTTP_URL must be an http(s) URL',
    )
    expect(problem({ EMAIL_BACKEND: 'cloudflare' })).toContain('send_email binding named EMAIL')
    expect(problem({ EMAIL_FROM: 'Site <a@b.c>' })).toContain('EMAIL_FROM')
    expect(problem({ SITE_URL: 'https://example.com/path' })).toContain('SITE_URL')
    expect(problem({ PASSWORD_RESET_TIMEOUT: '0' })).toContain('PASSWORD_RESET_TIMEOUT')
    expect(problem({ EMAIL_VERIFICATION: 'always' })).toContain('EMAIL_VERIFICATION')
    expect(problem({ SIGNUP: 'yes' })).toContain('SIGNUP')
  })
})
