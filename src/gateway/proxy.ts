/**
 * The reverse proxy to a route's origin: path, query, method and body kept and streamed both
 * ways, redirects passed through, WebSocket upgrades joined, and a 502 or 504 when the origin
 * fails. Header rules live in headers.ts; who may pass lives in policy.ts.
 */
import { BadGateway, GatewayTimeout } from '../errors'
import { downstreamResponseHeaders } from './headers'

export interface ProxyOptions {
  /** The route's origin (ORIGIN_URL by default): its path, if any, prefixes every path. */
  origin: URL
  /** ORIGIN_TIMEOUT_MS: time to the origin's response headers (or upgrade) before a 504. */
  timeoutMs: number
  /** Set-Cookie names the origin may not set: the session and CSRF cookies. */
  reservedCookies: readonly string[]
}

/** Whether workerd marks a failed subrequest as safe to retry (a connection lost before any answer). */
function isRetryable(error: unknown): boolean {
  return (error as { retryable?: unknown } | null)?.retryable === true
}

/** Statuses that carry no body (RFC 9110 §15); a Response with one of them must have none. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304])

/** The origin URL for a request URL: the origin's scheme, host and path prefix, then ours. */
function upstreamUrl(origin: URL, requestUrl: URL): URL {
  const url = new URL(origin.href)
  const prefix = url.pathname.replace(/\/+$/, '')
  url.pathname = prefix + requestUrl.pathname
  url.search = requestUrl.search
  url.hash = ''
  return url
}

/**
 * Sends `request` (its URL already parsed, its headers already filtered) to the origin and
 * returns the origin's answer as a new Response with mutable headers, streamed, not buffered.
 */
export async function forward(
  request: Request,
  url: URL,
  headers: Headers,
  options: ProxyOptions,
): Promise<Response> {
  const target = upstreamUrl(options.origin, url)
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD'
  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
  }, options.timeoutMs)
  const init: RequestInit = {
    method: request.method,
    headers,
    body: hasBody ? request.body : null,
    // A redirect is the origin's answer to the client, not an instruction to the gateway.
    redirect: 'manual',
    signal: controller.signal,
  }
  let upstream: Response
  try {
    upstream = await fetch(target, init).catch((error) => {
      // An origin may close an idle kept-alive connection just as it is reused (gunicorn's
      // keep-alive is 2 s); a request without a body can be sent again, once (RFC 9112 §9.3.1).
      if (hasBody || timedOut || !isRetryable(error)) throw error
      return fetch(target, init)
    })
  } catch (error) {
    if (timedOut) throw new GatewayTimeout()
    console.warn('Origin unreachable', target.origin, error)
    throw new BadGateway()
  } finally {
    // The timeout covers the response headers only; the body may stream for as long as it takes.
    clearTimeout(timer)
  }
  const bodyless = NULL_BODY_STATUSES.has(upstream.status) || request.method === 'HEAD'
  // A body we do not pass on is cancelled, so the connection to the origin is released.
  if (bodyless) await upstream.body?.cancel().catch(() => {})
  const body = bodyless ? null : upstream.body
  return new Response(body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: downstreamResponseHeaders(upstream.headers, options.reservedCookies),
    // An accepted upgrade: workerd joins the client's socket to the origin's, both ways.
    webSocket: upstream.status === 101 ? upstream.webSocket : null,
  })
}
