/**
 * Every setting of sessiongate, read once from the Worker's `Env`, with its default and its
 * error. A bad value throws `ImproperlyConfigured` naming the setting, which the Worker answers
 * with a 500 whose body says which setting: never a silent default.
 *
 * `SETTINGS` is the one list of names: `Env` is derived from it (src/env.ts), `npm run dev` passes
 * each one it finds in the environment to the Worker, and a test holds the README's tables to it.
 * A new setting is one entry here, its reader in `loadConfig`, and its row in the README.
 */

import type { Env } from './env'
import { ImproperlyConfigured } from './errors'
import { MAX_SESSION_CACHE_SECONDS } from './session/cache'
import { ALPHANUMERIC, randomString } from './utils/crypto'
import { parseUrl } from './utils/url'

/** One setting or secret of the Worker. */
export interface Setting {
  name: string
  /** `setting`: a `[vars]` value in wrangler.toml; `secret`: `wrangler secret put NAME`. */
  kind: 'setting' | 'secret'
  /**
   * The value used when the setting is unset or blank, as text, read exactly as a value from the
   * environment would be; null when there is none (the meaning says what happens then).
   */
  default: string | null
  /** What it does, in one line. */
  meaning: string
}

/** Every setting and secret, in the README's order. */
export const SETTINGS = [
  {
    name: 'ORIGIN_URL',
    kind: 'setting',
    default: null,
    meaning: 'the API the gateway fronts; without it, paths outside /auth answer 404',
  },
  {
    name: 'ORIGIN_TIMEOUT_MS',
    kind: 'setting',
    default: '30000',
    meaning: "milliseconds to the origin's response headers before a 504",
  },
  {
    name: 'PUBLIC_PATHS',
    kind: 'setting',
    default: null,
    meaning: 'comma-separated path globs that need no login',
  },
  {
    name: 'STAFF_PATHS',
    kind: 'setting',
    default: null,
    meaning: 'comma-separated path globs that need is_staff',
  },
  {
    name: 'CSRF_TRUSTED_ORIGINS',
    kind: 'setting',
    default: null,
    meaning: "origins (https://*.example.com allowed) trusted besides the request's own",
  },
  {
    name: 'CSRF_COOKIE_NAME',
    kind: 'setting',
    default: 'csrftoken',
    meaning: "the CSRF cookie's name",
  },
  {
    name: 'SESSION_COOKIE_NAME',
    kind: 'setting',
    default: 'sessionid',
    meaning: "the session cookie's name; a __Host- prefix is supported",
  },
  {
    name: 'SESSION_COOKIE_AGE',
    kind: 'setting',
    default: '1209600',
    meaning: 'seconds a session lives (two weeks, as Django); expiry slides with use',
  },
  {
    name: 'SESSION_COOKIE_DOMAIN',
    kind: 'setting',
    default: null,
    meaning: "the session cookie's Domain, to share it across subdomains; none: host-only",
  },
  {
    name: 'SESSION_EXPIRE_AT_BROWSER_CLOSE',
    kind: 'setting',
    default: 'false',
    meaning: 'session cookies without Max-Age (the record still expires after the age)',
  },
  {
    name: 'LOGIN_FAILURE_LIMIT',
    kind: 'setting',
    default: '5',
    meaning: 'failed logins per (client IP, username) in a window',
  },
  {
    name: 'LOGIN_FAILURE_IP_LIMIT',
    kind: 'setting',
    default: '100',
    meaning: 'failed logins per client IP in a window',
  },
  {
    name: 'LOGIN_FAILURE_WINDOW',
    kind: 'setting',
    default: '900',
    meaning: 'seconds of the failed-login window (15 minutes)',
  },
  {
    name: 'ASSERTION_ISSUER',
    kind: 'setting',
    default: 'sessiongate',
    meaning: 'the iss of identity assertions',
  },
  {
    name: 'ASSERTION_AUDIENCE',
    kind: 'setting',
    default: null,
    meaning: "the aud of identity assertions; none: ORIGIN_URL's origin",
  },
  {
    name: 'ALLOWED_HOSTS',
    kind: 'setting',
    default: null,
    meaning: "Host values served (Django's syntax), others get 400; none: any host",
  },
  {
    name: 'SECURE_PROXY_SSL_HEADER',
    kind: 'setting',
    default: null,
    meaning: 'a header (X-Forwarded-Proto) whose value https marks the request secure',
  },
  {
    name: 'USE_X_FORWARDED_HOST',
    kind: 'setting',
    default: 'false',
    meaning: "take the request's host from X-Forwarded-Host",
  },
  {
    name: 'AUDIT_RETENTION_DAYS',
    kind: 'setting',
    default: '90',
    meaning: 'days audit events are kept',
  },
  {
    name: 'DEBUG',
    kind: 'setting',
    default: 'false',
    meaning: 'local development only: relaxes the secret checks',
  },
  {
    name: 'SECRET_KEY',
    kind: 'secret',
    default: null,
    meaning: 'signs session auth hashes and seals session records; required outside DEBUG',
  },
  {
    name: 'SECRET_KEY_FALLBACKS',
    kind: 'secret',
    default: null,
    meaning: 'comma-separated older keys still accepted, for rotation',
  },
  {
    name: 'TRUSTED_PROXY_SECRET',
    kind: 'secret',
    default: null,
    meaning: 'shared with a forward-auth proxy, whose X-Forwarded-For is then read',
  },
  {
    name: 'ASSERTION_KEYS',
    kind: 'secret',
    default: null,
    meaning: 'EC P-256 JWKs: the first (private) signs assertions, every one is published',
  },
  // The gateway's route table, multi-factor paths and CORS for browser apps.
  {
    name: 'ROUTES',
    kind: 'setting',
    default: null,
    meaning:
      'a JSON array of routes (path, methods, origin, access, groups, mfa); first match wins',
  },
  {
    name: 'MFA_PATHS',
    kind: 'setting',
    default: null,
    meaning: "comma-separated path globs that need a multi-factor sign-in ('mfa' in amr)",
  },
  {
    name: 'CORS_ALLOWED_ORIGINS',
    kind: 'setting',
    default: null,
    meaning: 'origins (scheme://host[:port]) whose pages may call the gateway with credentials',
  },
  // Multi-factor authentication: TOTP, recovery codes and passkeys.
  {
    name: 'WEBAUTHN_RP_ID',
    kind: 'setting',
    default: null,
    meaning: "the passkeys' relying party ID (a domain); none: the request's host name",
  },
  {
    name: 'WEBAUTHN_ORIGINS',
    kind: 'setting',
    default: null,
    meaning: "origins accepted in passkey ceremonies besides the request's own",
  },
  {
    name: 'MFA_FAILURE_LIMIT',
    kind: 'setting',
    default: '10',
    meaning: 'wrong second-factor answers per user in a failed-login window, from anywhere',
  },
  // Request rate limits (the USER_RATE_LIMITER and ANON_RATE_LIMITER bindings) and the session cache.
  {
    name: 'USER_RATE_LIMIT_PERIOD',
    kind: 'setting',
    default: '60',
    meaning: "USER_RATE_LIMITER's period (10 or 60), the N of its 429s; keep them equal",
  },
  {
    name: 'ANON_RATE_LIMIT_PERIOD',
    kind: 'setting',
    default: '60',
    meaning: "ANON_RATE_LIMITER's period (10 or 60), the N of its 429s; keep them equal",
  },
  {
    name: 'SESSION_CACHE_SECONDS',
    kind: 'setting',
    default: '0',
    meaning: 'seconds (at most 60) a signed copy of the session lets safe requests skip KV; 0: off',
  },
  // E-mail: password reset, e-mail verification and sign-up.
  {
    name: 'EMAIL_BACKEND',
    kind: 'setting',
    default: null,
    meaning:
      'cloudflare (the send_email binding EMAIL), http (EMAIL_HTTP_URL) or console; none: console in DEBUG, else no e-mail',
  },
  {
    name: 'EMAIL_HTTP_URL',
    kind: 'setting',
    default: null,
    meaning: 'with EMAIL_BACKEND=http: where each message is POSTed as JSON',
  },
  {
    name: 'EMAIL_FROM',
    kind: 'setting',
    default: 'webmaster@localhost',
    meaning: "the From address of every e-mail (Django's DEFAULT_FROM_EMAIL)",
  },
  {
    name: 'SITE_URL',
    kind: 'setting',
    default: null,
    meaning: "where links in e-mails start (scheme://host[:port]); none: the request's own origin",
  },
  {
    name: 'PASSWORD_RESET_TIMEOUT',
    kind: 'setting',
    default: '259200',
    meaning: 'seconds a password reset link works (three days, as Django)',
  },
  {
    name: 'EMAIL_VERIFICATION',
    kind: 'setting',
    default: 'none',
    meaning: "none, optional or mandatory (allauth's): mandatory refuses sign-in until verified",
  },
  {
    name: 'SIGNUP',
    kind: 'setting',
    default: 'closed',
    meaning: 'open: anyone may create an account at POST /auth/register; closed: 403',
  },
  {
    name: 'EMAIL_HTTP_TOKEN',
    kind: 'secret',
    default: null,
    meaning: 'with EMAIL_BACKEND=http: sent as Authorization: Bearer <token>',
  },
  // Single sign-on through OpenID Connect and GitHub.
  {
    name: 'SSO_PROVIDERS',
    kind: 'setting',
    default: null,
    meaning: 'a JSON array of identity providers (id, name, issuer or type github, client_id, ...)',
  },
] as const satisfies readonly Setting[]

