/**
 * One path, many spellings: the policy holds for every reading an origin could make of a path
 * (src/gateway/paths.ts), with PUBLIC_PATHS and STAFF_PATHS and with a route table over two
 * origins, through the real app and the real test origins. Property runs are bounded (200
 * requests each); a failure prints the seed and path that replay it.
 */
import { env } from 'cloudflare:workers'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config'
import type { Env } from '../../src/env'
import { compilePolicy, type Decision } from '../../src/gateway'
import { Client } from '../helpers'
import { type Echo, gatewayApp, loggedIn, secondOriginUrl } from './helpers'

const STAFF_PATHS = '/admin/**,/keys/**'
const PUBLIC_PATHS = '/static/**'

/** The UTF-8 escapes of `text`: `é` is `%C3%A9`. */
function escapes(text: string): string {
  return [...new TextEncoder().encode(text)]
    .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
    .join('')
}

/** Letters NFKC or case folding turns into ASCII: the long s and the Kelvin sign. */
const LOOKALIKES: Record<string, string> = { s: '\u017f', k: '\u212a', K: '\u212a' }

/** How one character is spelled: mostly as it is, so a spelling combines a few tricks. */
const characterSpelling = fc.oneof(
  { arbitrary: fc.constant('same'), weight: 12 },
  { arbitrary: fc.constant('flip case'), weight: 4 },
  { arbitrary: fc.constant('escape'), weight: 2 },
  { arbitrary: fc.constant('escape twice'), weight: 1 },
  { arbitrary: fc.constant('fullwidth'), weight: 1 },
  { arbitrary: fc.constant('fullwidth escaped'), weight: 1 },
  { arbitrary: fc.constant('lookalike'), weight: 2 },
)

function spellCharacter(char: string, how: string): string {
  const fullwidth = String.fromCodePoint((char.codePointAt(0) as number) + 0xfee0)
  switch (how) {
    case 'flip case':
      return char === char.toLowerCase() ? char.toUpperCase() : char.toLowerCase()
    case 'escape':
      return escapes(char)
    case 'escape twice':
      return escapes(char).replaceAll('%', '%25')
    case 'fullwidth':
      return fullwidth
    case 'fullwidth escaped':
      return escapes(fullwidth)
    case 'lookalike':
      return LOOKALIKES[char] ?? char
    default:
      return char
  }
}

/** What may follow a segment without changing what some origin reads. */
const segmentSuffix = fc.constantFrom('', '', '', ';x=y', ';', '.', '..', '%20', '.%20', '%2e')

/** What may stand for the `/` before a segment: each is a `/` to some origin. */
const LEADING = ['/', '/', '/', '//', '/./', '/x/../', '/x;/..;/', '/x/%2e%2e/', '/%2e/']
const separator = fc.constantFrom(
  ...LEADING,
  '/x/%E2%80%A5/',
  '/%EF%BC%8E/',
  '%2F',
  '%2f',
  '\\',
  '%5C',
)

/**
 * Spellings of `/` + `segments` joined by `/` that some origin reads as exactly that; the first
 * separator is one of `leading`.
 */
function spellings(segments: readonly string[], leading = LEADING): fc.Arbitrary<string> {
  const segment = (text: string) =>
    fc
      .tuple(
        fc.array(characterSpelling, { minLength: text.length, maxLength: text.length }),
        segmentSuffix,
      )
      .map(([hows, suffix]) => {
        const spelled = [...text].map((char, i) => spellCharacter(char, hows[i] ?? 'same'))
        return spelled.join('') + suffix
      })
  const [first = '', ...rest] = segments
  // The first separator starts with `/`: the path follows the host in the request URL.
  return fc
    .tuple(
      fc.tuple(fc.constantFrom(...leading), segment(first)),
      ...rest.map((text) => fc.tuple(separator, segment(text))),
    )
    .map((parts) => parts.map(([before, text]) => before + text).join(''))
}

/** Spellings of the staff paths. */
const adminSpelling = spellings(['admin', 'users'])
const keysSpelling = spellings(['keys', 'secret'])
const staffSpelling = fc.oneof(adminSpelling, keysSpelling)

/** Ways to step out of `/static/` with a dot-dot segment. */
const dotDot = fc.constantFrom(
  '..',
  '..;',
  '..;x=y',
  '%2e%2e',
  '.%2E',
  '%2E.',
  '%EF%BC%8E%EF%BC%8E',
  '%E2%80%A5',
  '..%00',
  '%252e%252e',
  '%C0%AE%C0%AE',
)

