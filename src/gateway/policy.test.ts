import { describe, expect, it } from 'vitest'
import { loadConfig, type Route } from '../config'
import type { Env } from '../env'
import {
  accessFor,
  compileGlob,
  compilePolicy,
  type Decision,
  isBrowserNavigation,
  originalPath,
  PUBLIC,
  type Requirement,
  SIGNED_IN,
} from './policy'

const matches = (glob: string, path: string) => compileGlob(glob).test(path)

/** The route table settings make, as the Worker reads them. */
function tableOf(settings: Partial<Env>): Route[] {
  const env = { SECRET_KEY: `${'k'.repeat(40)}abcdefghijklmnop`, ...settings } as Env
  return loadConfig(env).routes
}

/** The policy of PUBLIC_PATHS and STAFF_PATHS (and MFA_PATHS). */
function pathsPolicy(publicPaths: string[], staffPaths: string[], mfaPaths: string[] = []) {
  const routes = tableOf({ PUBLIC_PATHS: publicPaths.join(','), STAFF_PATHS: staffPaths.join(',') })
  return compilePolicy({ routes, mfaPaths })
}

/** A decision in short: `public`, `user`, `staff`, `unreadable` or `unrouted`. */
function level(decision: Decision): string {
  if (decision.kind !== 'route') return decision.kind
  const { requirement } = decision
  if (requirement.staff) return 'staff'
  return requirement.login ? 'user' : 'public'
}

/** The level of `path` under a policy, for a GET. */
const levelOf = (policy: ReturnType<typeof compilePolicy>, path: string) =>
  level(policy.decide(path, 'GET'))
describe('compileGlob', () => {
  it('matches a glob without wildcards exactly', () => {
    expect(matches('/health', '/health')).toBe(true)
    expect(matches('/health', '/health/')).toBe(false)
    expect(matches('/health', '/healthz')).toBe(false)
    expect(matches('/health', '/Health')).toBe(false)
  })

  it('lets * match within one segment only', () => {
    expect(matches('/docs/*', '/docs/intro')).toBe(true)
    expect(matches('/docs/*', '/docs/')).toBe(true)
    expect(matches('/docs/*', '/docs/a/b')).toBe(false)
    expect(matches('/files/*.css', '/files/site.css')).toBe(true)
    expect(matches('/files/*.css', '/files/a/site.css')).toBe(false)
  })

  it('lets ** match across segments', () => {
    expect(matches('/static/**', '/static/a/b/c.js')).toBe(true)
    expect(matches('/api/**/public', '/api/v1/x/public')).toBe(true)
    expect(matches('/api/**/public', '/api/public')).toBe(true)
    expect(matches('/**.png', '/img/a/b.png')).toBe(true)
  })

  it('lets a trailing /** match the directory itself', () => {
    expect(matches('/admin/**', '/admin')).toBe(true)
    expect(matches('/admin/**', '/admin/')).toBe(true)
    expect(matches('/admin/**', '/administrator')).toBe(false)
  })

  it('treats regular-expression characters literally', () => {
    expect(matches('/a.b', '/a.b')).toBe(true)
    expect(matches('/a.b', '/axb')).toBe(false)
    expect(matches('/(x)+[y]', '/(x)+[y]')).toBe(true)
  })
})