/** Who may take a route: anyone, a signed-in user, or one with `is_staff` or `is_superuser`. */
export type RouteAccess = 'public' | 'authenticated' | 'staff' | 'superuser'

/**
 * One entry of the route table: ROUTES, or the table PUBLIC_PATHS and STAFF_PATHS make. The
 * gateway's policy (src/gateway/policy.ts) matches a request against the table, first match wins.
 */
export interface Route {
  /** A path glob (the syntax of PUBLIC_PATHS), starting with `/`. */
  path: string
  /** The methods it takes, upper-case, HEAD included with GET; null: every method. */
  methods: readonly string[] | null
  /** Where it is proxied: its own origin, else ORIGIN_URL; null: nowhere (404 at the proxy). */
  origin: URL | null
  /**
   * The `aud` of the assertions sent with it: ASSERTION_AUDIENCE, else its origin's
   * `scheme://host[:port]`, else ASSERTION_ISSUER. Each origin gets assertions made out to
   * itself, so one origin cannot replay what it received at another.
   */
  audience: string
  access: RouteAccess
  /** Group names, any one of which lets a user in; null: no group needed. */
  groups: readonly string[] | null
  /** Whether the session must have signed in with more than one factor (`mfa` in its amr). */
  mfa: boolean
}

/** The name of a setting or secret. */
export type SettingName = (typeof SETTINGS)[number]['name']

/** The name of a setting that has a default, so always has a value. */
type DefaultedName = Extract<(typeof SETTINGS)[number], { default: string }>['name']

const DEFAULTS: ReadonlyMap<SettingName, string | null> = new Map(
  SETTINGS.map((setting) => [setting.name, setting.default]),
)

/**
 * The settings, parsed. Each field is the setting named in its comment; SETTINGS holds their
 * meanings and defaults.
 */
