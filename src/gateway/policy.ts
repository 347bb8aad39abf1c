/**
 * Who may reach which path: PUBLIC_PATHS and STAFF_PATHS as globs, everything else behind a
 * login. Pure functions, so the rules can be tested without a request.
 *
 * Glob syntax (docs/forward-auth.md): `*` matches any characters within one path segment (never a
 * `/`); `**` matches across segments; a trailing `/**` also matches the directory itself, so
 * `/admin/**` covers `/admin`, `/admin/` and `/admin/users/1`. Anything else matches literally;
 * the query string is never part of the match.
 *
 * Globs are matched against every reading of a path an origin could make (paths.ts), with
 * case-folded globs for the readings of origins that compare case-insensitively.
 */
import { foldCase, hasControlCharacter, readPath } from './paths'

export { hasControlCharacter } from './paths'

/** What a path requires. Ordered from the least to the most restrictive. */
export type Requirement = 'public' | 'user' | 'staff'

export interface PathPolicy {
  /** PUBLIC_PATHS: globs that need no login. */
  publicPaths: readonly string[]
  /** STAFF_PATHS: globs that need `is_staff`; they win over PUBLIC_PATHS. */
  staffPaths: readonly string[]
}

const RANK: Record<Requirement, number> = { public: 0, user: 1, staff: 2 }

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

/** A policy compiled once: `requirementFor(path)` for the path of a request. */
export interface CompiledPolicy {
  /**
   * What `path` (a URL pathname, still percent-encoded) requires, or null when the gateway cannot
   * read it one way only (a 400; see paths.ts). Every reading of the path is matched, and the
   * strictest answer wins: a path is public only when every reading is public, and staff-only
   * when any reading is.
   */
  requirementFor(path: string): Requirement | null
}

/**
 * Compiles PUBLIC_PATHS and STAFF_PATHS, each twice: as written, for the readings an origin
 * compares exactly, and case-folded (`foldCase`), for those it compares case-insensitively.
 */
export function compilePolicy(policy: PathPolicy): CompiledPolicy {
  const exact = { public: globMatcher(policy.publicPaths), staff: globMatcher(policy.staffPaths) }
  const folded = {
    public: globMatcher(policy.publicPaths.map(foldCase)),
    staff: globMatcher(policy.staffPaths.map(foldCase)),
  }
  return {
    requirementFor(path) {
      const readings = readPath(path)
      if (readings === null) return null
      let requirement: Requirement = 'public'
      for (const reading of readings) {
        const globs = reading.folded ? folded : exact
        const seen = reading.folded ? foldCase(reading.path) : reading.path
        if (globs.staff(seen)) return 'staff'
        if (!globs.public(seen)) requirement = 'user'
      }
      return requirement
    },
  }
}

/** The more restrictive of two requirements. */
export function stricter(a: Requirement, b: Requirement): Requirement {
  return RANK[a] >= RANK[b] ? a : b
}

/** The outcome for a user (or null when anonymous) on a path with this requirement. */
export type Access = 'allow' | 'login' | 'deny'

/** `allow`, `login` (anonymous where a login is needed: 401 or 302) or `deny` (403). */
export function accessFor(requirement: Requirement, user: { is_staff: boolean } | null): Access {
  if (requirement === 'public') return 'allow'
  if (!user) return 'login'
  if (requirement === 'staff' && !user.is_staff) return 'deny'
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
