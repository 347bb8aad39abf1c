/**
 * The benchmark's Worker entry, bundled in place of `src/index.ts` (never deployed). It hands
 * every request to the real Worker's `fetch`, unchanged, with the same `env` object each time,
 * whose `SESSIONS` and `DB` count what they are asked (counting.ts). It answers two paths itself:
 *
 * - `GET /__bench/counters`: the counts since the last reset, and the isolate's lifetime counts;
 * - `POST /__bench/reset`: zeroes the counts;
 * - `GET /__bench/kv-get?key=K`: one KV get and nothing else, uncounted. A diagnostic: it shows
 *   what Miniflare's local KV costs by itself, beside what the app adds to it.
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

async function benchRoute(request: Request, env: Env): Promise<Response | null> {
  const url = new URL(request.url)
  const { pathname } = url
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
    const answer = request.url.includes('/__bench/') ? await benchRoute(request, env) : null
    if (answer) return answer
    const tally = counts
    tally.started++
    const response = await worker.fetch(request, countingEnv(env), ctx)
    tally.completed++
    return response
  },
} satisfies ExportedHandler<Env>
