/**
 * What the gateway knows about a request before any session work: whether its Host is allowed
 * (Django's ALLOWED_HOSTS), who the client is (`c.var.clientIp`) and what scheme and host it asked
 * for (`c.var.site`). Runs first, so a request
 * for a foreign host costs no storage at all.
 */
import type { MiddlewareHandler } from 'hono'
import { ApiError } from '../errors'
import { clientIpOf } from './client-ip'
import { hostAllowed } from './hosts'
import { Site, type SiteOptions } from './site'

export { clientIpOf } from './client-ip'
export { hostAllowed } from './hosts'
export { Site } from './site'

/** What the request middleware sets on the context. */
export type RequestVariables = {
  /** The client's address, for the throttle, the audit log and the origin (see `clientIpOf`). */
  clientIp: string
  /** The scheme and host the client asked for (behind a proxy, as its headers say). */
  site: Site
}

export interface RequestMiddlewareOptions extends SiteOptions {
  /** ALLOWED_HOSTS, as Django writes them. Default: empty, every host is allowed. */
  allowedHosts?: readonly string[]
  /** TRUSTED_PROXY_SECRET. Default none: X-Forwarded-For is never read. */
  trustedProxySecret?: string | null
}

/** Django's DisallowedHost, answered as a 400 (Django's `SuspiciousOperation`). */
export class DisallowedHost extends ApiError {
  constructor() {
    super(400, 'invalid_host', 'Invalid HTTP_HOST header.')
  }
}

/** Creates the request middleware; see `RequestMiddlewareOptions` for the defaults. */
export function requestMiddleware(
  options: RequestMiddlewareOptions = {},
): MiddlewareHandler<{ Variables: RequestVariables }> {
  const allowedHosts = options.allowedHosts ?? []
  const secret = options.trustedProxySecret ?? null

  return async function request(c, next) {
    const site = new Site(c.req.raw, options)
    c.set('site', site)
    if (allowedHosts.length > 0 && !hostAllowed(site.host, allowedHosts)) {
      throw new DisallowedHost()
    }
    c.set('clientIp', clientIpOf(c.req.raw.headers, secret))
    await next()
  }
}
