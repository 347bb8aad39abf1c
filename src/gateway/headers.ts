/**
 * The headers the gateway rewrites on the way to the origin and back. Pure functions over
 * `Headers`, so each rule is tested alone.
 */

/** RFC 9110 §7.6.1 hop-by-hop fields, plus the Proxy-* family: never forwarded either way. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** The identity headers only the gateway may set (a client-sent one is always removed). */
export const IDENTITY_PREFIX = 'x-auth-'

/**
 * Headers a client could use to pass itself off as another address, scheme or host; the gateway
 * sets its own X-Forwarded-* set from what it knows.
 */
const FORWARDING = new Set(['forwarded', 'x-real-ip'])

/** Removes hop-by-hop headers, the ones `Connection` names included. */
export function removeHopByHop(headers: Headers): void {
  const named = (headers.get('Connection') ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean)
  for (const name of named) headers.delete(name)
  for (const name of [...headers.keys()]) {
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-')) headers.delete(name)
  }
}

/**
 * A `Cookie` header without the named cookies, or null when nothing is left. Pairs are kept
 * byte for byte otherwise, so the origin sees exactly what the browser sent.
 */
export function withoutCookies(cookie: string | null, names: readonly string[]): string | null {
  if (cookie === null) return null
  const kept = cookie
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => {
      if (pair === '') return false
      const index = pair.indexOf('=')
      const name = (index < 0 ? pair : pair.slice(0, index)).trim()
      return !names.includes(name)
    })
  return kept.length > 0 ? kept.join('; ') : null
}

/** The cookie name a `Set-Cookie` value sets. */
export function setCookieName(setCookie: string): string {
  const pair = setCookie.split(';')[0] ?? ''
  const index = pair.indexOf('=')
  return (index < 0 ? pair : pair.slice(0, index)).trim()
}

/**
 * Percent-encodes what a header value cannot carry as text: non-ASCII, control characters and
 * `%` itself, so `decodeURIComponent` always gives the original back. ASCII usernames (all that
 * Django's default validator allows beside Unicode letters) pass unchanged.
 */
export function headerSafe(value: string): string {
  return value.replace(/[^\u0020-\u0024\u0026-\u007e]/gu, (char) => encodeURIComponent(char))
}

export interface ForwardingInfo {
  /** CF-Connecting-IP: the client's address as Cloudflare saw it. */
  clientIp: string | null
  /** The URL the client asked the gateway for. */
  url: URL
  /** The session and CSRF cookie names; the session one never reaches the origin. */
  sessionCookieName: string
}

/**
 * The request headers for the origin: hop-by-hop, client-sent identity and forwarding headers
 * removed, the session cookie taken out of `Cookie`, and X-Forwarded-For/-Proto/-Host set.
 * Identity headers are added by the caller.
 */
export function upstreamRequestHeaders(incoming: Headers, info: ForwardingInfo): Headers {
  const headers = new Headers(incoming)
  removeHopByHop(headers)
  for (const name of [...headers.keys()]) {
    if (
      name.startsWith(IDENTITY_PREFIX) ||
      name.startsWith('x-forwarded-') ||
      FORWARDING.has(name) ||
      // Cloudflare's own request metadata describes the hop to the gateway, not to the origin.
      name.startsWith('cf-')
    ) {
      headers.delete(name)
    }
  }
  // The origin is addressed by ORIGIN_URL; fetch() derives Host from it.
  headers.delete('host')
  const cookie = withoutCookies(headers.get('Cookie'), [info.sessionCookieName])
  if (cookie === null) headers.delete('Cookie')
  else headers.set('Cookie', cookie)

  // Only CF-Connecting-IP is trusted: a client-sent X-Forwarded-For was dropped above.
  if (info.clientIp) headers.set('X-Forwarded-For', info.clientIp)
  headers.set('X-Forwarded-Proto', info.url.protocol.replace(/:$/, ''))
  headers.set('X-Forwarded-Host', info.url.host)
  return headers
}

/**
 * The response headers for the client: hop-by-hop removed, and any `Set-Cookie` for the session
 * or CSRF cookie dropped (an origin must not plant or clear the gateway's own cookies).
 */
export function downstreamResponseHeaders(
  upstream: Headers,
  reservedCookies: readonly string[],
): Headers {
  const headers = new Headers(upstream)
  removeHopByHop(headers)
  const cookies = upstream.getSetCookie()
  if (cookies.length > 0) {
    headers.delete('Set-Cookie')
    for (const cookie of cookies) {
      if (!reservedCookies.includes(setCookieName(cookie))) headers.append('Set-Cookie', cookie)
    }
  }
  return headers
}
