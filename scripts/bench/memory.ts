/**
 * The memory check (`npm run bench -- --memory`): does the Worker's isolate heap stay bounded
 * over many authenticated requests on many sessions? An unbounded per-session cache (of
 * `last_seen` times, signed assertions, verified snapshots) would grow with every new session.
 *
 * A Worker of its own, with workerd's V8 inspector open, and real sessions logged in through
 * `POST /auth/login`. The heap is read after a forced GC: after a warm-up on a few sessions
 * (the baseline), then after every chunk of requests spread round robin over all the sessions,
 * half `GET /auth/me` and half proxied `GET`s (which fill the assertion cache too). After the
 * first chunk every session has been seen many times, so every per-session cache is full: from
 * there on the heap must stay flat. The storage counts of those later chunks are read as well:
 * still no D1 query and no KV write.
 *
 * Half of the sessions (at most 1,000) belong to one user, so the run ends with what "log out
 * everywhere" costs for a user with that many sessions (the same `endSessions` as a password
 * change): its time, its KV and D1 operations, and whether another of those sessions still
 * authenticates afterwards.
 */
import { MAX_SESSIONS_PER_USER } from '../../src/auth/session-index'
import { Inspector } from './inspector'
import { runLoad } from './load'
import { type BenchSession, logInAll } from './seed'
import type { RunningWorker } from './worker'

export interface MemoryOptions {
  /** Sessions logged in (default 2,000). */
  sessions: number
  /** Authenticated requests after the warm-up (default 100,000). */
  requests: number
  /** Chunks the requests are split into; the heap is read after each (default 5). */
  chunks: number
  /** Upper bound on the time of each chunk, in seconds. */
  chunkSeconds: number
  log: (message: string) => void
}

export interface HeapSample {
  /** Authenticated requests since the baseline. */
  afterRequests: number
  usedBytes: number
  totalBytes: number
}

export interface MemoryResult {
  /** When the check ran (a plain `npm run bench` keeps the last check's section). */
  date: string
  sessions: number
  users: number
  warmupRequests: number
  requests: number
  baseline: HeapSample
  samples: HeapSample[]
  /** Heap growth from the baseline (warm, few sessions) to the end. */
  growthBytes: number
  /** Growth from the end of the first chunk (every session seen) to the end. */
  plateauGrowthBytes: number
  /** (end of first chunk - baseline) / new sessions: what one more session costs the heap. */
  bytesPerSession: number
  /** Storage over the chunks after the first, per request. */
  laterChunks: { requests: number; kvReadsPerRequest: number; kvWrites: number; d1Queries: number }
  /** The pass rule, in words. */
  criterion: string
  met: boolean
  revocation: RevocationResult
}

/** `POST /auth/logout?everywhere=1` by a user with many sessions. */
export interface RevocationResult {
  /** Live sessions of the user when it logged out everywhere. */
  sessions: number
  status: number
  ms: number
  kvReads: number
  kvDeletes: number
  /** Every KV operation of the one request (production allows 1,000 per invocation). */
  kvOperations: number
  d1Queries: number
  d1Calls: number
  /** Status of `GET /auth/me` with another of the user's sessions afterwards (401: ended). */
  otherSessionStatus: number
}

/**
 * Sessions given to the one user whose "log out everywhere" is measured: as many as a user may
 * hold (a login past the cap ends the oldest).
 */
const HEAVY_USER_SESSIONS = MAX_SESSIONS_PER_USER

/** Requests in the warm-up, spread over the first WARM_SESSIONS sessions. */
const WARMUP_REQUESTS = 5_000
const WARM_SESSIONS = 100
/** Growth allowed once every session is known: GC noise, never a per-request leak. */
const PLATEAU_LIMIT_BYTES = 2 * 1024 * 1024

function authenticatedRequests(sessions: readonly BenchSession[]) {
  let n = 0
  return () => {
    const session = sessions[n % sessions.length] as BenchSession
    // Alternate per full pass, so every session gets both kinds of request.
    const path = Math.floor(n / sessions.length) % 2 === 0 ? '/auth/me' : '/api/items?page=1'
    n++
    return { path, headers: { Accept: 'application/json', Cookie: session.cookie } }
  }
}

/**
 * Runs the check on `worker` (started with the inspector open, schema applied, users created).
 */
