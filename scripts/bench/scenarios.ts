/**
 * The benchmark's scenarios and how one is measured: a warm-up with the
 * same requests, the counters reset, the measured load, a pause for `waitUntil` work, then the
 * counters read. So the storage counts are those of the steady state: the warm-up has already
 * paid every first-request cost, the per-session `last_seen` write included.
 */
import { kvKeyFor } from '../../src/session/key'
import type { StorageCounts } from './counting'
import { workerdCpuMs } from './cpu'
import { type LoadResult, type RequestShape, runLoad } from './load'
import { BENCH_PASSWORD, type BenchSession, benchIp, cachedCookies } from './seed'
import type { RunningWorker } from './worker'

/** How a scenario's storage counts are judged. */
export type StorageRule =
  /** The hot path: exactly 1 KV read, 0 KV writes, 0 D1 queries per request. */
  | 'hot-path'
  /** The session cache's path: 0 KV reads, 0 KV writes, 0 D1 queries per request. */
  | 'cached'
  /** Counted and reported, no target. */
  | 'report'
  /** Not counted: the request never reaches the real Worker. */
  | 'none'

export interface Scenario {
  id: string
  title: string
  /** Where the load goes: the gateway, or the origin directly. */
  target: 'worker' | 'origin'
  connections: number
  expect: readonly number[]
  storage: StorageRule
  /**
   * Requests sent before the timed warm-up, so that every session has been used (and has had
   * its first `last_seen` write) before anything is counted, however slow the machine is.
   */
  primeRequests?: number
  /** Runs before each pass (the session-cache copies live 30 s: each pass gets fresh ones). */
  prepare?: () => Promise<void>
  next: () => RequestShape
}

export interface ScenarioResult {
  id: string
  title: string
  target: 'worker' | 'origin'
  connections: number
  seconds: number
  requests: number
  rps: number
  /** rps / the ceiling: the faster of the two /healthz scenarios (first and last). */
  ratio: number
  p50Ms: number
  p99Ms: number
  /**
   * workerd's CPU time per request, in microseconds, over every measured pass: what the runtime
   * and the Worker cost, whatever the load generator beside them costs (null: not measured).
   */
  cpuUsPerRequest: number | null
  /** Each pass's own timings; the fields above are the best pass's (see `mergePasses`). */
  passes: PassTiming[]
  statuses: Record<string, number>
  /** Responses with a status the scenario does not expect. */
  unexpected: number
  /** Connection errors and timeouts (autocannon's). */
  errors: number
  timeouts: number
  storageRule: StorageRule
  /** Raw counts over the measured run (null when not counted). */
  storage: StorageCounts | null
  /**
   * Per request that reached the Worker: KV reads, KV writes (puts + deletes), D1 statements and
   * round trips, and the milliseconds spent waiting on KV and on D1.
   */
  perRequest: {
    kvReads: number
    kvWrites: number
    d1Queries: number
    d1Calls: number
    kvWaitMs: number
    d1WaitMs: number
  } | null
}

export interface PassTiming {
  seconds: number
  requests: number
  rps: number
  p50Ms: number
  p99Ms: number
  /** workerd's CPU milliseconds during the pass (null for the origin, or without /proc). */
  cpuMs: number | null
}

/** What every scenario draws its requests from. */
export interface ScenarioContext {
  worker: RunningWorker
  originUrl: URL
  /** Logged-in sessions, used round robin by authenticated requests. */
  sessions: readonly BenchSession[]
  /** Users the login requests cycle through. */
  usernames: readonly string[]
  /** One API token key per session, for the token scenario (none: the bench:peers runs). */
  tokens?: readonly string[]
}

/** Connections of the throughput scenarios; latency comparisons use one. */
export const CONNECTIONS = 10

/** A counter shared by every generator, so each login gets a client address of its own. */
let loginCount = 1_000_000

/**
 * A login with the right password, from an address never used before: the failed-login throttle
 * (5 per IP and username, 100 per IP, in 15 minutes) then never answers 429, and the bench
 * measures the password hash and the session writes, not the throttle.
 */
export function loginRequest(usernames: readonly string[]): RequestShape {
  const n = loginCount++
  return {
    method: 'POST',
    path: '/auth/login',
    headers: {
      'Content-Type': 'application/json',
      'CF-Connecting-IP': benchIp(n),
      'User-Agent': 'sessiongate-bench',
    },
    body: JSON.stringify({ username: usernames[n % usernames.length], password: BENCH_PASSWORD }),
  }
}

