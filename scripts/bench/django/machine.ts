/**
 * Where the machine's CPU went during a run: to the benchmark (the server under load and wrk),
 * or to something else. On a shared machine, someone else's load in the middle of a run is the
 * first suspect for an odd number; and how many cores a server managed to use explains much of
 * its throughput. Each measured run records both, from Linux's own accounting (/proc), so it
 * costs no sampling.
 *
 * The benchmark's share is the CPU time of this process and every process under it (the servers,
 * wrk); a child that has ended and been reaped is in its parent's `cutime` and `cstime`, so wrk
 * counts even after it exits. The machine's share is /proc/stat's busy time. Both are in the
 * same clock ticks.
 */
import { readFile } from 'node:fs/promises'
import { isOurs, processTable } from '../cpu'

/** CPU times at one moment, in clock ticks. */
export interface CpuSnapshot {
  /** Busy time of every CPU. */
  busy: number
  /** Busy and idle time of every CPU. */
  total: number
  /** This process and its descendants, with their reaped children. */
  ours: number
}

/** Busy and total time from /proc/stat's `cpu` line. */
async function machineTimes(): Promise<{ busy: number; total: number } | null> {
  const stat = await readFile('/proc/stat', 'utf8')
  const fields = /^cpu\s+(.*)$/m.exec(stat)?.[1]?.trim().split(/\s+/).map(Number) ?? []
  if (fields.length < 8) return null
  // user nice system idle iowait irq softirq steal: idle and iowait are the idle time.
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0)
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total }
}

/** CPU times now; null where /proc cannot be read (not Linux). */
export async function cpuSnapshot(): Promise<CpuSnapshot | null> {
  try {
    const machine = await machineTimes()
    const table = await processTable()
    if (!machine || !table) return null
    let ours = 0
    for (const [pid, entry] of table) {
      if (isOurs(table, pid)) ours += entry.ticks + entry.reapedTicks
    }
    return { ...machine, ours }
  } catch {
    return null
  }
}

/** Where the CPU time went between two snapshots, as shares (0 to 1) of all the CPUs. */
export interface CpuShares {
  /** This process and its descendants: the target's server and wrk. */
  benchmark: number
  /** Every other process: someone else's load. */
  other: number
}

/** The CPU shares between two snapshots; null when either is missing. */
export function cpuShares(before: CpuSnapshot | null, after: CpuSnapshot | null): CpuShares | null {
  if (!before || !after || after.total <= before.total) return null
  const total = after.total - before.total
  const benchmark = after.ours - before.ours
  const other = after.busy - before.busy - benchmark
  const share = (ticks: number) => Math.round(Math.min(1, Math.max(0, ticks / total)) * 100) / 100
  return { benchmark: share(benchmark), other: share(other) }
}
