/**
 * CPU time per process, from Linux's own accounting (/proc), so measuring costs no sampling.
 * Both benchmarks use it: `npm run bench` for the CPU workerd spends per request, a cost that,
 * unlike requests/s, does not drop when something else takes workerd's core for a while; and
 * `npm run bench:django` for how many cores each server managed to keep busy.
 */
import { readdir, readFile } from 'node:fs/promises'

/**
 * Linux's USER_HZ, the unit of /proc's CPU times. It is 100 on every architecture Linux runs on
 * today, and Node has no `sysconf` to ask.
 */
export const TICKS_PER_SECOND = 100

/** One process's CPU times, in clock ticks. */
export interface ProcessCpu {
  ppid: number
  /** The executable's name (`comm`, at most 15 characters). */
  name: string
  /** Its own user and system time. */
  ticks: number
  /** Its children's that have ended and been reaped. */
  reapedTicks: number
}

/** One process's entry, or null when it ended since the directory was listed. */
async function processCpu(pid: string): Promise<ProcessCpu | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // The name, in parentheses, may hold spaces: the fields that matter follow its last ')'.
    const close = stat.lastIndexOf(')')
    const fields = stat.slice(close + 2).split(' ')
    // From there: state ppid ... utime (index 11), stime, cutime, cstime.
    const field = (index: number) => Number(fields[index] ?? 0)
    return {
      ppid: field(1),
      name: stat.slice(stat.indexOf('(') + 1, close),
      ticks: field(11) + field(12),
      reapedTicks: field(13) + field(14),
    }
  } catch {
    return null
  }
}

/** Every process's CPU times now, by pid; null where /proc cannot be read (not Linux). */
export async function processTable(): Promise<Map<number, ProcessCpu> | null> {
  try {
    const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name))
    const table = new Map<number, ProcessCpu>()
    for (const pid of pids) {
      const entry = await processCpu(pid)
      if (entry) table.set(Number(pid), entry)
    }
    return table
  } catch {
    return null
  }
}

/** Whether `pid` is this process or runs under it. */
export function isOurs(table: ReadonlyMap<number, ProcessCpu>, pid: number): boolean {
  let current: number | undefined = pid
  while (current !== undefined && current > 1 && current !== process.pid) {
    current = table.get(current)?.ppid
  }
  return current === process.pid
}

/**
 * The CPU milliseconds used so far by the workerd processes under this one (Miniflare's), or
 * null where /proc cannot be read. A developer's own `wrangler dev` elsewhere is not counted.
 */
export async function workerdCpuMs(): Promise<number | null> {
  const table = await processTable()
  if (!table) return null
  let ticks = 0
  for (const [pid, entry] of table) {
    if (entry.name === 'workerd' && isOurs(table, pid)) ticks += entry.ticks
  }
  return (ticks * 1000) / TICKS_PER_SECOND
}
