/**
 * The results of `npm run bench:django`: each target's wrk runs, its ratio to Django's best,
 * the goal of issue 5 (sessiongate at least 2x Django's throughput), and the table.
 */
import { renderTable } from '../../cli/table'
import type { CpuShares } from './machine'
import { failures, type WrkResult } from './wrk'

/** The goal: sessiongate's requests/s over Django's best. */
export const GOAL_RATIO = 2

/** One pass over a target: a warm-up, then the measured run. */
export interface PassResult {
  pass: number
  /**
   * Where the CPUs went during the measured run: to the benchmark (server and wrk), and to
   * anything else, someone else's load (null where /proc cannot be read).
   */
  cpu: CpuShares | null
  /** The 1-minute load average just before the measured run. */
  loadBefore: number
  warmup: WrkResult
  measured: WrkResult
}

/** One target, measured in one or more passes. */
export interface TargetResult {
  id: string
  title: string
  /** `floor`: Miniflare's KV get alone, no app; shown for scale, never judged. */
  side: 'django' | 'sessiongate' | 'floor'
  /** The path requested (`/api/me`, `/auth/me`, or the floor's `/__bench/kv-get`). */
  path: string
  /** gunicorn's sync workers (Django only). */
  workers?: number
  /**
   * Statuses seen before the load: with the session cookie (must be 200), and without (401 or
   * 403). The floor needs no session: both are its one answer, 200.
   */
  check: { withSession: number; withoutSession: number }
  passes: PassResult[]
  /** Failed requests over every measured run; a target with any has no throughput. */
  failed: number
  /** The pass the timings come from: the one with the most requests/s. */
  bestPass: number
  /** The best pass's requests/s, or null when a measured run had failures. */
  rps: number | null
  p50Ms: number | null
  p99Ms: number | null
  /** requests/s over Django's best; null when either is missing. */
  ratioToDjango: number | null
}

/**
 * A target's result from its passes. Timings are the best pass's (the most requests/s, with its
 * own latencies): on a shared machine a pass can land in someone else's burst, and the best
 * pass is the closest to what the server can do. Failures add up over every pass.
 */
export function targetResult(
  base: Omit<TargetResult, 'failed' | 'bestPass' | 'rps' | 'p50Ms' | 'p99Ms' | 'ratioToDjango'>,
): TargetResult {
  if (base.passes.length === 0) throw new Error(`${base.id}: no pass was measured`)
  const best = base.passes.reduce((a, b) => (b.measured.rps > a.measured.rps ? b : a))
  const failed = base.passes.reduce((sum, pass) => sum + failures(pass.measured), 0)
  const clean = failed === 0
  return {
    ...base,
    failed,
    bestPass: best.pass,
    rps: clean ? round(best.measured.rps, 1) : null,
    p50Ms: clean ? round(best.measured.p50Ms, 3) : null,
    p99Ms: clean ? round(best.measured.p99Ms, 3) : null,
    ratioToDjango: null,
  }
}

/** Django's fastest clean run (gunicorn's best worker count), or null when none was clean. */
export function djangoBest(results: readonly TargetResult[]): TargetResult | null {
  let best: TargetResult | null = null
  for (const result of results) {
    if (result.side !== 'django' || result.rps === null) continue
    if (best === null || result.rps > (best.rps ?? 0)) best = result
  }
  return best
}

/** The results with their ratio to Django's best. */
export function withRatios(results: readonly TargetResult[]): TargetResult[] {
  const best = djangoBest(results)?.rps ?? null
  return results.map((result) => ({
    ...result,
    ratioToDjango: best !== null && result.rps !== null ? round(result.rps / best, 2) : null,
  }))
}

/** The goal, judged for each sessiongate target. */
export interface GoalVerdict {
  id: string
  title: string
  ratio: number | null
  met: boolean
}

/** Each sessiongate target against GOAL_RATIO x Django's best; unmet without a ratio. */
export function judgeGoal(results: readonly TargetResult[]): GoalVerdict[] {
  return results
    .filter((result) => result.side === 'sessiongate')
    .map(({ id, title, ratioToDjango: ratio }) => ({
      id,
      title,
      ratio,
      met: ratio !== null && ratio >= GOAL_RATIO,
    }))
}

/**
 * The notes under the table: what the CPU columns mean, and the most any measured run shared
 * the machine with someone else, with a warning when that was enough to matter.
 */
export function tableNotes(results: readonly TargetResult[]): string {
  let worst: { share: number; where: string } | null = null
  for (const result of results) {
    for (const pass of result.passes) {
      const share = pass.cpu?.other
      if (share === undefined || (worst && worst.share >= share)) continue
      worst = { share, where: `${result.title}, pass ${pass.pass}` }
    }
  }
  const legend =
    'Timings: the best pass of each target. CPU used: cores busy with the server under load and ' +
    'wrk during that pass. Other load: the share of the machine busy with anything else then.\n'
  if (!worst) return `${legend}Other load: not measured (no /proc).\n`
  const percent = Math.round(worst.share * 100)
  const warning = percent >= 10 ? '; someone else was using the machine, so the numbers suffer' : ''
  return `${legend}Other load, worst of every measured run: ${percent}% (${worst.where})${warning}.\n`
}

function measuredRequests(result: TargetResult): number {
  return result.passes.reduce((sum, pass) => sum + pass.measured.requests, 0)
}

function percent(share: number | undefined): string {
  return share === undefined ? '-' : `${Math.round(share * 100)}%`
}

function cores(share: number | undefined, cpus: number): string {
  return share === undefined ? '-' : `${(share * cpus).toFixed(2)} of ${cpus}`
}

function ms(value: number | null): string {
  return value === null ? '-' : `${value.toFixed(2)} ms`
}

/**
 * The printed table: target, requests/s, p50, p99, ratio to Django's best, and for the pass
 * shown, the cores the benchmark used (server and wrk, out of `cpus`) and the other load.
 */
export function resultsTable(results: readonly TargetResult[], cpus: number): string {
  const rows = results.map((result) => {
    const best = result.passes.find((pass) => pass.pass === result.bestPass)
    return [
      result.title,
      result.rps === null
        ? `FAILED: ${result.failed} of ${measuredRequests(result)} requests`
        : result.rps.toFixed(0),
      ms(result.p50Ms),
      ms(result.p99Ms),
      result.ratioToDjango === null ? '-' : `${result.ratioToDjango.toFixed(2)}x`,
      cores(best?.cpu?.benchmark, cpus),
      percent(best?.cpu?.other),
    ]
  })
  const header = ['target', 'req/s', 'p50', 'p99', 'x Django best', 'CPU used', 'other load']
  return renderTable(header, rows)
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}
