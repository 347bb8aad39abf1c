/**
 * The benchmark's Worker entry, bundled in place of `src/index.ts` (never deployed). It hands
 * every request to the real Worker's `fetch`, unchanged, with the same `env` object each time,
 * whose `SESSIONS` and `DB` count what they are asked (counting.ts). It answers two paths itself:
 *
 * - `GET /__bench/counters`: the counts since the last reset, and the isolate's lifetime counts;
 * - `POST /__bench/reset`: zeroes the counts;
 * - `GET /__bench/kv-get?key=K`: one KV get and nothing else, uncounted. A diagnostic: it shows
 *   what Miniflare's local KV costs by itself, beside what the app adds to it;
 * - `/__bench/cached/<path>`: `<path>`, served by the real Worker over a second `env` that adds
 *   `SESSION_CACHE_SECONDS=30` (same KV, D1 and counters; the Worker builds its second app for
 *   it once). Only the session-cache scenarios take this way, so the others pay nothing for it.
 *
 * The real Worker caches its app per `env` object, so the wrapped `env` is made once per `env`
 * workerd passes (a WeakMap, like the Worker's own): the app is built once, as in production,
 * and `configLoads` (reads of SECRET_KEY, which only `loadConfig` makes) proves it.
 */
/// <reference path="../../src/wasm.d.ts" />
import type { Env } from '../../src/env'
import worker from '../../src/index'
import {
  countingD1,
  countingKv,
  emptyCounts,
  type LifetimeCounts,
  type StorageCounts,
} from './counting'

let counts = emptyCounts()
const lifetime: LifetimeCounts = { envObjects: 0, configLoads: 0 }
const wrappedEnvs = new WeakMap<Env, Env>()

function countingEnv(env: Env): Env {
  let wrapped = wrappedEnvs.get(env)
  if (!wrapped) {
    lifetime.envObjects++
    const current = (): StorageCounts => counts
    // A plain object, not a Proxy: the app reads `c.env` several times per request, and a
    // Proxy trap on each read would be measured as the app's cost.
    wrapped = Object.defineProperty(
      { ...env, SESSIONS: countingKv(env.SESSIONS, current), DB: countingD1(env.DB, current) },
      'SECRET_KEY',
      {
        enumerable: true,
        get: () => {
          lifetime.configLoads++
          return env.SECRET_KEY
        },
      },
    )
    wrappedEnvs.set(env, wrapped)
  }
  return wrapped
}

/** The path prefix of requests served with the session cache on. */
const CACHED_PREFIX = '/__bench/cached/'
const cachedEnvs = new WeakMap<Env, Env>()

/**
 * The counting env with SESSION_CACHE_SECONDS=30, made once. Built from `env` itself, not from
 * the counting env's copy, so `configLoads` keeps counting the main app's configuration only.
 */
function cacheEnv(env: Env): Env {
  let cached = cachedEnvs.get(env)
  if (!cached) {
    const main = countingEnv(env)
    cached = { ...env, SESSIONS: main.SESSIONS, DB: main.DB, SESSION_CACHE_SECONDS: '30' }
    cachedEnvs.set(env, cached)
  }
  return cached
}

async function benchRoute(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
): Promise<Response | null> {
  const url = new URL(request.url)
  const { pathname } = url
  if (pathname.startsWith(CACHED_PREFIX)) {
    url.pathname = pathname.slice(CACHED_PREFIX.length - 1)
    const tally = counts
    tally.started++
    const response = await worker.fetch(
      new Request(url, request) as Request<unknown, IncomingRequestCfProperties>,
      cacheEnv(env),
      ctx,
    )
    tally.completed++
    return response
  }
  if (pathname === '/__bench/kv-get' && request.method === 'GET') {
    const value = await env.SESSIONS.get(url.searchParams.get('key') ?? '')
    return new Response(value === null ? 'miss' : 'hit', { status: value === null ? 404 : 200 })
  }
  if (pathname === '/__bench/counters' && request.method === 'GET') {
    return Response.json({ counts, lifetime })
  }
  if (pathname === '/__bench/reset' && request.method === 'POST') {
    counts = emptyCounts()
    return Response.json({ counts, lifetime })
  }
  return null
}

export default {
  async fetch(request, env, ctx) {
    // A substring test first, so measured requests pay no extra URL parse.
    const answer = request.url.includes('/__bench/') ? await benchRoute(request, env, ctx) : null
    if (answer) return answer
    const tally = counts
    tally.started++
    const response = await worker.fetch(request, countingEnv(env), ctx)
    tally.completed++
    return response
  },
} satisfies ExportedHandler<Env>