function rotate<T>(items: readonly T[]): () => T {
  let index = 0
  return () => items[index++ % items.length] as T
}

/** The scenarios, in the order they run. */
export async function scenarios(context: ScenarioContext): Promise<Scenario[]> {
  const session = rotate(context.sessions)
  const kvKeys = await Promise.all(context.sessions.map((s) => kvKeyFor(s.sessionKey)))
  const kvKey = rotate(kvKeys)
  const json = { Accept: 'application/json' }
  const authenticated = (path: string) => (): RequestShape => ({
    path,
    headers: { ...json, Cookie: session().cookie },
  })
  const apiPath = '/api/items?page=1'
  // Two passes over the sessions: autocannon may build a request or two it never sends.
  const prime = 2 * context.sessions.length
  let mixed = 0
  const token = rotate(context.tokens ?? [])
  // The session cache (SESSION_CACHE_SECONDS=30) through the bench entry's second env.
  const cachedPath = `/__bench/cached${apiPath}`
  let withCopies: string[] = []
  let copyIndex = 0
  const withCopy = () => withCopies[copyIndex++ % withCopies.length] as string
  const refreshCopies = async () => {
    withCopies = await cachedCookies(context.worker.url, context.sessions, cachedPath)
  }

  return [
    {
      id: 'healthz',
      title: 'GET /healthz (the ceiling)',
      target: 'worker',
      connections: CONNECTIONS,
      expect: [200],
      storage: 'report',
      next: () => ({ path: '/healthz', headers: json }),
    },
    {
      id: 'me',
      title: 'GET /auth/me, authenticated',
      target: 'worker',
      connections: CONNECTIONS,
      expect: [200],
      storage: 'hot-path',
      primeRequests: prime,
      next: authenticated('/auth/me'),
    },
    {
      id: 'token-me',
      title: 'GET /auth/me, API token',
      target: 'worker',
      connections: CONNECTIONS,
      expect: [200],
      storage: 'hot-path',
      primeRequests: prime,
      next: () => ({ path: '/auth/me', headers: { ...json, Authorization: `Token ${token()}` } }),
    },
    {
      // /auth/* always reads KV, the cache on or not: this shows it costs /auth/me nothing.
      id: 'me-cache-on',
      title: 'GET /auth/me, SESSION_CACHE_SECONDS=30',
      target: 'worker',
      connections: CONNECTIONS,
      expect: [200],
      storage: 'hot-path',
      primeRequests: prime,
      // Clients that hold their copy, as browsers do: /auth/me reads KV and keeps the copy.
      prepare: refreshCopies,
      next: () => ({ path: '/__bench/cached/auth/me', headers: { ...json, Cookie: withCopy() } }),
    },
    {
      id: 'proxied-cached',
      title: `GET ${apiPath}, proxied, session-cache copy`,
      target: 'worker',
      connections: CONNECTIONS,
      expect: [200],
      storage: 'cached',
      primeRequests: prime,
      prepare: refreshCopies,
      next: () => ({ path: cachedPath, headers: { ...json, Cookie: withCopy() } }),
    },
    {
      id: 'anonymous',
      title: 'GET /auth/me, anonymous (401)',
      target: 'worker',
      connections: CONNECTIONS,
      expect: [401],
      storage: 'report',
      next: () => ({ path: '/auth/me', headers: json }),
    },
    {
      id: 'kv-get',
      title: 'one KV get alone (diagnostic)',
      target: 'worker',
      connections: CONNECTIONS,
      expect: [200],
      storage: 'none',
      next: () => ({ path: `/__bench/kv-get?key=${kvKey()}`, headers: json }),
    },
    {
      id: 'proxied',
      title: `GET ${apiPath}, proxied, authenticated`,
      target: 'worker',
      connections: CONNECTIONS,
      expect: [200],
      storage: 'hot-path',
      primeRequests: prime,
      next: authenticated(apiPath),
    },
    {
      id: 'direct',
      title: `GET ${apiPath}, origin directly`,
      target: 'origin',
      connections: CONNECTIONS,
      expect: [200],
      storage: 'none',
      next: () => ({ path: apiPath, headers: json }),
    },
    {
      id: 'proxied-c1',
      title: `GET ${apiPath}, proxied, authenticated`,
      target: 'worker',
      connections: 1,
      expect: [200],
      storage: 'hot-path',
      primeRequests: prime,
      next: authenticated(apiPath),
    },
    {
      id: 'direct-c1',
      title: `GET ${apiPath}, origin directly`,
      target: 'origin',
      connections: 1,
      expect: [200],
      storage: 'none',
      next: () => ({ path: apiPath, headers: json }),
    },
    {
      id: 'login',
      title: 'POST /auth/login (argon2id)',
      target: 'worker',
      // One at a time: the Worker's isolate is one thread, so more only queue behind the hash.
      connections: 1,
      expect: [200],
      storage: 'report',
      next: () => loginRequest(context.usernames),
    },
    {
      id: 'mix',
      title: 'mix: 90% /auth/me, 9% proxied POST, 1% login',
      target: 'worker',
      connections: CONNECTIONS,
      expect: [200],
      storage: 'report',
      primeRequests: prime,
      next: () => {
        const slot = mixed++ % 100
        if (slot === 0) return loginRequest(context.usernames)
        const current = session()
        if (slot <= 9) {
          return {
            method: 'POST',
            path: '/api/items',
            headers: {
              ...json,
              'Content-Type': 'application/json',
              Cookie: current.cookie,
              // The csrftoken cookie's secret, unmasked: Django accepts it as the token.
              'X-CSRFToken': current.csrfToken,
            },
            body: JSON.stringify({ name: 'bench item', quantity: 1 }),
          }
        }
        return { path: '/auth/me', headers: { ...json, Cookie: current.cookie } }
      },
    },
    {
      // The ceiling again: on a shared machine one short run can land in someone else's burst.
      id: 'healthz-end',
      title: 'GET /healthz (again, last)',
      target: 'worker',
      connections: CONNECTIONS,
      expect: [200],
      storage: 'report',
      next: () => ({ path: '/healthz', headers: json }),
    },
  ]
}