export interface Config {
  /** DEBUG. */
  debug: boolean
  /** SECRET_KEY; a random one for this isolate in DEBUG when unset. */
  secretKey: string
  /** SECRET_KEY_FALLBACKS. */
  secretKeyFallbacks: string[]
  /** ORIGIN_URL; null when unset. */
  originUrl: URL | null
  /** ORIGIN_TIMEOUT_MS. */
  originTimeoutMs: number
  /** PUBLIC_PATHS, each starting with `/`. */
  publicPaths: string[]
  /** STAFF_PATHS, each starting with `/`. */
  staffPaths: string[]
  /** CSRF_TRUSTED_ORIGINS, lower-cased, without a trailing `/`. */
  csrfTrustedOrigins: string[]
  /** CSRF_COOKIE_NAME. */
  csrfCookieName: string
  /** SESSION_COOKIE_NAME. */
  sessionCookieName: string
  /** SESSION_COOKIE_AGE in seconds. */
  sessionCookieAge: number
  /** SESSION_COOKIE_DOMAIN; null for a host-only cookie. */
  sessionCookieDomain: string | null
  /** SESSION_EXPIRE_AT_BROWSER_CLOSE. */
  sessionExpireAtBrowserClose: boolean
  /** LOGIN_FAILURE_LIMIT. */
  loginFailureLimit: number
  /** LOGIN_FAILURE_IP_LIMIT. */
  loginFailureIpLimit: number
  /** LOGIN_FAILURE_WINDOW in seconds. */
  loginFailureWindow: number
  /**
   * ASSERTION_KEYS: EC P-256 JWKs, each with a distinct `kid`. The first is private and signs;
   * the others may be public JWKs of retired keys, only published in the JWKS, so a rotation does
   * not need the old private key.
   */
  assertionKeys: JsonWebKey[]
  /** ASSERTION_ISSUER. */
  assertionIssuer: string
  /** ASSERTION_AUDIENCE, else ORIGIN_URL's origin; null when neither is set. */
  assertionAudience: string | null
  /** ALLOWED_HOSTS; empty: any host. */
  allowedHosts: string[]
  /** TRUSTED_PROXY_SECRET; null when unset. */
  trustedProxySecret: string | null
  /** SECURE_PROXY_SSL_HEADER; null when unset: only the URL's scheme says https. */
  secureProxySslHeader: string | null
  /** USE_X_FORWARDED_HOST. */
  useXForwardedHost: boolean
  /** AUDIT_RETENTION_DAYS. */
  auditRetentionDays: number
  /**
   * ROUTES; without it, the table PUBLIC_PATHS and STAFF_PATHS make: the staff globs, then the
   * public ones, then `/**` for any signed-in user (so staff wins over public, as it always has).
   */
  routes: Route[]
  /** MFA_PATHS, each starting with `/`; always empty with ROUTES (its routes say `mfa`). */
  mfaPaths: string[]
  /** CORS_ALLOWED_ORIGINS, as `scheme://host[:port]`, lower-cased. */
  corsAllowedOrigins: string[]
  /** WEBAUTHN_RP_ID, lower-cased; null: the request's host name. */
  webauthnRpId: string | null
  /** WEBAUTHN_ORIGINS, lower-cased, without a trailing `/`. */
  webauthnOrigins: string[]
  /** MFA_FAILURE_LIMIT. */
  mfaFailureLimit: number
  /** USER_RATE_LIMIT_PERIOD in seconds: 10 or 60. */
  userRateLimitPeriod: number
  /** ANON_RATE_LIMIT_PERIOD in seconds: 10 or 60. */
  anonRateLimitPeriod: number
  /** SESSION_CACHE_SECONDS: 0 (off) to 60. */
  sessionCacheSeconds: number
  /** EMAIL_BACKEND; without it, `console` in DEBUG, else null: nothing can be sent. */
  emailBackend: EmailBackend | null
  /** EMAIL_HTTP_URL; set whenever the backend is `http`. */
  emailHttpUrl: URL | null
  /** EMAIL_HTTP_TOKEN; null when unset. */
  emailHttpToken: string | null
  /** EMAIL_FROM. */
  emailFrom: string
  /** SITE_URL, as `scheme://host[:port]`; null: the request's own origin. */
  siteUrl: string | null
  /** PASSWORD_RESET_TIMEOUT in seconds. */
  passwordResetTimeout: number
  /** EMAIL_VERIFICATION. */
  emailVerification: EmailVerification
  /** SIGNUP is `open`. */
  signupOpen: boolean
  /** SSO_PROVIDERS, each with its SSO_CLIENT_SECRET_<ID>. */
  ssoProviders: SsoProvider[]
}

/** One identity provider of SSO_PROVIDERS. */
export interface SsoProvider {
  /** URL-safe: the paths `/auth/sso/{id}/...` and the secret `SSO_CLIENT_SECRET_<ID>`. */
  id: string
  /** The sign-in button's text. */
  name: string
  /** `oidc`: OpenID Connect, configured by discovery from `issuer`; `github`: GitHub OAuth 2.0. */
  kind: 'oidc' | 'github'
  /** The OpenID issuer; for GitHub, its web origin (github.com, or a GitHub Enterprise Server). */
  issuer: URL
  /** GitHub's REST API (api.github.com, or `<server>/api/v3`); null for OpenID Connect. */
  apiUrl: URL | null
  clientId: string
  /** SSO_CLIENT_SECRET_<ID>; null for a public client (PKCE only). */
  clientSecret: string | null
  scopes: string[]
  /** E-mail domains, lower-case, that may sign in; empty: any. */
  allowedDomains: string[]
  signup: boolean
  linkByEmail: boolean
  /** The claim whose values become the user's groups at each sign-in; null: groups untouched. */
  groupsClaim: string | null
}

