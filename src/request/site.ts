/**
 * The request as its client made it: scheme and host. Behind a TLS-terminating proxy the Worker
 * may see `http:` and the proxy's own host; Django's SECURE_PROXY_SSL_HEADER and
 * USE_X_FORWARDED_HOST say which headers of that proxy to believe. Without them, only the URL.
 */
import { parseUrl } from '../utils/url'

export interface SiteOptions {
  /** SECURE_PROXY_SSL_HEADER: its value `https` (the first, if a list) makes the request secure. */
  secureProxySslHeader?: string | null
  /** USE_X_FORWARDED_HOST: the host comes from X-Forwarded-Host (its first entry). */
  useXForwardedHost?: boolean
}

/** What the client asked for: `c.var.site`. The origin is worked out only when asked for. */
export class Site {
  /** Whether the client spoke HTTPS (cookies get `Secure`). */
  readonly secure: boolean
  #origin: string | undefined

  constructor(
    private readonly request: Request,
    private readonly options: SiteOptions,
  ) {
    const header = options.secureProxySslHeader
    if (header) {
      const value = request.headers.get(header)
      this.secure =
        value !== null ? value.split(',')[0]?.trim().toLowerCase() === 'https' : isHttps(request)
    } else {
      this.secure = isHttps(request)
    }
  }

  /** The host (and port) the client asked for (Django's `get_host`). */
  get host(): string {
    if (this.options.useXForwardedHost) {
      const forwarded = this.request.headers.get('X-Forwarded-Host')?.split(',')[0]?.trim()
      if (forwarded) return forwarded
    }
    return parseUrl(this.request.url)?.host ?? ''
  }

  /** `scheme://host[:port]`: the origin the client's browser sees, for CSRF checks and links. */
  get origin(): string {
    this.#origin ??= `${this.secure ? 'https' : 'http'}://${this.host}`
    return this.#origin
  }
}

/** Request URLs are absolute: a prefix test avoids parsing one on every request. */
function isHttps(request: Request): boolean {
  return request.url.startsWith('https:')
}