/**
 * Spellings of `/static/<step out>/<a protected path>`. (The protected path starts with a plain
 * `/`: a `/x/../` there would cancel the step out, in the URL parser already.)
 */
const escapeFromPublic = fc
  .tuple(
    dotDot,
    fc.constantFrom('/', '%2F', '%5C', '\\', ';/', '//'),
    fc.oneof(
      spellings(['admin', 'users'], ['/']),
      spellings(['keys', 'secret'], ['/']),
      spellings(['api', 'secret'], ['/']),
    ),
  )
  .map(([up, slash, target]) => `/static/${up}${slash}${target.slice(1)}`)

/** The policy the Worker compiles from these settings. */
function policyOf(settings: Partial<Env>) {
  const config = loadConfig({ ...env, ...settings } as Env)
  return compilePolicy({ routes: config.routes, mfaPaths: config.mfaPaths })
}

/** A decision in short: `public`, `user`, `staff`, or why there is no route. */
function level(decision: Decision): string {
  if (decision.kind !== 'route') return decision.kind
  if (decision.requirement.staff) return 'staff'
  return decision.requirement.login ? 'user' : 'public'
}

describe('the policy over generated spellings (pure)', () => {
  const policy = policyOf({ PUBLIC_PATHS, STAFF_PATHS })

  it('reads every spelling of a staff path as staff, or refuses it', () => {
    fc.assert(
      fc.property(staffSpelling, (path) => {
        expect(['unreadable', 'staff']).toContain(level(policy.decide(path, 'GET')))
      }),
      { numRuns: 2000 },
    )
  })

  it('never reads a way out of a public prefix as public', () => {
    fc.assert(
      fc.property(escapeFromPublic, (path) => {
        expect(['unreadable', 'user', 'staff']).toContain(level(policy.decide(path, 'GET')))
      }),
      { numRuns: 2000 },
    )
  })
})

describe('the policy over generated spellings (through the app)', () => {
  it('never lets a non-staff user reach the origin on a spelling of a staff path (400 or 403)', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS, PUBLIC_PATHS })
    const { client } = await loggedIn(fetcher)
    await fc.assert(
      fc.asyncProperty(staffSpelling, async (path) => {
        const response = await client.get(path)
        await response.body?.cancel()
        expect([400, 403], path).toContain(response.status)
      }),
      { numRuns: 200 },
    )
  })

  it('never lets an anonymous visitor out of a public prefix (400 or 401)', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS, PUBLIC_PATHS })
    const client = new Client(fetcher)
    await fc.assert(
      fc.asyncProperty(fc.oneof(escapeFromPublic, staffSpelling), async (path) => {
        const response = await client.get(path, { headers: { Accept: 'application/json' } })
        await response.body?.cancel()
        expect([400, 401], path).toContain(response.status)
      }),
      { numRuns: 200 },
    )
  })
})

/**
 * A route table like the one above, with the admin on another origin and groups, the keys for
 * superusers with a second factor, and every other path for any signed-in user.
 */
function routeTable(): string {
  return JSON.stringify([
    { path: '/static/**', access: 'public' },
    { path: '/admin/**', access: 'staff', groups: ['ops'], origin: secondOriginUrl() },
    { path: '/keys/**', access: 'superuser', mfa: true },
    { path: '/**' },
  ])
}

