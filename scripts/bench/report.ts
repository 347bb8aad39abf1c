/**
 * The benchmark's targets (storage per request, the app built once, the timing goals), judged
 * on the measured scenarios, and the table the bench prints. Storage, invariant and memory
 * targets decide the exit status; timing targets are printed only, because a loaded machine must
 * not fail the run, and so are production limits that the local runtime does not enforce.
 */
import { renderTable } from '../cli/table'
import type { MemoryResult } from './memory'
import { cachedPathMet, hotPathMet, type ScenarioResult } from './scenarios'

export interface Target {
  id: string
  /** `timing` and `limit` targets never fail the run; the others do when missed. */
  kind: 'storage' | 'invariant' | 'timing' | 'memory' | 'limit'
  description: string
  measured: string
  met: boolean
}

export interface IsolateCounts {
  envObjects: number
  configLoads: number
}

function find(results: readonly ScenarioResult[], id: string): ScenarioResult | undefined {
  return results.find((result) => result.id === id)
}

function storageTarget(result: ScenarioResult): Target {
  const { storage, perRequest: per } = result
  const plural = result.connections === 1 ? '' : 's'
  return {
    id: `storage-${result.id}`,
    kind: 'storage',
    description: `${result.title} (${result.connections} connection${plural}): 1 KV read, 0 KV writes, 0 D1 queries per request`,
    measured:
      storage && per
        ? `${per.kvReads.toFixed(4)} KV reads, ${storage.kvPuts} KV puts, ${storage.kvDeletes} KV deletes, ${storage.d1Queries} D1 queries over ${storage.completed} requests`
        : 'not measured',
    met: storage ? hotPathMet(storage) : false,
  }
}

function cachedTarget(result: ScenarioResult): Target {
  const { storage, perRequest: per } = result
  return {
    id: `storage-${result.id}`,
    kind: 'storage',
    description: `${result.title}: 0 KV reads, 0 KV writes, 0 D1 queries per request`,
    measured:
      storage && per
        ? `${per.kvReads.toFixed(4)} KV reads, ${storage.kvPuts} KV puts, ${storage.kvDeletes} KV deletes, ${storage.d1Queries} D1 queries over ${storage.completed} requests`
        : 'not measured',
    met: storage ? cachedPathMet(storage) : false,
  }
}

/** Every target, in the order printed. */
export function judge(
  results: readonly ScenarioResult[],
  isolate: IsolateCounts,
  memory: MemoryResult | null,
): Target[] {
  const healthz = find(results, 'healthz')
  const me = find(results, 'me')
  const kvGet = find(results, 'kv-get')
  const anonymous = find(results, 'anonymous')
  const proxied = find(results, 'proxied-c1')
  const direct = find(results, 'direct-c1')
  const login = find(results, 'login')
  const tokenMe = find(results, 'token-me')
  const gap = proxied && direct ? proxied.p50Ms - direct.p50Ms : Number.NaN
  const targets: Target[] = [
    ...results.filter((result) => result.storageRule === 'hot-path').map(storageTarget),
    ...results.filter((result) => result.storageRule === 'cached').map(cachedTarget),
    {
      id: 'app-per-isolate',
      kind: 'invariant',
      description: 'the app is built once per isolate (same env object, config loaded once)',
      measured: `${isolate.envObjects} env object(s), ${isolate.configLoads} config load(s)`,
      met: isolate.envObjects === 1 && isolate.configLoads === 1,
    },
    {
      id: 'me-ratio',
      kind: 'timing',
      description: 'authenticated /auth/me >= 0.40x the /healthz ceiling, in requests/s',
      // Beside it, the local floor: Miniflare's KV get alone, without the app; then the same
      // three as workerd's CPU per request.
      measured: me
        ? `${fixed(me.ratio, 2)}x${kvGet ? ` (one KV get alone, no app: ${fixed(kvGet.ratio, 2)}x)` : ''}` +
          cpuComparison([
            ['/healthz', healthz],
            ['KV get alone', kvGet],
            ['/auth/me', me],
          ])
        : 'not measured',
      met: (me?.ratio ?? 0) >= 0.4,
    },
    {
      id: 'token-me-ratio',
      kind: 'timing',
      description: 'token-authenticated /auth/me within 10% of the session one, in requests/s',
      measured:
        tokenMe && me
          ? `${fixed(tokenMe.rps, 0)} vs ${fixed(me.rps, 0)} req/s: ${fixed(tokenMe.rps / me.rps, 2)}x` +
            cpuComparison([
              ['session', me],
              ['token', tokenMe],
            ])
          : 'not measured',
      met: tokenMe !== undefined && me !== undefined && tokenMe.rps >= 0.9 * me.rps,
    },
    {
      id: 'anonymous-ratio',
      kind: 'timing',
      description: 'anonymous 401 >= 0.8x the /healthz ceiling, in requests/s',
      measured: anonymous ? `${fixed(anonymous.ratio, 2)}x` : 'not measured',
      met: (anonymous?.ratio ?? 0) >= 0.8,
    },
    {
      id: 'proxied-p50',
      kind: 'timing',
      description: 'proxied GET p50 within 2 ms of the origin hit directly (1 connection)',
      measured: Number.isFinite(gap)
        ? `${fixed(proxied?.p50Ms ?? 0, 2)} - ${fixed(direct?.p50Ms ?? 0, 2)} = +${fixed(gap, 2)} ms`
        : 'not measured',
      met: Number.isFinite(gap) && gap <= 2,
    },
    {
      id: 'login-p50',
      kind: 'timing',
      description: 'login p50 <= 40 ms (1 connection)',
      measured: login ? `${fixed(login.p50Ms, 1)} ms` : 'not measured',
      met: (login?.p50Ms ?? Number.POSITIVE_INFINITY) <= 40,
    },
  ]
  for (const result of results) {
    // A wrong status is a bug (a 403 from CSRF, a 429 from the throttle, a 500): it fails the
    // run. Connection errors and timeouts are the machine's load: they are only reported.
    if (result.unexpected > 0) {
      targets.push({
        id: `statuses-${result.id}`,
        kind: 'invariant',
        description: `${result.title}: every response has the expected status`,
        measured: `statuses ${JSON.stringify(result.statuses)}, ${result.unexpected} unexpected`,
        met: false,
      })
    }
    if (result.errors + result.timeouts > 0) {
      targets.push({
        id: `transport-${result.id}`,
        kind: 'timing',
        description: `${result.title}: no connection errors or timeouts`,
        measured: `${result.errors} errors, ${result.timeouts} timeouts`,
        met: false,
      })
    }
  }
  if (memory) {
    targets.push({
      id: 'memory',
      kind: 'memory',
      description: `isolate heap bounded over ${memory.requests} requests on ${memory.sessions} sessions`,
      measured: `+${fixed(memory.plateauGrowthBytes / 1024 / 1024, 2)} MiB once every session was seen; ${memory.laterChunks.d1Queries} D1 queries`,
      met: memory.met,
    })
    const revocation = memory.revocation
    targets.push({
      id: 'revocation-ends-sessions',
      kind: 'invariant',
      description: `log out everywhere ends the user's other sessions (${revocation.sessions} sessions)`,
      measured: `logout ${revocation.status}, then another session's /auth/me ${revocation.otherSessionStatus}`,
      met: revocation.status === 200 && revocation.otherSessionStatus === 401,
    })
    targets.push({
      id: 'revocation-kv-limit',
      kind: 'limit',
      description: `log out everywhere with ${revocation.sessions} sessions fits production's 1,000 KV operations per invocation`,
      measured: `${revocation.kvOperations} KV operations, ${revocation.d1Queries} D1 queries, ${revocation.ms.toFixed(0)} ms`,
      met: revocation.kvOperations <= 1000,
    })
  }
  return targets
}

