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
const IDENTITY_PREFIX = 'x-auth-'

/**
 * A header name as origins read it: case-folded, with `_` read as `-`. CGI, WSGI, PHP and Rack
 * turn both `X-Auth-User-Id` and `X_Auth_User_Id` into `HTTP_X_AUTH_USER_ID`, so every check on a
 * client-sent name compares this form.
 */
export function originHeaderName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-')
}

/**
 * Headers a client could use to pass itself off as another user, address, scheme, host or path;
 * the gateway sets its own X-Forwarded-* set from what it knows. Besides the standard ones, the
 * identity and rewrite headers other proxies set and origins trust: Apache's and nginx's
 * `Remote-User`, IIS URL Rewrite's and Zend's `X-Original-URL` / `X-Rewrite-URL`, Akamai's and
 * Cloudflare's `True-Client-IP`, and the gateway's own `X-Trusted-Proxy-Secret`.
 */
const FORWARDING = new Set([
  'forwarded',
  'x-real-ip',
  'remote-user',
  'x-remote-user',
  'x-user',
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'true-client-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'x-originating-ip',
  'x-remote-addr',
  'x-remote-ip',
  'x-trusted-proxy-secret',
])

/**
 * Whether a field of this message is hop-by-hop: RFC 9110's, the Proxy-* family, and those its
 * `Connection` header names. Names are compared as origins read them (`originHeaderName`).
 */
export function hopByHopOf(headers: Headers): (name: string) => boolean {
  const connection = headers.get('Connection')
  const named = connection
    ? new Set(connection.split(',').map((name) => originHeaderName(name.trim())))
    : null
  return (name) => {
    const read = originHeaderName(name)
    return HOP_BY_HOP.has(read) || read.startsWith('proxy-') || named?.has(read) === true
  }
}

/**
 * Request fields never copied from the client as sent, by their name as origins read it:
 * identity and forwarding (the gateway sets its own), Cloudflare's metadata (it describes the hop
 * to the gateway, not to the origin), Host (fetch derives it from ORIGIN_URL) and Cookie (copied
 * without the session cookie).
 */
function replacedUpstream(name: string): boolean {
  const read = originHeaderName(name)
  return (
    read.startsWith(IDENTITY_PREFIX) ||
    read.startsWith('x-forwarded-') ||
    read.startsWith('cf-') ||
    FORWARDING.has(read) ||
    read === 'host' ||
    read === 'cookie'
  )
}

/** A cookie name as a lenient server reads it: trimmed, percent-decoded, case-folded. */
function cookieNameOf(piece: string): string {
  const index = piece.indexOf('=')
  const name = (index < 0 ? piece : piece.slice(0, index)).trim()
  const decoded = name.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run)
    } catch {
      return run
    }
  })
  return decoded.trim().toLowerCase()
}

/**
 * A `Cookie` header without the named cookies, or null when nothing is left. The client decides
 * how the header is split, and servers disagree on how to read it, so a cookie is dropped when any
 * reading names it: pairs split at `;` and also at `,` (several Cookie headers arrive joined by
 * `, `, and RFC 2965 servers split there), names trimmed, percent-decoded and case-folded
 * (`%73essionid`, ` SessionID `). Pairs are kept byte for byte otherwise, so the origin sees what
 * the browser sent; a pair that had a dropped cookie after a comma keeps its other parts as pairs.
 */
