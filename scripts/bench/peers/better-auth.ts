/**
 * The peer of `npm run bench:peers`: better-auth as its Cloudflare users run it. A Hono app on
 * Workers, the D1 binding handed to better-auth as its database (its own D1 dialect), KV as its
 * `secondaryStorage` (where the sessions then live), email and password sign-in with the
 * default scrypt hasher, and the auth instances built once per isolate.
 *
 * Two instances share the database and KV: `/api/auth/*` with the cookie cache off (every
 * `getSession` reads KV) and `/cached/api/auth/*` with it on (better-auth's documented default
 * of 5 minutes: a signed copy of the session in a cookie answers `getSession` without storage).
 * Each is read two ways: its own `GET .../get-session` endpoint, and `GET /me` (`/cached/me`),
 * an app route behind a middleware that calls `auth.api.getSession`.
 *
 * The KV and D1 bindings are wrapped in the same counters as sessiongate's bench entry
 * (../counting.ts), and the same bench-only paths answer: `GET /__bench/counters`,
 * `POST /__bench/reset`, `GET /__bench/kv-get?key=K`; plus `POST /__bench/migrate`, which
 * creates better-auth's tables with its own migrations (what `npx auth migrate` runs).
 *
 * Bundled by wrangler from scripts/bench/peers/node_modules (installed by `npm run bench:peers`),
 * never part of sessiongate: it is left out of the project's own type checks for that reason
 * (`npx tsc --noEmit -p scripts/bench/peers` checks it once the peers are installed).
 */
import { type BetterAuthOptions, betterAuth, type User } from 'better-auth'
import { getMigrations } from 'better-auth/db/migration'
import { Hono } from 'hono'
import { countingD1, countingKv, emptyCounts, type StorageCounts } from '../counting'

interface PeerEnv {
  DB: D1Database
  SESSIONS: KVNamespace
  BETTER_AUTH_SECRET: string
  /** The Worker's own origin, as better-auth asks (`http://127.0.0.1:PORT` in the bench). */
  BETTER_AUTH_URL: string
}

/** KV refuses an expiration TTL under 60 seconds. */
const KV_MIN_TTL_SECONDS = 60

/**
 * better-auth's `SecondaryStorage` over a KV namespace, as its Cloudflare users write it. KV has
 * no atomic read-and-delete or increment: those two are a read then a write, which is all KV
 * offers (better-auth uses `increment` only for rate limiting in secondary storage, off here).
 */
function kvSecondaryStorage(kv: KVNamespace): NonNullable<BetterAuthOptions['secondaryStorage']> {
  const put = (key: string, value: string, ttl?: number) =>
    kv.put(
      key,
      value,
      ttl ? { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, Math.ceil(ttl)) } : undefined,
    )
  return {
    get: (key) => kv.get(key),
    set: (key, value, ttl) => put(key, value, ttl),
    delete: (key) => kv.delete(key),
    async getAndDelete(key) {
      const value = await kv.get(key)
      if (value !== null) await kv.delete(key)
      return value
    },
    async increment(key, ttl) {
      const next = Number((await kv.get(key)) ?? 0) + 1
      await put(key, String(next), ttl)
      return next
    },
  }
}

/** The options both instances share; only the cookie cache and the base path differ. */
function authOptions(env: PeerEnv, cookieCache: boolean): BetterAuthOptions {
  return {
    secret: env.BETTER_AUTH_SECRET,
    baseURL: env.BETTER_AUTH_URL,
    basePath: cookieCache ? '/cached/api/auth' : '/api/auth',
    database: env.DB,
    secondaryStorage: kvSecondaryStorage(env.SESSIONS),
    emailAndPassword: { enabled: true },
    session: { cookieCache: { enabled: cookieCache, maxAge: 5 * 60 } },
    // Off, like sessiongate's request limits without their bindings: better-auth's limiter would
    // count every request of the load (one client address) in KV, which allows 1 write/s per key.
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
  }
}

let counts = emptyCounts()
/** Over the isolate's life: distinct `env` objects seen, and auth instances built. */
const lifetime = { envObjects: 0, configLoads: 0 }

function buildApp(env: PeerEnv) {
  lifetime.envObjects++
  const current = (): StorageCounts => counts
  const counted: PeerEnv = {
    ...env,
    DB: countingD1(env.DB, current),
    SESSIONS: countingKv(env.SESSIONS, current),
  }
  const plain = betterAuth(authOptions(counted, false))
  const cached = betterAuth(authOptions(counted, true))
  lifetime.configLoads++
  const app = new Hono<{ Variables: { user: User | null } }>()
  // As better-auth's Hono guide mounts it.
  app.on(['GET', 'POST'], '/api/auth/*', (c) => plain.handler(c.req.raw))
  app.on(['GET', 'POST'], '/cached/api/auth/*', (c) => cached.handler(c.req.raw))
  // And as its guide has an app read the session: `auth.api.getSession` in a middleware, the
  // user in `c.var`, then the app's own route: sessiongate's `/auth/me`, written with better-auth.
  for (const [prefix, auth] of [
    ['', plain],
    ['/cached', cached],
  ] as const) {
    app.use(`${prefix}/me`, async (c, next) => {
      const session = await auth.api.getSession({ headers: c.req.raw.headers })
      c.set('user', session?.user ?? null)
      await next()
    })
    app.get(`${prefix}/me`, (c) => {
      const user = c.get('user')
      if (!user) return c.json({ detail: 'Authentication credentials were not provided.' }, 401)
      return c.json({ id: user.id, email: user.email, name: user.name })
    })
  }
  app.get('/__bench/counters', (c) => c.json({ counts, lifetime }))
  app.post('/__bench/reset', (c) => {
    counts = emptyCounts()
    return c.json({ counts, lifetime })
  })
  app.get('/__bench/kv-get', async (c) => {
    const value = await env.SESSIONS.get(c.req.query('key') ?? '')
    return c.text(value === null ? 'miss' : 'hit', value === null ? 404 : 200)
  })
  app.post('/__bench/migrate', async (c) => {
    const { runMigrations } = await getMigrations(authOptions(env, false))
    await runMigrations()
    return c.json({ migrated: true })
  })
  return app
}

// Once per `env` object, so once per isolate: better-auth's instance is built at the first
// request and reused, as in a Worker that creates it at module scope from its bindings.
const apps = new WeakMap<PeerEnv, ReturnType<typeof buildApp>>()

export default {
  fetch(request, env, ctx) {
    let app = apps.get(env)
    if (!app) {
      app = buildApp(env)
      apps.set(env, app)
    }
    const tally = counts
    const bench = request.url.includes('/__bench/')
    if (!bench) tally.started++
    const response = app.fetch(request, env, ctx)
    if (bench) return response
    return Promise.resolve(response).then((answer) => {
      tally.completed++
      return answer
    })
  },
} satisfies ExportedHandler<PeerEnv>