describe('the policy of PUBLIC_PATHS and STAFF_PATHS', () => {
  const policy = pathsPolicy(['/static/**', '/'], ['/admin/**'])

  it('requires a user everywhere that is not listed', () => {
    expect(levelOf(policy, '/api/things')).toBe('user')
  })

  it('lets public and staff globs decide, staff winning over public', () => {
    expect(levelOf(policy, '/static/app.js')).toBe('public')
    expect(levelOf(policy, '/')).toBe('public')
    expect(levelOf(policy, '/admin/users')).toBe('staff')
    expect(levelOf(pathsPolicy(['/**'], ['/admin/**']), '/admin')).toBe('staff')
  })

  it('takes the stricter answer of the raw and the normalized path', () => {
    expect(levelOf(policy, '/static/..%2Fapi')).toBe('user')
    expect(levelOf(policy, '/static/..%2Fadmin')).toBe('staff')
    expect(levelOf(policy, '/%61dmin')).toBe('staff')
  })

  it.each([
    ['/admin;jsessionid=x/users', 'path parameters'],
    ['/static/..;/admin', '`..;` as a dot segment'],
    ['/ADMIN/users', 'case'],
    ['/admin./users', 'a trailing dot'],
    ['/admin%20/users', 'a trailing space'],
    ['/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E', 'fullwidth letters (NFKC)'],
    ['/static\\..\\admin', 'backslashes'],
    ['/static/..%5Cadmin', 'an escaped backslash'],
    ['/admin;x/../public', 'parameters stripped, dot segments not resolved'],
    ['/ADMIN/..;/public', 'case folded, dot segments not resolved'],
  ])('answers staff for %s (%s)', (path) => {
    expect(levelOf(policy, path)).toBe('staff')
  })

  it('is unreadable for a path it cannot read one way only', () => {
    for (const path of ['/%2561dmin', '/a%00', '/%C0%AE%C0%AE/admin', '/a%zz', '/a/.../b']) {
      expect(levelOf(policy, path), path).toBe('unreadable')
    }
  })

  it('calls a path public only when every reading is', () => {
    expect(levelOf(policy, '/static/..;/api')).toBe('user')
    expect(levelOf(policy, '/static/%2e%2e%2Fapi')).toBe('user')
    expect(levelOf(policy, '/STATIC/app.js')).toBe('user')
    expect(levelOf(policy, '/static/App.JS')).toBe('public')
    expect(levelOf(policy, '/static/a%20b.css')).toBe('public')
  })

  it('matches case-folded globs against the readings of case-insensitive origins', () => {
    const mixed = pathsPolicy(['/Static/**'], ['/Admin/**'])
    expect(levelOf(mixed, '/admin/x')).toBe('staff')
    expect(levelOf(mixed, '/Static/x')).toBe('public')
    // A case-sensitive origin serves something else at /static/x.
    expect(levelOf(mixed, '/static/x')).toBe('user')
    const kelvin = pathsPolicy([], ['/key/**', '/secret/**'])
    expect(levelOf(kelvin, '/%E2%84%AAey/1')).toBe('staff')
    expect(levelOf(kelvin, '/%C5%BFecret')).toBe('staff')
  })

  it('sends every path to ORIGIN_URL, or nowhere without it', () => {
    const routes = tableOf({ ORIGIN_URL: 'http://127.0.0.1:9000/base', PUBLIC_PATHS: '/p/**' })
    const decision = compilePolicy({ routes }).decide('/p/x', 'GET')
    expect(decision).toMatchObject({ kind: 'route', audience: 'http://127.0.0.1:9000' })
    expect(decision.kind === 'route' && decision.origin?.href).toBe('http://127.0.0.1:9000/base')
    const none = compilePolicy({ routes: tableOf({}) }).decide('/p/x', 'GET')
    expect(none).toMatchObject({ kind: 'route', origin: null })
  })

  it('adds a second factor on MFA_PATHS, to every access level, for every reading', () => {
    const mfa = pathsPolicy(['/open/**'], ['/admin/**'], ['/admin/keys/**', '/open/vault/**'])
    const needs = (path: string) => {
      const decision = mfa.decide(path, 'GET')
      return decision.kind === 'route' ? decision.requirement : decision.kind
    }
    expect(needs('/admin/keys/1')).toMatchObject({ login: true, staff: true, mfa: true })
    expect(needs('/admin/users')).toMatchObject({ staff: true, mfa: false })
    // A public path under MFA_PATHS needs a user too: a second factor belongs to one.
    expect(needs('/open/vault/x')).toMatchObject({ login: true, staff: false, mfa: true })
    expect(needs('/open/x')).toEqual(PUBLIC)
    for (const spelling of ['/ADMIN/Keys/1', '/admin;x/keys/1', '/open/..;/admin/keys/1']) {
      expect(needs(spelling), spelling).toMatchObject({ mfa: true })
    }
  })
})

