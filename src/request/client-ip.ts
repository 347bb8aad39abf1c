/**
 * The client's address. In production Cloudflare sets `CF-Connecting-IP` and a client cannot
 * override it, so that is the address, and a client-sent `X-Forwarded-For` is never read.
 *
 * Behind a proxy that calls the gateway itself (forward-auth with nginx, Caddy or Traefik), every
 * request comes from the proxy, so every client would share its address and its login throttle.
 * Such a proxy proves itself with TRUSTED_PROXY_SECRET in `X-Trusted-Proxy-Secret`; then the
 * right-most `X-Forwarded-For` entry, the one that proxy appended, is the client. Entries to its
 * left were sent by the client and are never read.
 */

import { isIpAddress } from '../throttle/network'
import { constantTimeEqual } from '../utils/crypto'

/** The header a trusted proxy sends TRUSTED_PROXY_SECRET in. */
const TRUSTED_PROXY_HEADER = 'X-Trusted-Proxy-Secret'

/**
 * The client's address: the right-most `X-Forwarded-For` entry when the request carries the
 * trusted proxy's secret and that entry is an IP address, else `CF-Connecting-IP`, else
 * `unknown` (local tools that set neither).
 */
export function clientIpOf(headers: Headers, trustedProxySecret: string | null): string {
  if (trustedProxySecret !== null) {
    const sent = headers.get(TRUSTED_PROXY_HEADER)
    if (sent !== null && constantTimeEqual(sent, trustedProxySecret)) {
      const forwarded = headers.get('X-Forwarded-For')?.split(',').pop()?.trim()
      if (forwarded && isIpAddress(forwarded)) return forwarded
    }
  }
  return headers.get('CF-Connecting-IP')?.trim() || 'unknown'
}
