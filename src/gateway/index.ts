/**
 * The gateway: the policy (the route table) in front of the origins, the proxy to them (WebSocket
 * upgrades included), forward-auth (`GET /auth/verify`) for nginx/Traefik/Caddy, identity
 * assertions and their JWKS.
 *
 * Nothing here reads KV or D1: by the time a handler runs, the session and auth middleware have
 * set `c.var.user` from one KV read, and the hot path must stay at that.
 */
import type { Context } from 'hono'
import type { Credential } from '../auth'
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
import type { UserSnapshot } from '../session'
import { sessionCacheCookieName } from '../session/cache'
import { isTokenAuthorization } from '../tokens/key'
import { AssertionSigner } from './assertion'
import { headerSafe, isWebSocketUpgrade, upstreamRequestHeaders } from './headers'
import {
  type Access,
  accessFor,
  type CompiledPolicy,
  compilePolicy,
  type Decision,
  isBrowserNavigation,
  originalPath,
  SIGNED_IN,
  stricter,
} from './policy'
import { forward } from './proxy'

export { ASSERTION_LIFETIME_SECONDS, AssertionSigner, type PublicJwk } from './assertion'
export { type PathReading, readPath } from './paths'
export { compileGlob, compilePolicy, type Decision, type Requirement } from './policy'

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
  /** Every path outside `/auth/*`, `/.well-known/*` and `/healthz`: the proxy to the routes. */
  proxy(c: Ctx): Promise<Response>
  /**
   * Whether a request may stand on the session cache (SESSION_CACHE_SECONDS): a GET or HEAD to a
   * proxied route whose requirement is a signed-in user at most, never staff, superuser or MFA,
   * and never `/auth/*`: those always read KV, so a revocation stops them at once.
   */
  sessionCacheable(c: Context): boolean
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

/** The 403 of a path that needs a multi-factor sign-in the session did not make. */
const MFA_REQUIRED = 'Multi-factor authentication required.'

/** RFC 9110 method tokens, for the methods forward-auth proxies pass on. */
const METHOD_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** The sign-in URL that comes back to `url` (path and query) after login. */
function loginRedirect(url: URL): string {
  return `${LOGIN_PATH}?next=${encodeURIComponent(url.pathname + url.search)}`
}

/**
 * The methods a forward-auth proxy says the client used: Traefik and Caddy send
 * `X-Forwarded-Method`, nginx whatever its config sets (`X-Original-Method` by convention). Both
 * count, and a header sent twice arrives joined by commas, so every value counts; an empty list
 * when neither is sent (the method is then unknown), null when one is not a method.
 */
function forwardedMethods(c: Ctx): string[] | null {
  const methods: string[] = []
  for (const name of ['X-Forwarded-Method', 'X-Original-Method']) {
    const value = c.req.header(name)
    if (value === undefined) continue
    for (const part of value.split(',')) {
      const method = part.trim()
      if (!METHOD_TOKEN.test(method)) return null
      methods.push(method.toUpperCase())
    }
  }
  return methods
}

/**
 * Builds the gateway. Throws `ImproperlyConfigured` (a 500 naming the setting, at start-up) when
 * a route has an origin outside DEBUG without ASSERTION_KEYS: an origin must be able to verify
 * who is calling, and a per-isolate key would change under it at every deploy and isolate.
 */