/** How e-mail leaves: Cloudflare's send_email binding, a JSON POST to a relay, or the log. */
export type EmailBackend = 'cloudflare' | 'http' | 'console'

/** allauth's ACCOUNT_EMAIL_VERIFICATION. */
export type EmailVerification = 'none' | 'optional' | 'mandatory'

/** Django's own check (security.W009): 50+ characters, 5+ distinct, not a generated dev key. */
const MIN_SECRET_LENGTH = 50
const MIN_SECRET_UNIQUE = 5
/** RFC 6265 cookie-name token characters. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * A setting's text: the environment's value, or the default from SETTINGS when it is unset or
 * blank (as Django reads an empty environment value for most settings); undefined when neither.
 */
function read(env: Env, name: SettingName): string | undefined {
  const raw = env[name]
  if (raw !== undefined && String(raw).trim() !== '') return String(raw)
  return DEFAULTS.get(name) ?? undefined
}

/** A setting with a default: its text, never undefined. */
function withDefault(env: Env, name: DefaultedName): string {
  return read(env, name) as string
}

function bool(env: Env, name: DefaultedName): boolean {
  const raw = withDefault(env, name)
  const value = raw.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off'].includes(value)) return false
  throw new ImproperlyConfigured(name, `must be true or false, not "${raw}".`)
}

function integer(env: Env, name: DefaultedName, min: number): number {
  const raw = withDefault(env, name)
  const digits = raw.trim()
  const value = Number(digits)
  if (!/^\d+$/.test(digits) || !Number.isSafeInteger(value) || value < min) {
    throw new ImproperlyConfigured(name, `must be a whole number of at least ${min}, not "${raw}".`)
  }
  return value
}

/**
 * A rate limiter's period: Workers Rate Limiting takes only 10 or 60 seconds, and the binding
 * does not tell its own, so the setting repeats it for the 429's wait.
 */
function ratePeriod(env: Env, name: DefaultedName): number {
  const raw = withDefault(env, name).trim()
  if (raw !== '10' && raw !== '60') {
    throw new ImproperlyConfigured(name, `must be 10 or 60 (the binding's period), not "${raw}".`)
  }
  return Number(raw)
}

/** SESSION_CACHE_SECONDS: at most KV's own 60 s window, so a copy never lags more than KV may. */
function sessionCacheSeconds(env: Env): number {
  const seconds = integer(env, 'SESSION_CACHE_SECONDS', 0)
  if (seconds > MAX_SESSION_CACHE_SECONDS) {
    throw new ImproperlyConfigured(
      'SESSION_CACHE_SECONDS',
      `must be at most ${MAX_SESSION_CACHE_SECONDS}, not "${seconds}".`,
    )
  }
  return seconds
}

function text(env: Env, name: SettingName): string | null {
  return read(env, name)?.trim() || null
}

function list(env: Env, name: SettingName): string[] {
  return (read(env, name) ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}

function cookieName(env: Env, name: DefaultedName): string {
  const value = withDefault(env, name).trim()
  if (!COOKIE_NAME.test(value)) {
    throw new ImproperlyConfigured(name, `must be a valid cookie name, not "${value}".`)
  }
  return value
}

function weakness(key: string): string | null {
  if (key.startsWith('django-insecure-')) return 'is a generated development key.'
  if (key.length < MIN_SECRET_LENGTH) return `must be at least ${MIN_SECRET_LENGTH} characters.`
  if (new Set(key).size < MIN_SECRET_UNIQUE) {
    return `must have at least ${MIN_SECRET_UNIQUE} distinct characters.`
  }
  return null
}

function secretKey(env: Env, debug: boolean): string {
  const key = env.SECRET_KEY ?? ''
  if (key === '') {
    if (!debug) throw new ImproperlyConfigured('SECRET_KEY', 'is not set.')
    // DEBUG only: a per-isolate key, so a missing .dev.vars still runs (sessions end on reload).
    console.warn('SECRET_KEY is not set; using a random key for this DEBUG process.')
    return randomString(ALPHANUMERIC, 64)
  }
  const problem = weakness(key)
  if (problem && !debug) throw new ImproperlyConfigured('SECRET_KEY', problem)
  return key
}

function originUrl(env: Env): URL | null {
  const raw = text(env, 'ORIGIN_URL')
  if (raw === null) return null
  const url = parseUrl(raw)
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ImproperlyConfigured('ORIGIN_URL', `must be an http(s) URL, not "${raw}".`)
  }
  return url
}

function pathGlobs(env: Env, name: SettingName): string[] {
  const globs = list(env, name)
  for (const glob of globs) {
    if (!glob.startsWith('/')) {
      throw new ImproperlyConfigured(name, `entries must start with "/", not "${glob}".`)
    }
  }
  return globs
}

function trustedOrigins(env: Env): string[] {
  const origins = list(env, 'CSRF_TRUSTED_ORIGINS')
  for (const origin of origins) {
    // Django 4.0+ requires the scheme; a leading "*." wildcard matches subdomains.
    const url = parseUrl(origin.replace('://*.', '://wildcard.'))
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.pathname !== '/') {
      throw new ImproperlyConfigured(
        'CSRF_TRUSTED_ORIGINS',
        `entries must be scheme://host[:port], not "${origin}".`,
      )
    }
  }
  return origins.map((origin) => origin.toLowerCase().replace(/\/$/, ''))
}

/**
 * ASSERTION_KEYS: a JWK or an array of them, all EC P-256 with a distinct `kid`. The first signs,
 * so it must be private (`d`); the others may be public, kept only for the JWKS, so that origins
 * still verify assertions signed before a rotation without anyone keeping the old private key.
 */
