/**
 * CORS for browser apps on other origins, as django-cors-headers does it with
 * `CORS_ALLOWED_ORIGINS` and `CORS_ALLOW_CREDENTIALS = True`: a page from a listed origin may
 * call the `/auth` API and the proxied APIs with the session cookie and read the answers, errors
 * included. Other origins get no CORS headers, so their pages cannot read anything.
 *
 * The gateway owns CORS once it is configured: Access-Control-* headers an origin sends back are
 * dropped, so an origin that reflects any `Origin` cannot open the session to every site.
 */
import type { MiddlewareHandler } from 'hono'
import { addVary } from '../utils/cookies'

/** django-cors-headers' CORS_ALLOW_HEADERS: the headers a page may send, X-CSRFToken included. */
export const CORS_ALLOW_HEADERS = [
  'Accept',
  'Authorization',
  'Content-Type',
  'User-Agent',
  'X-CSRFToken',
  'X-Requested-With',
] as const

/** django-cors-headers' CORS_ALLOW_METHODS. */
export const CORS_ALLOW_METHODS = ['DELETE', 'GET', 'OPTIONS', 'PATCH', 'POST', 'PUT'] as const

/** django-cors-headers' CORS_PREFLIGHT_MAX_AGE: browsers cache a preflight for a day. */
const PREFLIGHT_MAX_AGE = 86_400

/** RFC 9110 method tokens. */
const METHOD_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** Methods the gateway never serves, so never allows either: they echo requests back. */
const NEVER_ALLOWED = new Set(['TRACE', 'TRACK', 'CONNECT'])

export interface CorsOptions {
  /** CORS_ALLOWED_ORIGINS: `scheme://host[:port]`, lower-cased (as config.ts reads them). */
  allowedOrigins: readonly string[]
}

/**
 * The methods a preflight allows: django-cors-headers' list, and the method asked for when it is
 * another one the gateway would proxy (browsers compare methods outside the standard few
 * case-sensitively, so it is echoed as asked).
 */
function allowedMethods(requested: string): string {
  const methods: string[] = [...CORS_ALLOW_METHODS]
  const method = requested.trim()
  if (
    METHOD_TOKEN.test(method) &&
    !NEVER_ALLOWED.has(method.toUpperCase()) &&
    !methods.includes(method)
  ) {
    methods.push(method)
  }
  return methods.join(', ')
}

/**
 * Creates the CORS middleware. It runs first, so that every answer (the `/auth` API, proxied
 * responses, their 401s and 403s, and every other error) carries the headers, and a preflight
 * (`OPTIONS` with `Access-Control-Request-Method`) from a listed origin is answered 204 before any
 * session work: a preflight carries no cookies.
 */
export function corsMiddleware(options: CorsOptions): MiddlewareHandler {
  const allowed = new Set(options.allowedOrigins)

  return async function cors(c, next) {
    const origin = c.req.header('Origin')
    // Browsers send the origin serialized, lower-case; a listed origin is echoed as it came.
    const listed = origin !== undefined && allowed.has(origin.toLowerCase())
    const requestedMethod = c.req.header('Access-Control-Request-Method')
    if (listed && c.req.method === 'OPTIONS' && requestedMethod !== undefined) {
      return c.body(null, 204, {
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Allow-Methods': allowedMethods(requestedMethod),
        'Access-Control-Allow-Headers': CORS_ALLOW_HEADERS.join(', '),
        'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE),
        Vary: 'Origin',
      })
    }
    await next()
    const headers = c.res.headers
    for (const name of [...headers.keys()]) {
      if (name.startsWith('access-control-')) headers.delete(name)
    }
    // Whatever the Origin, a cache must not hand one origin's answer to another.
    addVary(headers, 'Origin')
    if (listed) {
      headers.set('Access-Control-Allow-Origin', origin)
      headers.set('Access-Control-Allow-Credentials', 'true')
    }
  }
}
