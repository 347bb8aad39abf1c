/**
 * The origin half of CSRF protection (Django's `_origin_verified`, plus Fetch Metadata): an
 * unsafe request whose browser says it is cross-site (unless its Origin is trusted by name), or
 * whose Origin is neither the request's own nor trusted, is refused. Requests without either header (curl, server-to-server) pass
 * here and rely on the token check.
 */
import { parseUrl } from '../utils/url'

/**
 * Whether `origin` matches one of the trusted origins: exactly, or under a `scheme://*.domain`
 * wildcard (a subdomain of `domain`, same scheme and port).
 */
export function isTrustedOrigin(origin: string, trusted: readonly string[]): boolean {
  const candidate = parseUrl(origin)
  if (!candidate || candidate.origin === 'null') return false
  const normalised = candidate.origin.toLowerCase()
  for (const entry of trusted) {
    if (!entry.includes('://*.')) {
      if (entry === normalised) return true
      continue
    }
    const [scheme, rest] = entry.split('://*.') as [string, string]
    const pattern = parseUrl(`${scheme}://${rest}`)
    if (!pattern || candidate.protocol !== pattern.protocol || candidate.port !== pattern.port)
      continue
    if (
      candidate.hostname === pattern.hostname ||
      candidate.hostname.endsWith(`.${pattern.hostname}`)
    ) {
      return true
    }
  }
  return false
}

/**
 * The origin to name in the 403 when a request fails the origin check, or null when it passes.
 * `own` is the request's own origin (scheme://host[:port]).
 */
export function failedOrigin(
  headers: { origin: string | undefined; secFetchSite: string | undefined },
  own: string,
  trusted: readonly string[],
): string | null {
  const { origin, secFetchSite } = headers
  // A browser saying "cross-site" is believed whatever Origin says (it may be the request's own
  // origin after a cross-site redirect): only an origin trusted by name may call cross-site.
  if (secFetchSite?.toLowerCase() === 'cross-site') {
    return origin !== undefined && isTrustedOrigin(origin, trusted) ? null : (origin ?? 'null')
  }
  if (origin === undefined) return null
  if (origin.toLowerCase() === own.toLowerCase() || isTrustedOrigin(origin, trusted)) return null
  return origin
}