function assertionKeys(env: Env): JsonWebKey[] {
  const raw = text(env, 'ASSERTION_KEYS')
  if (raw === null) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw new ImproperlyConfigured('ASSERTION_KEYS', 'must be a JSON JWK or array of them.')
  }
  const keys: unknown[] = Array.isArray(parsed) ? parsed : [parsed]
  const kids = new Set<string>()
  keys.forEach((key, index) => {
    const jwk = key as (JsonWebKey & { kid?: unknown }) | null
    if (
      jwk?.kty !== 'EC' ||
      jwk.crv !== 'P-256' ||
      // The public coordinates are published in the JWKS.
      typeof jwk.x !== 'string' ||
      typeof jwk.y !== 'string' ||
      (jwk.d !== undefined && typeof jwk.d !== 'string')
    ) {
      throw new ImproperlyConfigured('ASSERTION_KEYS', 'entries must be EC P-256 JWKs.')
    }
    if (index === 0 && jwk.d === undefined) {
      throw new ImproperlyConfigured(
        'ASSERTION_KEYS',
        'must start with a private JWK (with "d"): the first entry signs.',
      )
    }
    if (typeof jwk.kid !== 'string' || jwk.kid === '') {
      throw new ImproperlyConfigured('ASSERTION_KEYS', 'entries must each have a "kid".')
    }
    // An origin picks the key by `kid`: two keys under one would make it guess.
    if (kids.has(jwk.kid)) {
      throw new ImproperlyConfigured('ASSERTION_KEYS', `has the kid "${jwk.kid}" twice.`)
    }
    kids.add(jwk.kid)
  })
  return keys as JsonWebKey[]
}

function allowedHosts(env: Env): string[] {
  const hosts = list(env, 'ALLOWED_HOSTS')
  for (const host of hosts) {
    if (host !== '*' && !/^\.?[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/i.test(host)) {
      throw new ImproperlyConfigured(
        'ALLOWED_HOSTS',
        `entries must be host names, ".domain" or "*", not "${host}".`,
      )
    }
  }
  return hosts
}

/** Long enough that it cannot be guessed: 32 characters of a 62-letter alphabet = 190 bits. */
const MIN_PROXY_SECRET_LENGTH = 32

function trustedProxySecret(env: Env): string | null {
  const secret = env.TRUSTED_PROXY_SECRET ?? ''
  if (secret === '') return null
  if (secret.length < MIN_PROXY_SECRET_LENGTH) {
    throw new ImproperlyConfigured(
      'TRUSTED_PROXY_SECRET',
      `must be at least ${MIN_PROXY_SECRET_LENGTH} characters.`,
    )
  }
  return secret
}

/** RFC 9110 field-name characters. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function headerName(env: Env, name: SettingName): string | null {
  const value = text(env, name)
  if (value === null) return null
  if (!HEADER_NAME.test(value)) {
    throw new ImproperlyConfigured(
      name,
      `must be a header name such as X-Forwarded-Proto, not "${value}".`,
    )
  }
  return value
}

/** The access levels of a route, as ROUTES spells them. */
const ROUTE_ACCESS: readonly RouteAccess[] = ['public', 'authenticated', 'staff', 'superuser']
/** The fields a ROUTES entry may have: anything else is a typo that would silently do nothing. */
const ROUTE_FIELDS = new Set(['path', 'methods', 'origin', 'access', 'groups', 'mfa'])
/** RFC 9110 method tokens. */
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** Django's Group.name: at most 150 characters. */
const GROUP_NAME_MAX_LENGTH = 150

/** What the route table is built from, besides ROUTES itself. */
interface RouteDefaults {
  origin: URL | null
  /** ASSERTION_AUDIENCE, when set. */
  audience: string | null
  issuer: string
}

function audienceFor(origin: URL | null, defaults: RouteDefaults): string {
  return defaults.audience ?? origin?.origin ?? defaults.issuer
}

/**
 * The table PUBLIC_PATHS and STAFF_PATHS stand for: staff globs first, so they win over public
 * ones whatever the order they are written in, then the public globs, then every other path for
 * any signed-in user.
 */
function pathRoutes(publicPaths: string[], staffPaths: string[], defaults: RouteDefaults): Route[] {
  const route = (path: string, access: RouteAccess): Route => ({
    path,
    methods: null,
    origin: defaults.origin,
    audience: audienceFor(defaults.origin, defaults),
    access,
    groups: null,
    mfa: false,
  })
  return [
    ...staffPaths.map((path) => route(path, 'staff')),
    ...publicPaths.map((path) => route(path, 'public')),
    route('/**', 'authenticated'),
  ]
}

/** One ROUTES entry, read; throws `ImproperlyConfigured('ROUTES', ...)` naming the entry. */
function readRoute(entry: unknown, position: number, defaults: RouteDefaults): Route {
  const fail = (problem: string): never => {
    throw new ImproperlyConfigured('ROUTES', `entry ${position}: ${problem}`)
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return fail('must be an object with a "path".')
  }
  const fields = entry as Record<string, unknown>
  for (const field of Object.keys(fields)) {
    if (!ROUTE_FIELDS.has(field)) fail(`has an unknown field "${field}".`)
  }
  const { path, methods, origin, access = 'authenticated', groups, mfa = false } = fields
  if (typeof path !== 'string' || !path.startsWith('/')) {
    fail('"path" must be a glob starting with "/".')
  }
  if (!ROUTE_ACCESS.includes(access as RouteAccess)) {
    fail(
      `"access" must be public, authenticated, staff or superuser, not ${JSON.stringify(access)}.`,
    )
  }
  if (typeof mfa !== 'boolean') fail('"mfa" must be true or false.')
  const route: Route = {
    path: path as string,
    methods: methods === undefined ? null : routeMethods(methods, fail),
    origin: defaults.origin,
    audience: '',
    access: access as RouteAccess,
    groups: groups === undefined ? null : routeGroups(groups, fail),
    mfa: mfa as boolean,
  }
  if (origin !== undefined) {
    const url = typeof origin === 'string' ? parseUrl(origin.trim()) : null
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      fail(`"origin" must be an http(s) URL, not ${JSON.stringify(origin)}.`)
    }
    route.origin = url
  }
  route.audience = audienceFor(route.origin, defaults)
  // Groups and a second factor belong to a user: on a public route they could never be checked.
  if (route.access === 'public' && (route.groups !== null || route.mfa)) {
    fail('a public route cannot need "groups" or "mfa".')
  }
  return route
}