export async function runMemoryCheck(
  worker: RunningWorker,
  usernames: readonly string[],
  options: MemoryOptions,
): Promise<MemoryResult> {
  const { log } = options
  log(`memory: logging in ${options.sessions} sessions through POST /auth/login ...`)
  const started = Date.now()
  // The first `heavy` sessions are the first user's; the rest go round the other users.
  const heavy = Math.min(HEAVY_USER_SESSIONS, Math.floor(options.sessions / 2))
  const others = usernames.slice(1)
  const logins = Array.from({ length: options.sessions }, (_, index) =>
    index < heavy || others.length === 0
      ? (usernames[0] as string)
      : (others[(index - heavy) % others.length] as string),
  )
  const sessions = await logInAll(worker.url, logins, 2, 5_000_000)
  log(`memory: ${sessions.length} sessions in ${((Date.now() - started) / 1000).toFixed(1)} s`)

  const inspector = await Inspector.connect(await worker.mf.getInspectorURL(), worker.name)
  try {
    const poke = () => fetch(new URL('/healthz', worker.url)).then((response) => response.text())
    const heap = async (afterRequests: number): Promise<HeapSample> => {
      const usage = await inspector.heapAfterGc(poke)
      return { afterRequests, usedBytes: usage.usedSize, totalBytes: usage.totalSize }
    }
    const load = (list: readonly BenchSession[], amount: number) =>
      runLoad({
        url: worker.url,
        connections: 10,
        seconds: options.chunkSeconds,
        amount,
        expect: [200],
        next: authenticatedRequests(list),
      })

    await load(sessions.slice(0, WARM_SESSIONS), WARMUP_REQUESTS)
    const baseline = await heap(0)
    log(`memory: baseline ${mib(baseline.usedBytes)} after ${WARMUP_REQUESTS} warm-up requests`)

    const samples: HeapSample[] = []
    const chunk = Math.ceil(options.requests / options.chunks)
    const next = authenticatedRequests(sessions)
    let done = 0
    let later = { requests: 0, kvReads: 0, kvWrites: 0, d1Queries: 0 }
    for (let index = 0; index < options.chunks; index++) {
      await worker.resetCounters()
      const result = await runLoad({
        url: worker.url,
        connections: 10,
        seconds: options.chunkSeconds,
        amount: Math.min(chunk, options.requests - done),
        expect: [200],
        next,
      })
      done += result.requests
      await new Promise((resolve) => setTimeout(resolve, 300))
      const { counts } = await worker.counters()
      if (index > 0) {
        later = {
          requests: later.requests + counts.completed,
          kvReads: later.kvReads + counts.kvReads,
          kvWrites: later.kvWrites + counts.kvPuts + counts.kvDeletes,
          d1Queries: later.d1Queries + counts.d1Queries,
        }
      }
      const sample = await heap(done)
      samples.push(sample)
      log(
        `memory: ${mib(sample.usedBytes)} after ${done} requests (${Math.round(result.rps)} req/s, D1 ${counts.d1Queries}, KV writes ${counts.kvPuts + counts.kvDeletes})`,
      )
    }

    const revocation = await logOutEverywhere(worker, sessions.slice(0, heavy))
    log(
      `memory: log out everywhere with ${revocation.sessions} sessions: ${revocation.ms.toFixed(0)} ms, ${revocation.kvOperations} KV operations, ${revocation.d1Queries} D1 queries`,
    )

    const first = samples[0] as HeapSample
    const last = samples[samples.length - 1] as HeapSample
    const plateauGrowthBytes = last.usedBytes - first.usedBytes
    const met = plateauGrowthBytes <= PLATEAU_LIMIT_BYTES && later.d1Queries === 0
    return {
      date: new Date().toISOString(),
      sessions: sessions.length,
      users: Math.min(usernames.length, sessions.length),
      warmupRequests: WARMUP_REQUESTS,
      requests: done,
      baseline,
      samples,
      growthBytes: last.usedBytes - baseline.usedBytes,
      plateauGrowthBytes,
      bytesPerSession: Math.round(
        (first.usedBytes - baseline.usedBytes) / Math.max(1, sessions.length - WARM_SESSIONS),
      ),
      laterChunks: {
        requests: later.requests,
        kvReadsPerRequest: later.requests > 0 ? later.kvReads / later.requests : 0,
        kvWrites: later.kvWrites,
        d1Queries: later.d1Queries,
      },
      revocation,
      criterion: `once every session has been seen (after the first chunk), the heap after GC grows by at most ${mib(PLATEAU_LIMIT_BYTES)} over the remaining requests, and they make no D1 query`,
      met,
    }
  } finally {
    inspector.close()
  }
}

/**
 * Logs the first of `sessions` out everywhere, counting what the one request does, then checks
 * that the last of them no longer authenticates.
 */
async function logOutEverywhere(
  worker: RunningWorker,
  sessions: readonly BenchSession[],
): Promise<RevocationResult> {
  const [current] = sessions
  const other = sessions[sessions.length - 1]
  if (!current || !other || current === other) throw new Error('revocation needs two sessions')
  await worker.resetCounters()
  const started = performance.now()
  const response = await fetch(new URL('/auth/logout?everywhere=1', worker.url), {
    method: 'POST',
    headers: { Cookie: current.cookie, 'X-CSRFToken': current.csrfToken },
  })
  await response.arrayBuffer()
  const ms = performance.now() - started
  await new Promise((resolve) => setTimeout(resolve, 300))
  const { counts } = await worker.counters()
  const after = await fetch(new URL('/auth/me', worker.url), { headers: { Cookie: other.cookie } })
  await after.arrayBuffer()
  return {
    sessions: sessions.length,
    status: response.status,
    ms,
    kvReads: counts.kvReads,
    kvDeletes: counts.kvDeletes,
    kvOperations: counts.kvReads + counts.kvPuts + counts.kvDeletes + counts.kvLists,
    d1Queries: counts.d1Queries,
    d1Calls: counts.d1Calls,
    otherSessionStatus: after.status,
  }
}

/** Bytes as MiB with two decimals. */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`
}