export function withoutCookies(cookie: string | null, names: readonly string[]): string | null {
  if (cookie === null) return null
  const dropped = new Set(names.map(cookieNameOf))
  const kept: string[] = []
  for (const pair of cookie.split(';')) {
    const parts = pair.split(',')
    const others = parts.filter((part) => !dropped.has(cookieNameOf(part)))
    const pieces = others.length === parts.length ? [pair] : others
    for (const piece of pieces) if (piece.trim() !== '') kept.push(piece.trim())
  }
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

/** Whether a comma-separated header value holds `token` (case-insensitive). */
function hasToken(value: string | null, token: string): boolean {
  return value?.split(',').some((item) => item.trim().toLowerCase() === token) === true
}

/**
 * Whether a request asks for a WebSocket (RFC 6455 §4.1: a GET with `Upgrade: websocket`, and
 * `Connection: Upgrade`; a `Connection` header that does not name it says the upgrade is not
 * meant for this hop). Only this upgrade is proxied; any other `Upgrade` (h2c, TLS) is dropped
 * with the hop-by-hop headers.
 */
export function isWebSocketUpgrade(method: string, headers: Headers): boolean {
  if (method !== 'GET' || !hasToken(headers.get('Upgrade'), 'websocket')) return false
  const connection = headers.get('Connection')
  return connection === null || hasToken(connection, 'upgrade')
}

/**
 * The handshake fields that belong to one hop of a WebSocket: workerd makes its own key and
 * negotiates extensions with each side, so the client's must not reach the origin, nor the
 * origin's answer to workerd's key reach the client. `Sec-WebSocket-Protocol` is end to end.
 */
const WEBSOCKET_HOP = new Set([
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-accept',
])

export interface ForwardingInfo {
  /** The client's address (`c.var.clientIp`), or `unknown`. */
  clientIp: string
  /** Whether the client spoke HTTPS (`c.var.site.secure`). */
  secure: boolean
  /** The host the client asked for (`c.var.site.host`). */
  host: string
  /** The session cookie's name: that cookie never reaches the origin. */
  sessionCookieName: string
  /** Other cookies of the gateway's own that never reach it (the session cache's). */
  privateCookies?: readonly string[]
  /** Whether `Authorization` carries the gateway's API token, which never reaches it either. */
  dropAuthorization?: boolean
  /** Whether the request is a WebSocket upgrade to pass on (`isWebSocketUpgrade`). */
  webSocket?: boolean
}

/**
 * The request headers for the origin, in one pass over the client's: hop-by-hop, client-sent
 * identity and forwarding headers removed, the session cookie taken out of `Cookie`,
 * X-Forwarded-For/-Proto/-Host set, then the gateway's `identity` headers.
 */
export function upstreamRequestHeaders(
  incoming: Headers,
  info: ForwardingInfo,
  identity: Record<string, string> = {},
): Headers {
  const hopByHop = hopByHopOf(incoming)
  const headers = new Headers()
  for (const [name, value] of incoming) {
    if (hopByHop(name) || replacedUpstream(name)) continue
    if (WEBSOCKET_HOP.has(originHeaderName(name))) continue
    if (info.dropAuthorization && originHeaderName(name) === 'authorization') continue
    headers.append(name, value)
  }
  // The one upgrade passed on: workerd's fetch then makes the handshake with the origin.
  if (info.webSocket) headers.set('Upgrade', 'websocket')
  const cookie = hopByHop('cookie')
    ? null
    : withoutCookies(incoming.get('Cookie'), [
        info.sessionCookieName,
        ...(info.privateCookies ?? []),
      ])
  if (cookie !== null) headers.set('Cookie', cookie)

  // Only CF-Connecting-IP is trusted: a client-sent X-Forwarded-For was dropped above.
  if (info.clientIp !== 'unknown') headers.set('X-Forwarded-For', info.clientIp)
  headers.set('X-Forwarded-Proto', info.secure ? 'https' : 'http')
  headers.set('X-Forwarded-Host', info.host)
  for (const [name, value] of Object.entries(identity)) headers.set(name, value)
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
  const hopByHop = hopByHopOf(upstream)
  const headers = new Headers()
  for (const [name, value] of upstream) {
    if (hopByHop(name) || name === 'set-cookie' || WEBSOCKET_HOP.has(name)) continue
    headers.append(name, value)
  }
  for (const cookie of upstream.getSetCookie()) {
    if (!reservedCookies.includes(setCookieName(cookie))) headers.append('Set-Cookie', cookie)
  }
  return headers
}
