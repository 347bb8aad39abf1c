/**
 * The gateway: the policy in front of ORIGIN_URL, the proxy to it, forward-auth
 * (`GET /auth/verify`) for nginx/Traefik/Caddy, identity assertions and their JWKS.
 *
 * Nothing here reads KV or D1: by the time a handler runs, the session and auth middleware have
 * set `c.var.user` from one KV read, and the hot path must stay at that.
 */
import type { Context } from 'hono'
import type { Config } from '../config'
import type { AppEnv } from '../context'
import {
  BadRequestPath,
  ImproperlyConfigured,
  MethodNotAllowed,
  NOT_AUTHENTICATED,
  NotFound,
  PermissionDenied,
} from '../errors'
import type { Session, UserSnapshot } from '../session'
import { AssertionSigner } from './assertion'
import { headerSafe, upstreamRequestHeaders } from './headers'
import {
  type Access,
  accessFor,
  type CompiledPolicy,
  compilePolicy,
  isBrowserNavigation,
  originalPath,
  type Requirement,
  stricter,
} from './policy'
import { forward } from './proxy'

export { ASSERTION_LIFETIME_SECONDS, AssertionSigner, type PublicJwk } from './assertion'
export { type PathReading, readPath } from './paths'
export { compileGlob, compilePolicy, type Requirement } from './policy'

/** The identity headers, as the origin (or the forward-auth proxy) receives them. */
const USER_ID_HEADER = 'X-Auth-User-Id'
const USERNAME_HEADER = 'X-Auth-Username'
const ASSERTION_HEADER = 'X-Auth-Assertion'

/** The sign-in page anonymous browser navigations are sent to. */
const LOGIN_PATH = '/auth/login'

export interface GatewayOptions {
  /** The clock (ms) for assertion times. Default `Date.now`. */
  now?: () => number
}

type Ctx = Context<AppEnv>

/** The gateway's handlers, built once per app from the configuration. */
export interface Gateway {
  readonly signer: AssertionSigner
  readonly policy: CompiledPolicy
  /** `GET /.well-known/jwks.json`: the public keys, cacheable, no session work. */
  jwks(c: Ctx): Promise<Response>
  /** `GET /auth/verify`: forward-auth for nginx `auth_request`, Traefik and Caddy. */
  verify(c: Ctx): Promise<Response>
  /** Every path outside `/auth/*`, `/.well-known/*` and `/healthz`: the proxy to ORIGIN_URL. */
  proxy(c: Ctx): Promise<Response>
}

/** Paths the gateway never proxies, whatever the method. */
function isReservedPath(path: string): boolean {
  return (
    path === '/auth' ||
    path.startsWith('/auth/') ||
    path === '/.well-known' ||
    path.startsWith('/.well-known/') ||
    path === '/healthz'
  )
}

/**
 * Methods the proxy never forwards: TRACE (and TRACK, IIS's alias) make the origin echo the
 * request back, so cross-site tracing could read HttpOnly cookies and the gateway's identity
 * headers from the response.
 */
export const NEVER_PROXIED_METHODS: ReadonlySet<string> = new Set(['TRACE', 'TRACK'])

/** The `Allow` header of the 405 for a never-proxied method. */
const PROXIED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/** The sign-in URL that comes back to `url` (path and query) after login. */
function loginRedirect(url: URL): string {
  return `${LOGIN_PATH}?next=${encodeURIComponent(url.pathname + url.search)}`
}

/**
 * Builds the gateway. Throws `ImproperlyConfigured` (a 500 naming the setting, at start-up) when
 * ORIGIN_URL is set outside DEBUG without ASSERTION_KEYS: an origin must be able to verify who
 * is calling, and a per-isolate key would change under it at every deploy and isolate.
 */
