/**
 * Request rate limits, as DRF's `UserRateThrottle` and `AnonRateThrottle`, over Workers Rate
 * Limiting bindings: `USER_RATE_LIMITER` counts a signed-in user's requests by user id (whether a
 * session or an API token authenticated them), `ANON_RATE_LIMITER` an anonymous client's by its
 * address (the trusted one: `c.var.clientIp`). Over the limit: 429 with `Retry-After` and DRF's
 * message, the wait being the binding's period. Without a binding there is no limit.
 *
 * The bindings count per Cloudflare location and eventually, by design: a limit is a guard
 * against floods, not an exact quota (the failed-login throttle, which must be exact, is in D1).
 */
import type { MiddlewareHandler } from 'hono'
import type { AuthVariables } from '../auth'
import type { Env } from '../env'
import { Throttled } from '../errors'
import type { RequestVariables } from '../request'

export interface RateLimitOptions {
  /** USER_RATE_LIMIT_PERIOD: the user limiter's period in seconds. Default 60. */
  userPeriod?: number
  /** ANON_RATE_LIMIT_PERIOD: the anonymous limiter's period in seconds. Default 60. */
  anonPeriod?: number
}

/** Creates the rate-limit middleware; it must run after the auth middleware. */
export function rateLimitMiddleware(
  options: RateLimitOptions = {},
): MiddlewareHandler<{ Bindings: Env; Variables: RequestVariables & AuthVariables }> {
  const userPeriod = options.userPeriod ?? 60
  const anonPeriod = options.anonPeriod ?? 60

  return async function rateLimit(c, next) {
    const user = c.var.user
    const limiter = user ? c.env.USER_RATE_LIMITER : c.env.ANON_RATE_LIMITER
    if (limiter) {
      const key = user ? `user:${user.id}` : `ip:${c.var.clientIp}`
      let allowed = true
      try {
        allowed = (await limiter.limit({ key })).success
      } catch (error) {
        // A limiter that fails lets the request through: it guards against floods, and its
        // outage must not take every request down with it.
        console.warn('Rate limiter failed', error)
      }
      if (!allowed) throw new Throttled(user ? userPeriod : anonPeriod)
    }
    await next()
  }
}