/**
 * The results with their ratio to the ceiling, which is the faster of the two /healthz runs:
 * the runtime's best, so that a burst of load during one of them does not flatter the others.
 */
export function withRatios(results: readonly ScenarioResult[]): ScenarioResult[] {
  const ceiling = Math.max(
    0,
    ...results.filter((r) => r.id === 'healthz' || r.id === 'healthz-end').map((r) => r.rps),
  )
  return results.map((result) => ({
    ...result,
    ratio: ceiling > 0 ? round(result.rps / ceiling, 3) : 0,
  }))
}

/** Time for `waitUntil` work (last_seen, sliding refresh) to reach the counters. */
const SETTLE_MS = 300

/** An upper bound on the priming requests (a few hundred, normally well under a second). */
const PRIME_LIMIT_SECONDS = 30

const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS))

export interface MeasureOptions {
  seconds: number
  warmupSeconds: number
}

/** Warms up, resets the counters, measures, and reads the counters. */
export async function measure(
  scenario: Scenario,
  context: ScenarioContext,
  options: MeasureOptions,
): Promise<ScenarioResult> {
  const url = scenario.target === 'worker' ? context.worker.url : context.originUrl
  const spec = {
    url,
    connections: scenario.connections,
    expect: scenario.expect,
    next: scenario.next,
  }
  await scenario.prepare?.()
  if (scenario.primeRequests) {
    await runLoad({ ...spec, seconds: PRIME_LIMIT_SECONDS, amount: scenario.primeRequests })
  }
  await runLoad({ ...spec, seconds: options.warmupSeconds })
  await settle()
  const counted = scenario.storage !== 'none'
  if (counted) await context.worker.resetCounters()
  const cpuBefore = scenario.target === 'worker' ? await workerdCpuMs() : null
  const load: LoadResult = await runLoad({ ...spec, seconds: options.seconds })
  await settle()
  // After the settle, so the requests' `waitUntil` work is in it.
  const cpuAfter = cpuBefore === null ? null : await workerdCpuMs()
  const storage = counted ? (await context.worker.counters()).counts : null
  const seen = Object.values(load.statuses).reduce((sum, count) => sum + count, 0)
  const timing: PassTiming = {
    seconds: load.seconds,
    requests: load.requests,
    rps: round(load.rps, 1),
    p50Ms: round(load.p50, 3),
    p99Ms: round(load.p99, 3),
    cpuMs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
  }
  return {
    id: scenario.id,
    title: scenario.title,
    target: scenario.target,
    connections: scenario.connections,
    seconds: timing.seconds,
    requests: timing.requests,
    rps: timing.rps,
    p50Ms: timing.p50Ms,
    p99Ms: timing.p99Ms,
    cpuUsPerRequest: cpuPerRequest([timing]),
    // Set once every scenario has run (see `withRatios`).
    ratio: 0,
    passes: [timing],
    statuses: load.statuses,
    unexpected: seen - load.requests,
    errors: load.errors,
    timeouts: load.timeouts,
    storageRule: scenario.storage,
    storage,
    perRequest: perRequest(storage),
  }
}