function routeMethods(methods: unknown, fail: (problem: string) => never): string[] {
  if (!Array.isArray(methods) || methods.length === 0) {
    return fail('"methods" must be a non-empty array of methods.')
  }
  const upper = new Set<string>()
  for (const method of methods) {
    if (typeof method !== 'string' || !METHOD.test(method)) {
      fail(`"methods" holds ${JSON.stringify(method)}, which is not a method.`)
    }
    const name = (method as string).toUpperCase()
    if (name === 'TRACE' || name === 'TRACK') fail(`${name} is never proxied.`)
    upper.add(name)
  }
  // HEAD is a GET without the body, as everywhere else in the gateway.
  if (upper.has('GET')) upper.add('HEAD')
  return [...upper]
}

function routeGroups(groups: unknown, fail: (problem: string) => never): string[] {
  if (!Array.isArray(groups) || groups.length === 0) {
    return fail('"groups" must be a non-empty array of group names.')
  }
  for (const group of groups) {
    if (
      typeof group !== 'string' ||
      group.trim() !== group ||
      group === '' ||
      group.length > GROUP_NAME_MAX_LENGTH
    ) {
      fail(`"groups" holds ${JSON.stringify(group)}, which is not a group name.`)
    }
  }
  return groups as string[]
}

/**
 * The route table: ROUTES when set, else the one PUBLIC_PATHS and STAFF_PATHS make. ROUTES
 * replaces those settings, and MFA_PATHS, so setting both is an error rather than a guess at
 * which should win.
 */
function routes(
  env: Env,
  paths: { public: string[]; staff: string[]; mfa: string[] },
  defaults: RouteDefaults,
): Route[] {
  const raw = text(env, 'ROUTES')
  if (raw === null) return pathRoutes(paths.public, paths.staff, defaults)
  const alongside = (
    [
      ['PUBLIC_PATHS', paths.public],
      ['STAFF_PATHS', paths.staff],
      ['MFA_PATHS', paths.mfa],
    ] as const
  ).filter(([, globs]) => globs.length > 0)
  if (alongside.length > 0) {
    const names = alongside.map(([name]) => name).join(' and ')
    throw new ImproperlyConfigured(
      'ROUTES',
      `cannot be set together with ${names}: put those paths in the route table.`,
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw new ImproperlyConfigured('ROUTES', 'must be a JSON array of routes.')
  }
  if (!Array.isArray(parsed)) {
    throw new ImproperlyConfigured('ROUTES', 'must be a JSON array of routes.')
  }
  return parsed.map((entry, index) => readRoute(entry, index + 1, defaults))
}

/**
 * CORS_ALLOWED_ORIGINS, as django-cors-headers reads it: each `scheme://host[:port]`, without a
 * path; no wildcard and no `null` (a sandboxed page or a file: any site can send `Origin: null`).
 */
function corsAllowedOrigins(env: Env): string[] {
  return list(env, 'CORS_ALLOWED_ORIGINS').map((origin) => {
    const url = parseUrl(origin)
    // A browser sends one origin, matched exactly: a `*` is never a wildcard here.
    const bare = url !== null && /^[a-z][a-z0-9+.-]*:\/\/[^/?#*]+\/?$/i.test(origin)
    if (!url || !bare || !['http:', 'https:'].includes(url.protocol) || url.username !== '') {
      throw new ImproperlyConfigured(
        'CORS_ALLOWED_ORIGINS',
        `entries must be scheme://host[:port], not "${origin}".`,
      )
    }
    return url.origin.toLowerCase()
  })
}

/** A registrable domain name (no scheme, port or path), as WebAuthn takes an RP ID. */
const RP_ID =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/

function webauthnRpId(env: Env): string | null {
  const value = text(env, 'WEBAUTHN_RP_ID')?.toLowerCase() ?? null
  // Browsers refuse IP addresses as RP IDs.
  if (value !== null && (!RP_ID.test(value) || /^[\d.]+$/.test(value))) {
    throw new ImproperlyConfigured(
      'WEBAUTHN_RP_ID',
      `must be a domain name such as example.com, not "${value}".`,
    )
  }
  return value
}

function webauthnOrigins(env: Env): string[] {
  const origins = list(env, 'WEBAUTHN_ORIGINS')
  for (const origin of origins) {
    const url = parseUrl(origin)
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.pathname !== '/' || url.search) {
      throw new ImproperlyConfigured(
        'WEBAUTHN_ORIGINS',
        `entries must be scheme://host[:port], not "${origin}".`,
      )
    }
  }
  return origins.map((origin) => origin.toLowerCase().replace(/\/$/, ''))
}

/** A setting that takes one of a few words, lower-cased. */
function choice<T extends string>(env: Env, name: SettingName, choices: readonly T[]): T | null {
  const value = text(env, name)?.toLowerCase() ?? null
  if (value !== null && !choices.includes(value as T)) {
    throw new ImproperlyConfigured(name, `must be one of ${choices.join(', ')}, not "${value}".`)
  }
  return value as T | null
}

/** An http(s) URL setting, or null when unset. */
function httpUrl(env: Env, name: SettingName): URL | null {
  const raw = text(env, name)
  if (raw === null) return null
  const url = parseUrl(raw)
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ImproperlyConfigured(name, `must be an http(s) URL, not "${raw}".`)
  }
  return url
}

