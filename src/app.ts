/**
 * createApp(config): wires the middleware and the routes, nothing else. The request flows one
 * way: CORS → session → auth → rate limits → CSRF → route (the /auth API, or the gateway) → response.
 */
import { type Context, Hono } from 'hono'
import type { Hashers } from './accounts/hashers'
import { authMiddleware, confirmSaved } from './auth'
import { LastSeen } from './auth/last-seen'
import type { Config } from './config'
import type { AppEnv } from './context'
import { corsMiddleware } from './cors'
import { csrfMiddleware } from './csrf'
import { errorResponse, NotFound, toErrorResponse } from './errors'
import { createGateway } from './gateway'
import { requestMiddleware } from './request'
import { authRoutes } from './routes/auth'
import { isFormRequest, readBody } from './routes/body'
import { route } from './routes/methods'
import { BACKCHANNEL_LOGOUT_PATH } from './routes/sso'
import { recordSigner, sessionMiddleware } from './session'
import { RecentRevocations, SessionCacheSigner } from './session/cache'
import { guardBindings } from './storage'
import { rateLimitMiddleware } from './throttle/rate-limit'

export interface AppDependencies {
  /** The password hashers (built once per isolate from the argon2 WASM module). */
  hashers: Hashers
  /** The clock (ms). Default `Date.now`; tests move it with fake timers. */
  now?: () => number
}

/** Builds the sessiongate app for a validated configuration. */
export function createApp(config: Config, deps: AppDependencies): Hono<AppEnv> {
  const now = deps.now ?? (() => Date.now())
  const app = new Hono<AppEnv>()
  app.onError((error) => toErrorResponse(error))
  app.notFound(() => errorResponse(new NotFound()))
  // First, so that every answer carries its headers, errors included (src/cors).
  if (config.corsAllowedOrigins.length > 0) {
    app.use('*', corsMiddleware({ allowedOrigins: config.corsAllowedOrigins }))
  }
  // KV and D1 failures become 503s, wherever they happen (src/storage).
  app.use('*', async function storage(c, next) {
    c.env = guardBindings(c.env)
    await next()
  })
  app.use(
    '*',
    requestMiddleware({
      allowedHosts: config.allowedHosts,
      trustedProxySecret: config.trustedProxySecret,
      secureProxySslHeader: config.secureProxySslHeader,
      useXForwardedHost: config.useXForwardedHost,
    }),
  )

  // Before the session middleware: a health check touches no storage.
  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  const gateway = createGateway(config, { now })
  // Public keys are the same for everyone: no session work, cacheable.
  route(app, '/.well-known/jwks.json', { GET: gateway.jwks })

  app.use('/auth/*', async function noStore(c, next) {
    await next()
    c.res.headers.set('Cache-Control', 'no-store')
  })
  const secrets = [config.secretKey, ...config.secretKeyFallbacks]
  const records = recordSigner(secrets)
  // Revocations made in this isolate outdate the session cache's copies issued before them.
  const revocations = new RecentRevocations()
  const cache =
    config.sessionCacheSeconds > 0
      ? {
          seconds: config.sessionCacheSeconds,
          signer: new SessionCacheSigner(secrets),
          revocations,
          isCacheable: (c: Context) => gateway.sessionCacheable(c),
        }
      : undefined
  app.use(
    '*',
    sessionMiddleware({
      signer: records,
      cookieName: config.sessionCookieName,
      age: config.sessionCookieAge,
      domain: config.sessionCookieDomain,
      expireAtBrowserClose: config.sessionExpireAtBrowserClose,
      now,
      afterSave: (c, kvKey, record) => confirmSaved(c.get('accounts'), kvKey, record),
      cache,
    }),
    authMiddleware({
      hashers: deps.hashers,
      secrets,
      records,
      now,
      lastSeen: new LastSeen(),
      lastUsed: new LastSeen(),
      revocations,
    }),
    rateLimitMiddleware({
      userPeriod: config.userRateLimitPeriod,
      anonPeriod: config.anonRateLimitPeriod,
    }),
    csrfMiddleware({
      // A page of an origin allowed to call with credentials may also send unsafe requests.
      trustedOrigins: [...config.csrfTrustedOrigins, ...config.corsAllowedOrigins],
      // Called by identity providers, server to server: the logout token's signature is its
      // authentication (OpenID Connect Back-Channel Logout 1.0). And no cookie authenticates a
      // token request: nothing for a forged cross-site request to ride.
      exempt: (c) =>
        c.get('credential')?.kind === 'token' ||
        (c.req.method === 'POST' && BACKCHANNEL_LOGOUT_PATH.test(c.req.path)),
      cookieName: config.csrfCookieName,
      // DRF enforces the token only for requests the session cookie authenticated.
      isSessionAuthenticated: (c) => c.get('credential')?.kind === 'session',
      formToken: async (c) => {
        // Only /auth bodies are parsed here; proxied bodies stream to the origin untouched.
        if (!c.req.path.startsWith('/auth/') || !isFormRequest(c.req.raw)) return undefined
        const body = (await readBody(c)) as Record<string, unknown>
        return typeof body.csrfmiddlewaretoken === 'string' ? body.csrfmiddlewaretoken : undefined
      },
      now,
    }),
  )
  app.route('/auth', authRoutes(config, gateway))
  // Everything else goes to the routes' origins, behind the policy (404 when there is none).
  app.all('*', gateway.proxy)
  return app
}
