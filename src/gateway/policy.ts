/**
 * Who may reach which path, and where it goes: the route table (ROUTES, or the one PUBLIC_PATHS
 * and STAFF_PATHS make), plus MFA_PATHS. Pure functions, so the rules can be tested without a
 * request.
 *
 * Glob syntax (docs/gateway.md): `*` matches any characters within one path segment (never a
 * `/`); `**` matches across segments; a trailing `/**` also matches the directory itself, so
 * `/admin/**` covers `/admin`, `/admin/` and `/admin/users/1`. Anything else matches literally;
 * the query string is never part of the match.
 *
 * Every reading of a path an origin could make (paths.ts) is matched against the table, with
 * case-folded globs for the readings of origins that compare case-insensitively, and the request
 * must pass the route of every reading: the strictest answer is all of them together. A reading
 * that no route takes makes the path not found; readings that reach different origins make it
 * unreadable (which origin would read it which way cannot be known).
 */
import type { Route } from '../config'
import { foldCase, hasControlCharacter, type PathReading, readPath } from './paths'

export { hasControlCharacter } from './paths'

/** What a request needs, all of it, gathered from the routes of every reading of its path. */
export interface Requirement {
  /** A signed-in user. */
  readonly login: boolean
  /** `is_staff`. */
  readonly staff: boolean
  /** `is_superuser`. */
  readonly superuser: boolean
  /** Sets of group names: the user must be in at least one group of each set. */
  readonly groups: readonly (readonly string[])[]
  /** A multi-factor sign-in: `mfa` in the session's amr. */
  readonly mfa: boolean
}

/** The requirement of a public path. */
export const PUBLIC: Requirement = Object.freeze({
  login: false,
  staff: false,
  superuser: false,
  groups: [],
  mfa: false,
})

/** The requirement of a path for any signed-in user. */
export const SIGNED_IN: Requirement = Object.freeze({ ...PUBLIC, login: true })

/** What MFA_PATHS add to a path's route. */
const MFA: Requirement = Object.freeze({ ...SIGNED_IN, mfa: true })

/** Where a request goes and what it needs. */
export interface Routed {
  readonly kind: 'route'
  readonly requirement: Requirement
  /** The origin every reading's route sends it to; null when none has one (404 at the proxy). */
  readonly origin: URL | null
  /** The `aud` of the assertion sent with it. */
  readonly audience: string
}

/**
 * The policy's answer for a path and a method: `unreadable` (400: the path cannot be read one
 * way only, or its readings go to different origins), `unrouted` (404: some reading matches no
 * route), or the route.
 */
export type Decision = { readonly kind: 'unreadable' } | { readonly kind: 'unrouted' } | Routed

const UNREADABLE: Decision = Object.freeze({ kind: 'unreadable' })
const UNROUTED: Decision = Object.freeze({ kind: 'unrouted' })

