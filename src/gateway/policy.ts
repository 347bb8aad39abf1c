/**
 * Who may reach which path: PUBLIC_PATHS and STAFF_PATHS as globs, everything else behind a
 * login. Pure functions, so the rules can be tested without a request.
 *
 * Glob syntax (docs/forward-auth.md): `*` matches any characters within one path segment (never a
 * `/`); `**` matches across segments; a trailing `/**` also matches the directory itself, so
 * `/admin/**` covers `/admin`, `/admin/` and `/admin/users/1`. Anything else matches literally
 * and case-sensitively; the query string is never part of the match.
 */

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
export function globMatcher(globs: readonly string[]): (path: string) => boolean {
  const patterns = globs.map(compileGlob)
  return (path) => patterns.some((pattern) => pattern.test(path))
}

/**
 * The path as an origin might understand it: percent-decoded, backslashes as slashes, repeated
 * slashes merged and dot segments resolved. `/%61dmin`, `//admin` and `/static/..%2Fadmin` all
 * become `/admin`, so an encoding trick cannot step around STAFF_PATHS.
 */
export function normalizePath(path: string): string {
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    // A malformed escape: decode what can be decoded, leave the rest as it is.
    decoded = path.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run)
      } catch {
        return run
      }
    })
  }
  const segments: string[] = []
  const parts = decoded.replace(/\\/g, '/').split('/')
  for (const [index, part] of parts.entries()) {
    const last = index === parts.length - 1
    if (part === '..') segments.pop()
    if (part === '.' || part === '..') {
      if (last) segments.push('')
      continue
    }
    if (part === '' && !last) continue
    segments.push(part)
  }
  return `/${segments.join('/')}`
}

/** A policy compiled once: `requirementFor(path)` for the path of a request. */
export interface CompiledPolicy {
  /**
   * What `path` (a URL pathname, still percent-encoded) requires. The raw and the normalized
   * forms are both matched and the stricter answer wins: a path is public only when both are
   * public, and staff-only when either is.
   */
  requirementFor(path: string): Requirement
}

/** Compiles PUBLIC_PATHS and STAFF_PATHS. */
export function compilePolicy(policy: PathPolicy): CompiledPolicy {
  const isPublic = globMatcher(policy.publicPaths)
  const isStaff = globMatcher(policy.staffPaths)
  const one = (path: string): Requirement => {
    if (isStaff(path)) return 'staff'
    return isPublic(path) ? 'public' : 'user'
  }
  return {
    requirementFor(path) {
      return stricter(one(path), one(normalizePath(path)))
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

/** The path (and query) of an `X-Original-URI` / `X-Forwarded-Uri` header, or null. */
export function originalPath(uri: string | undefined): string | null {
  if (uri === undefined) return null
  const value = uri.trim()
  // Origin-form only (RFC 9112 §3.2.1); an absolute URI is reduced to its path.
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(value)
  const path = (match ? match[1] || '/' : value).split('#')[0]?.split('?')[0] ?? ''
  if (!path.startsWith('/') || hasControlCharacter(path)) return null
  return path
}

/** Whether `text` holds a C0 control (tab, CR and LF included), DEL or a C1 control. */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true
  }
  return false
}
