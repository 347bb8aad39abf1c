/**
 * Django's ALLOWED_HOSTS matching (`django.http.request.validate_host`), pure: an entry matches
 * its host exactly (case-insensitive, port ignored); `.example.com` matches example.com and every
 * subdomain; `*` matches every host.
 */

/** The host of a `Host` value (`host[:port]`, `[v6]:port`), lower-cased, without the port. */
function hostWithoutPort(host: string): string {
  const lower = host.toLowerCase()
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']')
    return end < 0 ? lower : lower.slice(0, end + 1)
  }
  const colon = lower.lastIndexOf(':')
  return (colon < 0 ? lower : lower.slice(0, colon)).replace(/\.$/, '')
}

/** Whether `host` (a Host header value) matches one of the ALLOWED_HOSTS patterns. */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const name = hostWithoutPort(host)
  return allowed.some((pattern) => {
    if (pattern === '*') return true
    const entry = pattern.toLowerCase()
    if (entry.startsWith('.')) return name === entry.slice(1) || name.endsWith(entry)
    return name === entry
  })
}