/** `; workerd CPU per request: /healthz 210 µs, ...`, or '' when any of them is unmeasured. */
function cpuComparison(entries: readonly [string, ScenarioResult | undefined][]): string {
  const parts = entries.map(([label, result]) =>
    result?.cpuUsPerRequest == null ? null : `${label} ${result.cpuUsPerRequest} µs`,
  )
  return parts.includes(null) ? '' : `; workerd CPU per request: ${parts.join(', ')}`
}

/** Whether the run must exit 1: a storage, invariant or memory target was missed. */
export function failed(targets: readonly Target[]): boolean {
  return targets.some(
    (target) => target.kind !== 'timing' && target.kind !== 'limit' && !target.met,
  )
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-'
}

/** Storage per request: exact zeros print as `0`, the rest with three decimals. */
function count(value: number | undefined): string {
  if (value === undefined) return '-'
  return value === 0 ? '0' : value.toFixed(3)
}

/**
 * The results table, as printed and as copied into the docs. `ratioLabel` heads the column of
 * each result's `ratio` (default `x ceiling`).
 */
export function resultsTable(results: readonly ScenarioResult[], ratioLabel = 'x ceiling'): string {
  const header = [
    'scenario',
    'conns',
    'req/s',
    ratioLabel,
    'p50 ms',
    'p99 ms',
    'KV reads',
    'KV writes',
    'D1 queries',
    'CPU µs/req',
  ]
  const rows = results.map((result) => [
    result.title,
    String(result.connections),
    fixed(result.rps, 0),
    fixed(result.ratio, 2),
    fixed(result.p50Ms, 2),
    fixed(result.p99Ms, 2),
    count(result.perRequest?.kvReads),
    count(result.perRequest?.kvWrites),
    count(result.perRequest?.d1Queries),
    result.cpuUsPerRequest === null ? '-' : String(result.cpuUsPerRequest),
  ])
  return renderTable(header, rows)
}

/** The targets as printed: one line each, with what was measured. */
export function targetLines(targets: readonly Target[]): string {
  return targets
    .map((target) => {
      const gating = target.kind !== 'timing' && target.kind !== 'limit'
      const mark = target.met ? 'met   ' : gating ? 'FAILED' : 'missed'
      return `  [${mark}] ${target.kind}: ${target.description} -- ${target.measured}\n`
    })
    .join('')
}