describe('a route table over generated spellings (pure)', () => {
  const policy = () => policyOf({ ROUTES: routeTable() })

  it('sends every spelling of the admin to its route and origin, or refuses it', () => {
    const compiled = policy()
    fc.assert(
      fc.property(adminSpelling, (path) => {
        const decision = compiled.decide(path, 'GET')
        if (decision.kind === 'unreadable') return
        expect(decision.kind, path).toBe('route')
        if (decision.kind !== 'route') return
        expect(decision.requirement, path).toMatchObject({ staff: true, groups: [['ops']] })
        expect(decision.origin?.origin, path).toBe(secondOriginUrl())
      }),
      { numRuns: 2000 },
    )
  })

  it('needs a superuser with a second factor on every spelling of the keys, or refuses it', () => {
    const compiled = policy()
    fc.assert(
      fc.property(keysSpelling, (path) => {
        const decision = compiled.decide(path, 'GET')
        if (decision.kind === 'unreadable') return
        expect(decision.kind, path).toBe('route')
        if (decision.kind !== 'route') return
        expect(decision.requirement, path).toMatchObject({ superuser: true, mfa: true })
      }),
      { numRuns: 2000 },
    )
  })

  it('never reads a way out of the table’s public prefix as public', () => {
    const compiled = policy()
    fc.assert(
      fc.property(escapeFromPublic, (path) => {
        const decision = compiled.decide(path, 'GET')
        expect(decision.kind !== 'route' || decision.requirement.login, path).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('a route table over generated spellings (through the app)', () => {
  it('never lets a user without the flags reach an origin on a protected spelling (400 or 403)', async () => {
    const { fetcher } = await gatewayApp({ ROUTES: routeTable() })
    const { client } = await loggedIn(fetcher)
    await fc.assert(
      fc.asyncProperty(staffSpelling, async (path) => {
        const response = await client.get(path)
        await response.body?.cancel()
        expect([400, 403], path).toContain(response.status)
      }),
      { numRuns: 200 },
    )
  })

  it('never lets an anonymous visitor out of the table’s public prefix (400 or 401)', async () => {
    const { fetcher } = await gatewayApp({ ROUTES: routeTable() })
    const client = new Client(fetcher)
    await fc.assert(
      fc.asyncProperty(fc.oneof(escapeFromPublic, staffSpelling), async (path) => {
        const response = await client.get(path, { headers: { Accept: 'application/json' } })
        await response.body?.cancel()
        expect([400, 401], path).toContain(response.status)
      }),
      { numRuns: 200 },
    )
  })
})

async function detail(response: Response): Promise<string> {
  return ((await response.json()) as { detail: string }).detail
}

describe('each kind of spelling through the app', () => {
  it.each([
    ['/admin;jsessionid=x/users', 'path parameters'],
    ['/static/..;/admin/users', '`..;`'],
    ['/ADMIN/users', 'upper case'],
    ['/Admin/users', 'mixed case'],
    ['/admin./users', 'a trailing dot'],
    ['/admin%20/users', 'a trailing space'],
    ['/admin.%20/users', 'trailing dots and spaces'],
    ['/ａｄｍｉｎ/users', 'fullwidth letters'],
    ['/%EF%BD%81dmin/users', 'an escaped fullwidth letter'],
    ['/key%C5%BF/secret', 'the long s'],
    ['/\u212Aeys/secret', 'the Kelvin sign'],
    ['/static/..%5Cadmin/users', 'an escaped backslash'],
    ['/static/..%2Fadmin/users', 'an escaped slash'],
    ['/static/%E2%80%A5/admin/users', 'a two-dot leader'],
  ])('answers 403 to a non-staff user on %s (%s)', async (path) => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS, PUBLIC_PATHS })
    const { client } = await loggedIn(fetcher)
    const response = await client.get(path)
    expect(response.status).toBe(403)
    expect(await detail(response)).toBe('You do not have permission to perform this action.')
  })

  it.each([
    ['/%2561dmin/users', 'double encoding'],
    ['/admin%00/users', 'an escaped NUL'],
    ['/admin%0d%0a/users', 'escaped CR LF'],
    ['/admin%C2%85/users', 'an escaped C1 control'],
    ['/static/%C0%AE%C0%AE/admin', 'overlong UTF-8'],
    ['/caf%E9', 'Latin-1'],
    ['/admin%zz', 'a malformed escape'],
    ['/%u0061dmin', "IIS's %u"],
    ['/admin/.../users', 'a dots-only segment'],
  ])('answers 400 "Bad request path." to %s (%s), before the origin', async (path) => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS, PUBLIC_PATHS: '/**' })
    const response = await new Client(fetcher).get(path)
    expect(response.status).toBe(400)
    expect(response.headers.get('X-Origin')).toBeNull()
    expect(await detail(response)).toBe('Bad request path.')
  })

  it('proxies ordinary paths unchanged (200)', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS, PUBLIC_PATHS })
    const { client } = await loggedIn(fetcher)
    for (const path of ['/api/items/42', '/a%20b', '/caf%C3%A9', '/files/report.pdf', '/a%2Fb']) {
      const response = await client.get(path)
      expect(response.status, path).toBe(200)
      expect(((await response.json()) as Echo).url).toBe(path)
    }
  })

  it('proxies readable spellings of a staff path to a staff user (200)', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS, PUBLIC_PATHS })
    const { client } = await loggedIn(fetcher, { is_staff: true })
    for (const path of ['/admin;jsessionid=x/users', '/ADMIN/users', '/static/..;/admin']) {
      const response = await client.get(path)
      expect(response.status, path).toBe(200)
      expect(((await response.json()) as Echo).url).toBe(path)
    }
  })

  it('answers 401 to an anonymous visitor on a public prefix with `..;` (not public)', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS, PUBLIC_PATHS })
    const response = await new Client(fetcher).get('/static/..;/api/secret', {
      headers: { Accept: 'application/json' },
    })
    expect(response.status).toBe(401)
  })
})
