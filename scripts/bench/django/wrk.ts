/**
 * wrk (Debian's 4.1), run as a command and read from its text output: requests/s, the latency
 * percentiles of `--latency`, and every kind of failure it counts.
 */
import { runCommand } from '../../lib/process'

/** The same for every target. */
export interface WrkSettings {
  threads: number
  connections: number
  /** Seconds of warm-up load before the measured run; its numbers are kept but not compared. */
  warmupSeconds: number
  /** Seconds of the measured run. */
  seconds: number
  /** wrk's `--timeout`: a request without an answer by then counts as a timeout error. */
  timeoutSeconds: number
}

/** What one wrk run reports. */
export interface WrkResult {
  /** Responses of any status (wrk's "N requests in ..."). */
  requests: number
  seconds: number
  /** wrk's "Requests/sec": every response, whatever its status, over the run's time. */
  rps: number
  p50Ms: number
  p99Ms: number
  /** wrk's "Non-2xx or 3xx responses": statuses of 400 and above. */
  non2xx: number
  socketErrors: { connect: number; read: number; write: number; timeout: number }
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** `812.00us`, `4.12ms`, `1.02s` as milliseconds; NaN when it is none of those. */
export function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim())
  if (!match) return Number.NaN
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number)
}

/** `1234`, `1.23k`, `4.5M` (wrk's scaled counts) as a number. */
function count(text: string): number {
  const match = /^([\d.]+)([kMG]?)$/.exec(text.trim())
  if (!match) return Number.NaN
  const scale = { '': 1, k: 1e3, M: 1e6, G: 1e9 }[match[2] as '' | 'k' | 'M' | 'G']
  return Number(match[1]) * scale
}

/**
 * Reads wrk's output (run with `--latency`); null when a line it always prints is missing. The
 * "Socket errors" and "Non-2xx" lines appear only when their counts are not zero.
 */
export function parseWrk(output: string): WrkResult | null {
  const total = /^\s*(\d+) requests in ([\d.]+\w+),/m.exec(output)
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output)
  const p50 = /^\s*50%\s+(\S+)/m.exec(output)
  const p99 = /^\s*99%\s+(\S+)/m.exec(output)
  if (!total || !rps || !p50 || !p99) return null
  const errors =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output) ?? []
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? '0'
  return {
    requests: count(total[1] as string),
    seconds: durationMs(total[2] as string) / 1000,
    rps: Number(rps[1]),
    p50Ms: durationMs(p50[1] as string),
    p99Ms: durationMs(p99[1] as string),
    non2xx: Number(non2xx),
    socketErrors: {
      connect: Number(errors[1] ?? 0),
      read: Number(errors[2] ?? 0),
      write: Number(errors[3] ?? 0),
      timeout: Number(errors[4] ?? 0),
    },
  }
}

/** Failed requests of a run: non-2xx/3xx answers and socket errors of every kind. */
export function failures(result: WrkResult): number {
  const { connect, read, write, timeout } = result.socketErrors
  return result.non2xx + connect + read + write + timeout
}

/** wrk's version line (`wrk debian/4.1.0-3+b2 [epoll] ...`), or null when it cannot run. */
export async function wrkVersion(wrk: string): Promise<string | null> {
  try {
    // `wrk -v` prints its version and usage, and exits with status 1.
    const { stdout, stderr } = await runCommand(wrk, ['-v'], { timeoutMs: 10_000 })
    const line = `${stdout}${stderr}`.split('\n')[0]?.trim() ?? ''
    return line.startsWith('wrk') ? line.replace(/\s*Copyright.*$/, '') : null
  } catch {
    return null
  }
}

/** The wrk arguments for one run of `seconds` against `url` with `headers`. */
export function wrkArgs(
  url: string,
  headers: readonly string[],
  seconds: number,
  settings: WrkSettings,
): string[] {
  return [
    `-t${settings.threads}`,
    `-c${settings.connections}`,
    `-d${seconds}s`,
    `--timeout`,
    `${settings.timeoutSeconds}s`,
    '--latency',
    ...headers.flatMap((header) => ['-H', header]),
    url,
  ]
}

/** Runs wrk once for `seconds` and parses what it printed. */
export async function runWrk(
  wrk: string,
  url: URL,
  headers: readonly string[],
  seconds: number,
  settings: WrkSettings,
): Promise<WrkResult> {
  const { code, stdout, stderr } = await runCommand(
    wrk,
    wrkArgs(url.href, headers, seconds, settings),
    // wrk stops itself after `seconds`; the margin covers its start and the last timeouts.
    { timeoutMs: (seconds + settings.timeoutSeconds + 15) * 1000 },
  )
  const result = code === 0 ? parseWrk(stdout) : null
  if (!result) throw new Error(`wrk against ${url} failed (${code}):\n${stdout}${stderr}`)
  return result
}