/** A route as ROUTES writes it, with the Worker's defaults for the rest. */
function routes(entries: object[], settings: Partial<Env> = {}): Route[] {
  return tableOf({ ORIGIN_URL: 'http://origin.test', ROUTES: JSON.stringify(entries), ...settings })
}

describe('the policy of a route table', () => {
  const table = routes([
    { path: '/health', access: 'public' },
    { path: '/api/**', methods: ['GET'], access: 'public', origin: 'http://api.test' },
    { path: '/api/**', origin: 'http://api.test' },
    { path: '/ops/**', access: 'staff', groups: ['ops', 'sre'] },
    { path: '/root/**', access: 'superuser', mfa: true },
    { path: '/reports/**', groups: ['finance'] },
  ])
  const policy = compilePolicy({ routes: table })
  const decide = (path: string, method: string | null = 'GET') => policy.decide(path, method)

  it('takes the first route that matches the path and the method', () => {
    expect(decide('/api/items')).toMatchObject({ kind: 'route', requirement: PUBLIC })
    expect(decide('/api/items', 'HEAD')).toMatchObject({ requirement: PUBLIC })
    expect(decide('/api/items', 'POST')).toMatchObject({ requirement: SIGNED_IN })
    expect(decide('/health')).toMatchObject({ requirement: PUBLIC })
  })

  it('is unrouted (404) for a path no route takes, or that only some readings match', () => {
    expect(decide('/elsewhere').kind).toBe('unrouted')
    expect(decide('/health/x').kind).toBe('unrouted')
    // A case-sensitive origin reads /API/items as a path no route covers.
    expect(decide('/API/items').kind).toBe('unrouted')
    // `..;` steps out of /api/ to a path no route covers, for some origins.
    expect(decide('/api/..;/secret').kind).toBe('unrouted')
  })

  it('sends a route to its origin, the assertion made out to that origin', () => {
    const decision = decide('/api/x')
    expect(decision.kind === 'route' && decision.origin?.href).toBe('http://api.test/')
    expect(decision).toMatchObject({ audience: 'http://api.test' })
    expect(decide('/ops/x')).toMatchObject({ audience: 'http://origin.test' })
  })

  it('is unreadable (400) when readings of a path reach different origins', () => {
    // /ops/..;/api/x is /ops/... (ORIGIN_URL) to some origins and /api/x (api.test) to others.
    expect(decide('/ops/..;/api/x').kind).toBe('unreadable')
    expect(decide('/api/..;/ops/x').kind).toBe('unreadable')
  })

  it('needs every reading’s route: flags, groups and a second factor together', () => {
    expect(decide('/ops/x')).toMatchObject({
      requirement: { login: true, staff: true, groups: [['ops', 'sre']], mfa: false },
    })
    expect(decide('/root/x')).toMatchObject({
      requirement: { login: true, superuser: true, staff: false, mfa: true },
    })
    // Read as /ops/... and as /reports/...: both routes must let the user in.
    const twoRoutes = compilePolicy({
      routes: routes([
        { path: '/ops/**', groups: ['ops'] },
        { path: '/reports/**', groups: ['finance'] },
      ]),
    })
    expect(twoRoutes.decide('/ops/..;/reports/q', 'GET')).toMatchObject({
      requirement: { groups: [['ops'], ['finance']] },
    })
  })

  it('holds for any method when the method is unknown', () => {
    // GET is public, other methods need a user: together, a user.
    expect(decide('/api/items', null)).toMatchObject({ requirement: SIGNED_IN })
    const getOnly = compilePolicy({ routes: routes([{ path: '/**', methods: ['GET'] }]) })
    expect(getOnly.decide('/x', null).kind).toBe('unrouted')
    expect(getOnly.decide('/x', 'GET').kind).toBe('route')
  })
})