/** Compiles one glob to an anchored regular expression (see the module comment for syntax). */
export function compileGlob(glob: string): RegExp {
  let pattern = ''
  let i = 0
  while (i < glob.length) {
    if (glob.startsWith('/**', i) && i + 3 === glob.length) {
      pattern += '(?:/.*)?'
      i += 3
    } else if (glob.startsWith('/**/', i)) {
      // `/a/**/b` matches `/a/b` as well as `/a/x/y/b`.
      pattern += '/(?:.*/)?'
      i += 4
    } else if (glob.startsWith('**', i)) {
      pattern += '.*'
      i += 2
    } else if (glob[i] === '*') {
      pattern += '[^/]*'
      i += 1
    } else {
      pattern += (glob[i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
      i += 1
    }
  }
  return new RegExp(`^${pattern}$`)
}

/** A matcher for a list of globs, compiled once. */
function globMatcher(globs: readonly string[]): (path: string) => boolean {
  const patterns = globs.map(compileGlob)
  return (path) => patterns.some((pattern) => pattern.test(path))
}

/** What the policy is compiled from. */
export interface PolicyOptions {
  /** The route table, first match wins (`Config.routes`). */
  routes: readonly Route[]
  /** MFA_PATHS: globs that need a multi-factor sign-in, whichever route they take. */
  mfaPaths?: readonly string[]
}

/** A policy compiled once. */
export interface CompiledPolicy {
  /**
   * The decision for `path` (a URL pathname, still percent-encoded) and `method`. A null method
   * is one that is not known (a forward-auth proxy that does not pass it on): the decision must
   * then hold whatever the method is, so it is that of every method the table names and of one it
   * does not, all together, and a route for some methods only leaves the path unrouted.
   */
  decide(path: string, method: string | null): Decision
}

/** A route compiled: its globs as written and case-folded, and what it requires. */
interface CompiledRoute {
  readonly exact: RegExp
  readonly folded: RegExp
  readonly methods: ReadonlySet<string> | null
  readonly requirement: Requirement
  readonly origin: URL | null
  readonly audience: string
}

/** What taking `route` requires. */
export function routeRequirement(route: Route): Requirement {
  return {
    login: route.access !== 'public' || route.groups !== null || route.mfa,
    staff: route.access === 'staff',
    superuser: route.access === 'superuser',
    groups: route.groups ? [route.groups] : [],
    mfa: route.mfa,
  }
}

/** Both requirements: what a request must meet to pass two routes at once. */
export function both(a: Requirement, b: Requirement): Requirement {
  if (a === b || b === PUBLIC) return a
  if (a === PUBLIC) return b
  const groups = [...a.groups]
  const seen = new Set(groups.map((set) => set.join('\u0000')))
  for (const set of b.groups) {
    const key = set.join('\u0000')
    if (!seen.has(key)) {
      seen.add(key)
      groups.push(set)
    }
  }
  return {
    login: a.login || b.login,
    staff: a.staff || b.staff,
    superuser: a.superuser || b.superuser,
    groups,
    mfa: a.mfa || b.mfa,
  }
}

/**
 * The stricter of two decisions about one request (two forward-auth headers, two methods):
 * unreadable before unrouted before a route, and two routes' requirements together. The first
 * route's destination is kept: a forward-auth proxy picks the destination itself.
 */
export function stricter(a: Decision, b: Decision): Decision {
  if (a.kind === 'unreadable' || b.kind === 'unreadable') return UNREADABLE
  if (a.kind === 'unrouted' || b.kind === 'unrouted') return UNROUTED
  return { ...a, requirement: both(a.requirement, b.requirement) }
}

/** Whether two routes send a request to the same place, with the same assertion audience. */
function sameDestination(a: CompiledRoute, b: CompiledRoute): boolean {
  return a.origin?.href === b.origin?.href && a.audience === b.audience
}

/**
 * Compiles the route table and MFA_PATHS, every glob twice: as written, for the readings an
 * origin compares exactly, and case-folded (`foldCase`), for those it compares case-insensitively.
 */
export function compilePolicy(options: PolicyOptions): CompiledPolicy {
  const routes: CompiledRoute[] = options.routes.map((route) => ({
    exact: compileGlob(route.path),
    folded: compileGlob(foldCase(route.path)),
    methods: route.methods ? new Set(route.methods) : null,
    requirement: routeRequirement(route),
    origin: route.origin,
    audience: route.audience,
  }))
  const mfaGlobs = options.mfaPaths ?? []
  const mfa = { exact: globMatcher(mfaGlobs), folded: globMatcher(mfaGlobs.map(foldCase)) }
  const named = [...new Set(options.routes.flatMap((route) => route.methods ?? []))]
  // For an unknown method: each method the table names, and one it does not (no token has a
  // space, so no request's method is this one).
  const anyMethod = named.length === 0 ? [null] : [...named, ' other']

  function decideReadings(readings: readonly PathReading[], method: string | null): Decision {
    let first: CompiledRoute | null = null
    let requirement = PUBLIC
    for (const reading of readings) {
      const seen = reading.folded ? foldCase(reading.path) : reading.path
      const route = routes.find(
        (candidate) =>
          (method === null || candidate.methods === null || candidate.methods.has(method)) &&
          (reading.folded ? candidate.folded : candidate.exact).test(seen),
      )
      if (!route) return UNROUTED
      // One origin would be sent a path that another reading routes elsewhere: a more
      // permissive route's origin could serve what a stricter route guards.
      if (first && !sameDestination(first, route)) return UNREADABLE
      first ??= route
      requirement = both(requirement, route.requirement)
      if (mfaGlobs.length > 0 && (reading.folded ? mfa.folded : mfa.exact)(seen)) {
        requirement = both(requirement, MFA)
      }
    }
    // readPath gives at least the path as sent, so a route was found.
    const route = first as CompiledRoute
    return { kind: 'route', requirement, origin: route.origin, audience: route.audience }
  }

  return {
    decide(path, method) {
      const readings = readPath(path)
      if (readings === null) return UNREADABLE
      if (method !== null) return decideReadings(readings, method)
      return anyMethod
        .map((candidate) => decideReadings(readings, candidate))
        .reduce((a, b) => stricter(a, b))
    },
  }
}

/**
 * The outcome for a user (null when anonymous) whose session signed in with `amr`:
 * `allow`, `login` (anonymous where a user is needed: 401 or 302), `deny` (403: a flag or a
 * group missing) or `mfa` (403: everything but a second factor).
 */
export type Access = 'allow' | 'login' | 'deny' | 'mfa'

/** The user fields the policy reads: the session snapshot has them all. */
export interface PolicyUser {
  is_staff: boolean
  is_superuser: boolean
  groups: readonly string[]
}

/** Whether `user`, signed in with `amr`, meets `requirement` (see `Access`). */
export function accessFor(
  requirement: Requirement,
  user: PolicyUser | null,
  amr: readonly string[] = [],
): Access {
  if (!requirement.login) return 'allow'
  if (!user) return 'login'
  if (requirement.staff && !user.is_staff) return 'deny'
  if (requirement.superuser && !user.is_superuser) return 'deny'
  for (const set of requirement.groups) {
    if (!set.some((group) => user.groups.includes(group))) return 'deny'
  }
  // Last: asking for a second factor makes sense only when it is all that is missing.
  if (requirement.mfa && !amr.includes('mfa')) return 'mfa'
  return 'allow'
}

/**
 * Whether a request is a browser navigation that should be sent to the sign-in page rather than
 * answered 401: a GET whose `Accept` names text/html.
 */
export function isBrowserNavigation(method: string, accept: string | undefined): boolean {
  return method === 'GET' && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept ?? '')
}

/**
 * The path of an `X-Original-URI` / `X-Forwarded-Uri` value (origin-form, or an absolute URI
 * reduced to its path; query and fragment dropped), or null when it holds none: not a path, a
 * control character, or a comma. A header sent twice reaches the gateway as its values joined by
 * `, `, and which of them the proxy acted on cannot be known, so a raw comma anywhere in the value
 * is refused (an escaped `%2C` is fine).
 */
export function originalPath(uri: string | undefined): string | null {
  if (uri === undefined || uri.includes(',')) return null
  const value = uri.trim()
  // Origin-form only (RFC 9112 §3.2.1); an absolute URI is reduced to its path.
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(value)
  const path = (match ? match[1] || '/' : value).split('#')[0]?.split('?')[0] ?? ''
  if (!path.startsWith('/') || hasControlCharacter(path)) return null
  return path
}