export function createGateway(config: Config, options: GatewayOptions = {}): Gateway {
  const proxying = config.routes.some((route) => route.origin !== null)
  if (proxying && config.assertionKeys.length === 0 && !config.debug) {
    throw new ImproperlyConfigured(
      'ASSERTION_KEYS',
      'is not set: it is required with ORIGIN_URL or a route origin outside DEBUG (make one with `npm run keys -- generate`).',
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
  const policy = compilePolicy({ routes: config.routes, mfaPaths: config.mfaPaths })
  // The origin may neither set nor read the gateway's own cookies (its session cache's included).
  const cacheCookieName = sessionCacheCookieName(config.sessionCookieName)
  const reservedCookies = [config.sessionCookieName, config.csrfCookieName, cacheCookieName]

  /** The identity headers for `user`, signed in by `credential` (a session or an API token). */
  async function identityHeaders(
    user: UserSnapshot,
    credential: Credential | null,
    clientIp: string,
    audience?: string,
  ): Promise<Record<string, string>> {
    const amr = credential?.amr ?? []
    const id = credential?.id ?? ''
    return {
      [USER_ID_HEADER]: String(user.id),
      [USERNAME_HEADER]: headerSafe(user.username),
      [ASSERTION_HEADER]: await signer.assertionFor(user, id, clientIp, amr, audience),
    }
  }

  /** Throws the 401/403 for a refused request, or returns when it may pass. */
  function enforce(access: Access): void {
    if (access === 'login') throw NOT_AUTHENTICATED
    if (access === 'deny') throw new PermissionDenied()
    if (access === 'mfa') throw new PermissionDenied(MFA_REQUIRED, 'mfa_required')
  }

  /** The route of a decision, or the 400 or 404 it stands for. */
  function routed(decision: Decision): Extract<Decision, { kind: 'route' }> {
    if (decision.kind === 'unreadable') throw new BadRequestPath()
    if (decision.kind === 'unrouted') throw new NotFound()
    return decision
  }

  return {
    signer,
    policy,

    sessionCacheable(c) {
      const method = c.req.method
      if (method !== 'GET' && method !== 'HEAD') return false
      const path = new URL(c.req.url).pathname
      if (!proxying || isReservedPath(path)) return false
      const decision = policy.decide(path, method)
      if (decision.kind !== 'route') return false
      const needs = decision.requirement
      // Like the staff flag, a group change must take effect at once on the routes it gates.
      return !needs.staff && !needs.superuser && !needs.mfa && needs.groups.length === 0
    },

    async jwks(c) {
      return c.json(await signer.jwks(), 200, { 'Cache-Control': 'public, max-age=300' })
    },

    async verify(c) {
      const user = c.var.user
      // nginx sends X-Original-URI (by convention); Traefik and Caddy send X-Forwarded-Uri. A
      // proxy sets its own but may pass the other on from the client, so both count and the
      // stricter wins: a client-sent header can only tighten the policy, never relax it. A URI
      // whose path cannot be read one way only (a comma included: see originalPath) is a 400.
      // The methods are read the same way; without one, the answer must hold for any method.
      const uris = [c.req.header('X-Original-URI'), c.req.header('X-Forwarded-Uri')].filter(
        (uri) => uri !== undefined,
      )
      const methods = forwardedMethods(c)
      if (methods === null) throw new BadRequestPath()
      let decision: Decision | null = null
      for (const uri of uris) {
        const path = originalPath(uri)
        if (path === null) throw new BadRequestPath()
        for (const method of methods.length > 0 ? methods : [null]) {
          const next = policy.decide(path, method)
          decision = decision ? stricter(decision, next) : next
        }
      }
      // Without a URI only the login is checked.
      const route = decision ? routed(decision) : null
      const credential = c.var.credential
      enforce(accessFor(route?.requirement ?? SIGNED_IN, user, credential?.amr ?? []))
      const headers = new Headers(
        user ? await identityHeaders(user, credential, c.var.clientIp, route?.audience) : {},
      )
      headers.set('Cache-Control', 'no-store')
      return new Response(null, { status: 200, headers })
    },

    async proxy(c) {
      if (NEVER_PROXIED_METHODS.has(c.req.method.toUpperCase())) {
        throw new MethodNotAllowed(c.req.method, PROXIED_METHODS)
      }
      const url = new URL(c.req.url)
      if (!proxying || isReservedPath(url.pathname)) throw new NotFound()
      // The origin gets this very pathname (proxy.ts), so this is what every reading starts from.
      // Methods are matched upper-case: an origin may read `post` as POST.
      const route = routed(policy.decide(url.pathname, c.req.method.toUpperCase()))
      const origin = route.origin
      if (!origin) throw new NotFound()
      const user = c.var.user
      const credential = c.var.credential
      const access = accessFor(route.requirement, user, credential?.amr ?? [])
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
          privateCookies: [cacheCookieName],
          dropAuthorization: isTokenAuthorization(c.req.header('Authorization')),
          webSocket: isWebSocketUpgrade(c.req.method, c.req.raw.headers),
        },
        user ? await identityHeaders(user, credential, c.var.clientIp, route.audience) : {},
      )
      return forward(c.req.raw, url, headers, {
        origin,
        timeoutMs: config.originTimeoutMs,
        reservedCookies,
      })
    },
  }
}