/** The fields an SSO_PROVIDERS entry may have: anything else is a typo that would do nothing. */
const SSO_FIELDS = new Set([
  'id',
  'name',
  'issuer',
  'type',
  'client_id',
  'scopes',
  'allowed_domains',
  'signup',
  'link_by_email',
  'groups_claim',
  'api_url',
])
const SSO_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/i
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * An issuer (or GitHub URL) of SSO_PROVIDERS: https, or http on a loopback host only (local
 * development and tests), since tokens and codes travel over it.
 */
function providerUrl(raw: unknown, field: string, fail: (problem: string) => never): URL {
  const url = typeof raw === 'string' ? parseUrl(raw.trim()) : null
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    return fail(`"${field}" must be an https URL, not ${JSON.stringify(raw)}.`)
  }
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    fail(`"${field}" must use https (http only for loopback hosts), not "${raw}".`)
  }
  return url
}

/** The e-mail settings: the backend and what it needs, checked together. */
function email(env: Env, debug: boolean) {
  const backend = choice<EmailBackend>(env, 'EMAIL_BACKEND', ['cloudflare', 'http', 'console'])
  const httpUrlValue = httpUrl(env, 'EMAIL_HTTP_URL')
  if (backend === 'http' && httpUrlValue === null) {
    throw new ImproperlyConfigured('EMAIL_HTTP_URL', 'must be set when EMAIL_BACKEND is http.')
  }
  if (backend === 'cloudflare' && !env.EMAIL) {
    throw new ImproperlyConfigured(
      'EMAIL_BACKEND',
      'is cloudflare, but the Worker has no send_email binding named EMAIL.',
    )
  }
  const from = withDefault(env, 'EMAIL_FROM').trim()
  // One address, no display name: it goes into a header (and Cloudflare checks it as is).
  if (!/^[^\s@<>,"]+@[^\s@<>,"]+$/.test(from)) {
    throw new ImproperlyConfigured('EMAIL_FROM', `must be an e-mail address, not "${from}".`)
  }
  const site = httpUrl(env, 'SITE_URL')
  if (site && (site.pathname !== '/' || site.search || site.hash || site.username)) {
    throw new ImproperlyConfigured(
      'SITE_URL',
      `must be scheme://host[:port] without a path, not "${text(env, 'SITE_URL')}".`,
    )
  }
  return {
    emailBackend: backend ?? (debug ? 'console' : null),
    emailHttpUrl: httpUrlValue,
    emailHttpToken: env.EMAIL_HTTP_TOKEN?.trim() || null,
    emailFrom: from,
    siteUrl: site?.origin ?? null,
    passwordResetTimeout: integer(env, 'PASSWORD_RESET_TIMEOUT', 1),
    emailVerification:
      choice<EmailVerification>(env, 'EMAIL_VERIFICATION', ['none', 'optional', 'mandatory']) ??
      'none',
    signupOpen: choice(env, 'SIGNUP', ['open', 'closed']) === 'open',
  }
}

function stringList(raw: unknown, field: string, fail: (problem: string) => never): string[] {
  if (raw === undefined) return []
  if (!Array.isArray(raw) || !raw.every((item) => typeof item === 'string' && item.trim())) {
    return fail(`"${field}" must be an array of strings.`)
  }
  return raw.map((item: string) => item.trim())
}

/** One SSO_PROVIDERS entry, read, with its secret; throws naming SSO_PROVIDERS and the entry. */
function readProvider(env: Env, entry: unknown, position: number): SsoProvider {
  const fail = (problem: string): never => {
    throw new ImproperlyConfigured('SSO_PROVIDERS', `entry ${position}: ${problem}`)
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return fail('must be an object with "id", "name" and "client_id".')
  }
  const fields = entry as Record<string, unknown>
  for (const field of Object.keys(fields)) {
    if (!SSO_FIELDS.has(field)) fail(`has an unknown field "${field}".`)
  }
  const { id, name, issuer, type, client_id: clientId, groups_claim: groupsClaim } = fields
  if (typeof id !== 'string' || !SSO_ID.test(id)) {
    fail(`"id" must be letters, digits, "-" and "_", not ${JSON.stringify(id)}.`)
  }
  if (typeof name !== 'string' || name.trim() === '') fail('"name" must be a non-empty string.')
  if (typeof clientId !== 'string' || clientId.trim() === '') {
    fail('"client_id" must be a non-empty string.')
  }
  if (type !== undefined && type !== 'github' && type !== 'oidc') {
    fail(`"type" must be "github" (or "oidc", with "issuer"), not ${JSON.stringify(type)}.`)
  }
  const github = type === 'github'
  if (!github && issuer === undefined)
    fail('needs an "issuer" (OpenID Connect) or "type": "github".')
  if (!github && fields.api_url !== undefined) fail('"api_url" is for "type": "github" only.')
  for (const flag of ['signup', 'link_by_email'] as const) {
    if (fields[flag] !== undefined && typeof fields[flag] !== 'boolean') {
      fail(`"${flag}" must be true or false.`)
    }
  }
  if (groupsClaim !== undefined && (typeof groupsClaim !== 'string' || groupsClaim === '')) {
    fail('"groups_claim" must be a claim name.')
  }
  const issuerUrl = providerUrl(issuer ?? 'https://github.com', 'issuer', fail)
  const apiUrl = github
    ? providerUrl(fields.api_url ?? 'https://api.github.com', 'api_url', fail)
    : null
  // Secrets are upper-case names: SSO_CLIENT_SECRET_<ID>, "-" read as "_".
  const secretName = `SSO_CLIENT_SECRET_${(id as string).toUpperCase().replaceAll('-', '_')}`
  const secret = env[secretName as `SSO_CLIENT_SECRET_${string}`]
  return {
    id: id as string,
    name: (name as string).trim(),
    kind: github ? 'github' : 'oidc',
    issuer: issuerUrl,
    apiUrl,
    clientId: (clientId as string).trim(),
    clientSecret: typeof secret === 'string' && secret !== '' ? secret : null,
    scopes: stringList(fields.scopes, 'scopes', fail),
    allowedDomains: stringList(fields.allowed_domains, 'allowed_domains', fail).map((domain) =>
      domain.toLowerCase().replace(/^@/, ''),
    ),
    signup: fields.signup === true,
    linkByEmail: fields.link_by_email === true,
    groupsClaim: (groupsClaim as string | undefined) ?? null,
  }
}