describe('accessFor', () => {
  const user = { is_staff: false, is_superuser: false, groups: ['ops'] }
  const staff = { is_staff: true, is_superuser: false, groups: [] }
  const root = { is_staff: false, is_superuser: true, groups: [] }
  const needs = (fields: Partial<Requirement>): Requirement => ({ ...SIGNED_IN, ...fields })

  it('allows anyone on public paths', () => {
    expect(accessFor(PUBLIC, null)).toBe('allow')
    expect(accessFor(PUBLIC, user)).toBe('allow')
  })

  it('asks anonymous visitors to log in, and denies users a flag they lack', () => {
    expect(accessFor(SIGNED_IN, null)).toBe('login')
    expect(accessFor(needs({ staff: true }), null)).toBe('login')
    expect(accessFor(needs({ mfa: true }), null)).toBe('login')
    expect(accessFor(SIGNED_IN, user)).toBe('allow')
    expect(accessFor(needs({ staff: true }), user)).toBe('deny')
    expect(accessFor(needs({ staff: true }), staff)).toBe('allow')
    expect(accessFor(needs({ superuser: true }), staff)).toBe('deny')
    expect(accessFor(needs({ superuser: true }), root)).toBe('allow')
    // A superuser is not staff unless flagged so, as in Django's admin.
    expect(accessFor(needs({ staff: true }), root)).toBe('deny')
  })

  it('needs one group of each set', () => {
    expect(accessFor(needs({ groups: [['ops', 'sre']] }), user)).toBe('allow')
    expect(accessFor(needs({ groups: [['sre']] }), user)).toBe('deny')
    expect(accessFor(needs({ groups: [['ops'], ['finance']] }), user)).toBe('deny')
    expect(accessFor(needs({ groups: [['ops']] }), root)).toBe('deny')
  })

  it('asks for a second factor last, only when nothing else is missing', () => {
    expect(accessFor(needs({ mfa: true }), user, ['pwd'])).toBe('mfa')
    expect(accessFor(needs({ mfa: true }), user, ['pwd', 'otp', 'mfa'])).toBe('allow')
    expect(accessFor(needs({ mfa: true, staff: true }), user, ['pwd'])).toBe('deny')
  })
})

describe('isBrowserNavigation', () => {
  it('is a GET whose Accept names text/html', () => {
    expect(isBrowserNavigation('GET', 'text/html,application/xhtml+xml,*/*;q=0.8')).toBe(true)
    expect(isBrowserNavigation('GET', 'application/json, text/html;q=0.1')).toBe(true)
    expect(isBrowserNavigation('GET', 'application/json')).toBe(false)
    expect(isBrowserNavigation('GET', '*/*')).toBe(false)
    expect(isBrowserNavigation('GET', 'text/htmlx')).toBe(false)
    expect(isBrowserNavigation('GET', undefined)).toBe(false)
    expect(isBrowserNavigation('POST', 'text/html')).toBe(false)
  })
})

describe('originalPath', () => {
  it('keeps the path of an origin-form or absolute URI, without query or fragment', () => {
    expect(originalPath('/admin/x?y=1')).toBe('/admin/x')
    expect(originalPath('https://app.example.com/a/b?c#d')).toBe('/a/b')
    expect(originalPath('https://app.example.com')).toBe('/')
  })

  it('is null for a missing header, a relative path or control characters', () => {
    expect(originalPath(undefined)).toBeNull()
    expect(originalPath('admin')).toBeNull()
    expect(originalPath('*')).toBeNull()
    expect(originalPath('/a\tb')).toBeNull()
  })

  it('is null for any raw comma (a header sent twice), and keeps an escaped one', () => {
    expect(originalPath('/public/x, /admin')).toBeNull()
    expect(originalPath('/public/x?a=1,2')).toBeNull()
    expect(originalPath('/a,b')).toBeNull()
    expect(originalPath('/a%2Cb')).toBe('/a%2Cb')
  })
})