function perRequest(storage: StorageCounts | null): ScenarioResult['perRequest'] {
  if (!storage) return null
  const per = (count: number) => (storage.completed > 0 ? count / storage.completed : 0)
  return {
    kvReads: round(per(storage.kvReads), 4),
    kvWrites: round(per(storage.kvPuts + storage.kvDeletes), 4),
    d1Queries: round(per(storage.d1Queries), 4),
    d1Calls: round(per(storage.d1Calls), 4),
    kvWaitMs: round(per(storage.kvWaitMs), 3),
    d1WaitMs: round(per(storage.d1WaitMs), 3),
  }
}

/** workerd's CPU per request over `passes`, in µs; null unless every pass measured it. */
function cpuPerRequest(passes: readonly PassTiming[]): number | null {
  let cpuMs = 0
  let requests = 0
  for (const pass of passes) {
    if (pass.cpuMs === null) return null
    cpuMs += pass.cpuMs
    requests += pass.requests
  }
  return requests > 0 ? Math.round((1000 * cpuMs) / requests) : null
}

function sumRecords(records: readonly Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {}
  for (const record of records) {
    for (const [key, value] of Object.entries(record)) sum[key] = (sum[key] ?? 0) + value
  }
  return sum
}

/**
 * One result from the passes of a scenario. Timings are the best pass's (the most requests/s,
 * with its own latencies): on a shared machine a pass can land in someone else's burst, and the
 * best pass is the closest to what the code can do. Counts add up over every pass, so the
 * storage targets are judged on all the requests.
 */
export function mergePasses(results: readonly ScenarioResult[]): ScenarioResult {
  const [first] = results
  if (!first) throw new Error('mergePasses needs at least one result')
  const best = results.reduce((a, b) => (b.rps > a.rps ? b : a))
  const counted = results.map((result) => result.storage).filter((s) => s !== null)
  const storage: StorageCounts | null =
    counted.length === 0
      ? null
      : {
          ...(sumRecords(
            counted.map(({ sql: _sql, ...numbers }) => numbers),
          ) as unknown as StorageCounts),
          sql: sumRecords(counted.map((s) => s.sql)),
        }
  const passes = results.flatMap((result) => result.passes)
  return {
    ...best,
    cpuUsPerRequest: cpuPerRequest(passes),
    passes,
    statuses: sumRecords(results.map((result) => result.statuses)),
    unexpected: results.reduce((sum, result) => sum + result.unexpected, 0),
    errors: results.reduce((sum, result) => sum + result.errors, 0),
    timeouts: results.reduce((sum, result) => sum + result.timeouts, 0),
    storage,
    perRequest: perRequest(storage),
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

/** Whether the session cache's scenario read nothing at all: no KV, no D1. */
export function cachedPathMet(storage: StorageCounts): boolean {
  return (
    storage.completed > 0 &&
    storage.kvReads === 0 &&
    storage.kvPuts === 0 &&
    storage.kvDeletes === 0 &&
    storage.kvLists === 0 &&
    storage.d1Queries === 0
  )
}

/**
 * Whether a hot-path scenario met its storage target: one KV read per request, exactly (a
 * request autocannon abandoned at the end may have read or not: `started - completed` is the
 * only slack), and no KV write, KV list or D1 statement at all.
 */
export function hotPathMet(storage: StorageCounts): boolean {
  const inFlight = storage.started - storage.completed
  return (
    storage.completed > 0 &&
    Math.abs(storage.kvReads - storage.completed) <= inFlight &&
    storage.kvPuts === 0 &&
    storage.kvDeletes === 0 &&
    storage.kvLists === 0 &&
    storage.d1Queries === 0
  )
}