/** SSO_PROVIDERS: a JSON array of providers, each `id` once. */
function ssoProviders(env: Env): SsoProvider[] {
  const raw = text(env, 'SSO_PROVIDERS')
  if (raw === null) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw new ImproperlyConfigured('SSO_PROVIDERS', 'must be a JSON array of providers.')
  }
  if (!Array.isArray(parsed)) {
    throw new ImproperlyConfigured('SSO_PROVIDERS', 'must be a JSON array of providers.')
  }
  const providers = parsed.map((entry, index) => readProvider(env, entry, index + 1))
  const ids = new Set<string>()
  for (const provider of providers) {
    // Ids name paths and secrets, which are read without regard to case.
    const key = provider.id.toLowerCase().replaceAll('-', '_')
    if (ids.has(key)) {
      throw new ImproperlyConfigured('SSO_PROVIDERS', `has the id "${provider.id}" twice.`)
    }
    ids.add(key)
  }
  return providers
}

/**
 * Reads and validates every setting. Throws `ImproperlyConfigured` naming the first bad one.
 * Call once per isolate (the Worker caches the result with the app).
 */
export function loadConfig(env: Env): Config {
  const debug = bool(env, 'DEBUG')
  const sessionCookieName = cookieName(env, 'SESSION_COOKIE_NAME')
  const sessionCookieDomain = text(env, 'SESSION_COOKIE_DOMAIN')
  if (sessionCookieName.startsWith('__Host-') && sessionCookieDomain) {
    throw new ImproperlyConfigured(
      'SESSION_COOKIE_DOMAIN',
      'must be empty with a __Host- cookie name (RFC 6265bis).',
    )
  }
  const origin = originUrl(env)
  const issuer = withDefault(env, 'ASSERTION_ISSUER').trim()
  const audience = text(env, 'ASSERTION_AUDIENCE')
  const publicPaths = pathGlobs(env, 'PUBLIC_PATHS')
  const staffPaths = pathGlobs(env, 'STAFF_PATHS')
  const mfaPaths = pathGlobs(env, 'MFA_PATHS')
  return {
    debug,
    secretKey: secretKey(env, debug),
    secretKeyFallbacks: list(env, 'SECRET_KEY_FALLBACKS'),
    originUrl: origin,
    originTimeoutMs: integer(env, 'ORIGIN_TIMEOUT_MS', 1),
    publicPaths,
    staffPaths,
    csrfTrustedOrigins: trustedOrigins(env),
    csrfCookieName: cookieName(env, 'CSRF_COOKIE_NAME'),
    sessionCookieName,
    sessionCookieAge: integer(env, 'SESSION_COOKIE_AGE', 1),
    sessionCookieDomain,
    sessionExpireAtBrowserClose: bool(env, 'SESSION_EXPIRE_AT_BROWSER_CLOSE'),
    loginFailureLimit: integer(env, 'LOGIN_FAILURE_LIMIT', 1),
    loginFailureIpLimit: integer(env, 'LOGIN_FAILURE_IP_LIMIT', 1),
    loginFailureWindow: integer(env, 'LOGIN_FAILURE_WINDOW', 1),
    assertionKeys: assertionKeys(env),
    assertionIssuer: issuer,
    assertionAudience: audience ?? origin?.origin ?? null,
    allowedHosts: allowedHosts(env),
    trustedProxySecret: trustedProxySecret(env),
    secureProxySslHeader: headerName(env, 'SECURE_PROXY_SSL_HEADER'),
    useXForwardedHost: bool(env, 'USE_X_FORWARDED_HOST'),
    auditRetentionDays: integer(env, 'AUDIT_RETENTION_DAYS', 1),
    routes: routes(
      env,
      { public: publicPaths, staff: staffPaths, mfa: mfaPaths },
      { origin, audience, issuer },
    ),
    mfaPaths,
    corsAllowedOrigins: corsAllowedOrigins(env),
    webauthnRpId: webauthnRpId(env),
    webauthnOrigins: webauthnOrigins(env),
    mfaFailureLimit: integer(env, 'MFA_FAILURE_LIMIT', 1),
    userRateLimitPeriod: ratePeriod(env, 'USER_RATE_LIMIT_PERIOD'),
    anonRateLimitPeriod: ratePeriod(env, 'ANON_RATE_LIMIT_PERIOD'),
    sessionCacheSeconds: sessionCacheSeconds(env),
    ...email(env, debug),
    ssoProviders: ssoProviders(env),
  }
}
