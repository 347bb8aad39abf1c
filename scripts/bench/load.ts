/**
 * Load generation with autocannon's programmatic API, on loopback only, for a fixed time at a
 * fixed concurrency. Latency percentiles are computed here from autocannon's per-response times
 * (floating-point milliseconds from `process.hrtime`): its own histogram keeps whole
 * milliseconds, too coarse for a 2 ms comparison on loopback.
 */
import { createRequire } from 'node:module'

/** One request as autocannon builds it. */
export interface RequestShape {
  method?: 'GET' | 'POST'
  path: string
  headers?: Record<string, string>
  body?: string
}

export interface LoadSpec {
  /** `http://127.0.0.1:PORT`: where the requests go. */
  url: URL
  connections: number
  /** How long the load runs, in seconds. */
  seconds: number
  /** Stop after this many responses instead (the run is still cut at `seconds`). */
  amount?: number
  /** The request to send; called once per request, so it may rotate sessions or users. */
  next: () => RequestShape
  /** Statuses that count as the expected answer (anything else is reported as unexpected). */
  expect: readonly number[]
}

export interface LoadResult {
  /** Responses with an expected status. */
  requests: number
  /** Expected responses per second of the run. */
  rps: number
  p50: number
  p99: number
  /** Every status seen, with its count. */
  statuses: Record<string, number>
  /** Connection errors and timeouts (autocannon's counts). */
  errors: number
  timeouts: number
  seconds: number
}

/** The part of autocannon's API used here (it ships no types). */
interface AutocannonResult {
  duration: number
  errors: number
  timeouts: number
  statusCodeStats: Record<string, { count: number }>
}
interface AutocannonInstance {
  on(
    event: 'response',
    listener: (client: unknown, status: number, bytes: number, ms: number) => void,
  ): void
  stop(): void
}
type Autocannon = (
  options: Record<string, unknown>,
  done: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance

const require = createRequire(import.meta.url)
const autocannon = require('autocannon') as Autocannon

/** The `q` quantile (0..1) of sorted values, by the nearest-rank method. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)))
  return sorted[rank - 1] as number
}

/** Runs one load for `spec.seconds` and summarises it. */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const expected = new Set(spec.expect)
  const latencies: number[] = []
  let cut: NodeJS.Timeout | undefined
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url.href,
        connections: spec.connections,
        ...(spec.amount === undefined ? { duration: spec.seconds } : { amount: spec.amount }),
        // A request that takes longer than this is counted as a timeout, never waited on.
        timeout: 10,
        requests: [
          {
            setupRequest: (request: Record<string, unknown>) => {
              const shape = spec.next()
              return {
                ...request,
                method: shape.method ?? 'GET',
                path: shape.path,
                headers: shape.headers ?? {},
                body: shape.body,
              }
            },
          },
        ],
      },
      (error, result) => {
        clearTimeout(cut)
        if (error) {
          reject(error)
          return
        }
        latencies.sort((a, b) => a - b)
        const statuses = Object.fromEntries(
          Object.entries(result.statusCodeStats).map(([status, { count }]) => [status, count]),
        )
        resolve({
          requests: latencies.length,
          rps: latencies.length / result.duration,
          p50: quantile(latencies, 0.5),
          p99: quantile(latencies, 0.99),
          statuses,
          errors: result.errors,
          timeouts: result.timeouts,
          seconds: result.duration,
        })
      },
    )
    instance.on('response', (_client, status, _bytes, ms) => {
      if (expected.has(status)) latencies.push(ms)
    })
    // With `amount`, autocannon ignores `duration`: the time bound is kept here.
    if (spec.amount !== undefined) cut = setTimeout(() => instance.stop(), spec.seconds * 1000)
  })
}