export function createGateway(config: Config, options: GatewayOptions = {}): Gateway {
  if (config.originUrl && config.assertionKeys.length === 0 && !config.debug) {
    throw new ImproperlyConfigured(
      'ASSERTION_KEYS',
      'is not set: it is required with ORIGIN_URL outside DEBUG (make one with `npm run keys -- generate`).',
    )
  }
  const signer = new AssertionSigner({
    keys: config.assertionKeys,
    allowEphemeral: config.debug,
    issuer: config.assertionIssuer,
    // Without an origin (forward-auth only) and no ASSERTION_AUDIENCE, the issuer names both ends.
    audience: config.assertionAudience ?? config.assertionIssuer,
    now: options.now,
  })
  const policy = compilePolicy({ publicPaths: config.publicPaths, staffPaths: config.staffPaths })
  const reservedCookies = [config.sessionCookieName, config.csrfCookieName]

  async function identityHeaders(
    user: UserSnapshot,
    session: Session,
    clientIp: string,
  ): Promise<Record<string, string>> {
    return {
      [USER_ID_HEADER]: String(user.id),
      [USERNAME_HEADER]: headerSafe(user.username),
      [ASSERTION_HEADER]: await signer.assertionFor(user, session.id, clientIp, session.amr ?? []),
    }
  }

  /** Throws the 401/403 for a refused request, or returns when it may pass. */
  function enforce(access: Access): void {
    if (access === 'login') throw NOT_AUTHENTICATED
    if (access === 'deny') throw new PermissionDenied()
  }

  return {
    signer,
    policy,

    async jwks(c) {
      return c.json(await signer.jwks(), 200, { 'Cache-Control': 'public, max-age=300' })
    },

    async verify(c) {
      const user = c.var.user
      // nginx sends X-Original-URI (by convention); Traefik and Caddy send X-Forwarded-Uri. A
      // proxy sets its own but may pass the other on from the client, so both count and the
      // stricter wins: a client-sent header can only tighten the policy, never relax it. A URI
      // whose path cannot be read one way only (a comma included: see originalPath) is a 400.
      const uris = [c.req.header('X-Original-URI'), c.req.header('X-Forwarded-Uri')].filter(
        (uri) => uri !== undefined,
      )
      // Without a URI only the login is checked.
      let requirement: Requirement = uris.length === 0 ? 'user' : 'public'
      for (const uri of uris) {
        const path = originalPath(uri)
        const required = path === null ? null : policy.requirementFor(path)
        if (required === null) throw new BadRequestPath()
        requirement = stricter(requirement, required)
      }
      enforce(accessFor(requirement, user))
      const headers = new Headers(
        user ? await identityHeaders(user, c.var.session, c.var.clientIp) : {},
      )
      headers.set('Cache-Control', 'no-store')
      return new Response(null, { status: 200, headers })
    },

    async proxy(c) {
      if (NEVER_PROXIED_METHODS.has(c.req.method)) {
        throw new MethodNotAllowed(c.req.method, PROXIED_METHODS)
      }
      const url = new URL(c.req.url)
      const origin = config.originUrl
      if (!origin || isReservedPath(url.pathname)) throw new NotFound()
      // The origin gets this very pathname (proxy.ts), so this is what every reading starts from.
      const requirement = policy.requirementFor(url.pathname)
      if (requirement === null) throw new BadRequestPath()
      const user = c.var.user
      const access = accessFor(requirement, user)
      if (access === 'login' && isBrowserNavigation(c.req.method, c.req.header('Accept'))) {
        return c.redirect(loginRedirect(url), 302)
      }
      enforce(access)
      const headers = upstreamRequestHeaders(
        c.req.raw.headers,
        {
          clientIp: c.var.clientIp,
          secure: c.var.site.secure,
          host: c.var.site.host,
          sessionCookieName: config.sessionCookieName,
        },
        user ? await identityHeaders(user, c.var.session, c.var.clientIp) : {},
      )
      return forward(c.req.raw, url, headers, {
        origin,
        timeoutMs: config.originTimeoutMs,
        reservedCookies,
      })
    },
  }
}
