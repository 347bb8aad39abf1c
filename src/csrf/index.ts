/**
 * CSRF protection as DRF's `SessionAuthentication.enforce_csrf`, for every unsafe method (JSON
 * included): first the origin check for everyone, then, for requests authenticated by the
 * session cookie, the token check against the `csrftoken` cookie. Safe methods are never
 * blocked, except a WebSocket handshake, which gets the origin check (as Django Channels'
 * `OriginValidator`). Failures are 403s with DRF's messages.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import { PermissionDenied } from '../errors'
import type { RequestVariables } from '../request'
import { serializeCookie } from '../utils/cookies'
import { failedOrigin } from './origin'
import { maskSecret, newCsrfSecret, secretFromCookie, tokenMatches } from './tokens'

export { isTrustedOrigin } from './origin'
export { maskSecret, tokenMatches, unmaskToken } from './tokens'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
/** Django's CSRF_COOKIE_AGE: 52 weeks. */
const CSRF_COOKIE_AGE = 31_449_600

/** Whether a request asks to upgrade to a WebSocket (any method: the origin check costs little). */
function isWebSocketHandshake(headers: Headers): boolean {
  return /(?:^|,)\s*websocket\s*(?:,|$)/i.test(headers.get('Upgrade') ?? '')
}

/** The request's CSRF state: `c.var.csrf`. */
export class CsrfState {
  /** The secret the response's cookie will carry, once decided. */
  responseSecret: string | undefined

  constructor(readonly cookieSecret: string | null) {}

  /**
   * Django's `get_token()`: the masked token for this request's secret (the cookie's, or a new
   * one); the cookie is (re)set on the response.
   */
  getToken(): string {
    this.responseSecret ??= this.cookieSecret ?? newCsrfSecret()
    return maskSecret(this.responseSecret)
  }

  /** Django's `rotate_token()`, called at login: a new secret, and so a new cookie. */
  rotate(): string {
    this.responseSecret = newCsrfSecret()
    return maskSecret(this.responseSecret)
  }
}

/** What the CSRF middleware sets on the context. */
export type CsrfVariables = { csrf: CsrfState }

export interface CsrfOptions {
  /** CSRF_TRUSTED_ORIGINS, normalised by config.ts. Default none. */
  trustedOrigins?: readonly string[]
  /** CSRF_COOKIE_NAME. Default `csrftoken`. */
  cookieName?: string
  /** Whether this request is authenticated by the session cookie (then the token is required). */
  isSessionAuthenticated: (c: Context) => boolean
  /** The `csrfmiddlewaretoken` form field, for routes that parse form bodies. Default none. */
  formToken?: (c: Context) => Promise<string | undefined>
  /** The clock (ms) for the cookie's Expires. Default `Date.now`. */
  now?: () => number
  /**
   * Whether the request is exempt from the checks (Django's `csrf_exempt`): for endpoints called
   * server to server that authenticate by what they carry, and for requests an API token in
   * `Authorization` authenticated, which a browser never adds by itself (DRF's
   * TokenAuthentication does not enforce CSRF). Default none.
   */
  exempt?: (c: Context) => boolean
}

/** Creates the CSRF middleware; it must run after the auth middleware. */
export function csrfMiddleware(
  options: CsrfOptions,
): MiddlewareHandler<{ Variables: RequestVariables & CsrfVariables }> {
  const trusted = options.trustedOrigins ?? []
  const cookieName = options.cookieName ?? 'csrftoken'
  const now = options.now ?? Date.now

  return async function csrf(c, next) {
    const state = new CsrfState(secretFromCookie(getCookie(c, cookieName)))
    c.set('csrf', state)
    const unsafe = !SAFE_METHODS.has(c.req.method)
    // A WebSocket handshake is a GET that browsers send cross-site with the cookies and no way
    // to add a token (cross-site WebSocket hijacking): its origin is checked as for a POST.
    if ((unsafe || isWebSocketHandshake(c.req.raw.headers)) && !options.exempt?.(c)) {
      const rejected = failedOrigin(
        { origin: c.req.header('Origin'), secFetchSite: c.req.header('Sec-Fetch-Site') },
        c.var.site.origin,
        trusted,
      )
      if (rejected !== null) {
        throw csrfFailed(`Origin checking failed - ${rejected} does not match any trusted origins.`)
      }
      if (unsafe && options.isSessionAuthenticated(c)) {
        const secret = state.cookieSecret
        if (secret === null) throw csrfFailed('CSRF cookie not set.')
        const token = c.req.header('X-CSRFToken') ?? (await options.formToken?.(c))
        if (token === undefined || token === '') throw csrfFailed('CSRF token missing.')
        if (!tokenMatches(token, secret)) throw csrfFailed('CSRF token incorrect.')
      }
    }
    await next()
    const secret = state.responseSecret
    if (secret !== undefined && c.res.status < 500) {
      c.res.headers.append(
        'Set-Cookie',
        serializeCookie(cookieName, secret, {
          maxAge: CSRF_COOKIE_AGE,
          now: now(),
          secure: c.var.site.secure,
          sameSite: 'Lax',
        }),
      )
    }
  }

  function csrfFailed(reason: string): PermissionDenied {
    return new PermissionDenied(`CSRF Failed: ${reason}`, 'csrf_failed')
  }
}
