/**
 * What both benchmarks (`npm run bench`, `npm run bench:django`) need around their measurements:
 * settings from the environment, an undo list that runs on every way out, a time limit, and a
 * description of the machine and the tools measured on it.
 */
import { readFile } from 'node:fs/promises'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'

/** A positive number from the environment variable `name`, or `fallback` when unset. */
export function positive(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`)
  return value
}

/** Longest wait for one cleanup step (a Miniflare dispose under load), before the next one. */
const CLEANUP_STEP_MS = 10_000

/**
 * Things to undo, last first, whatever happened. `run` is shared: a signal and the normal end
 * may both ask for it, and the process must not exit before the one sequence has finished. A
 * timer keeps Node's event loop alive meanwhile (a dispose can wait on nothing Node counts),
 * and a step that hangs is given up after CLEANUP_STEP_MS.
 */
export class Cleanup {
  readonly #steps: (() => Promise<unknown>)[] = []
  #running: Promise<void> | undefined

  constructor(private readonly log: (message: string) => void) {}

  add(step: () => Promise<unknown>): void {
    this.#steps.push(step)
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      const keepAlive = setInterval(() => {}, 1000)
      try {
        while (this.#steps.length > 0) {
          const step = this.#steps.pop() as () => Promise<unknown>
          let timer: NodeJS.Timeout | undefined
          const timeout = new Promise((resolve) => {
            timer = setTimeout(
              () => resolve(this.log('cleanup: a step timed out')),
              CLEANUP_STEP_MS,
            )
          })
          await Promise.race([step().catch((error) => this.log(`cleanup: ${error}`)), timeout])
          clearTimeout(timer)
        }
      } finally {
        clearInterval(keepAlive)
      }
    })()
    return this.#running
  }
}

/**
 * Runs `body` with a cleanup that runs however it ends: normally, on an error, on SIGINT or
 * SIGTERM (exit 130), or when `limitMs` passes first (exit 2), so a hang never outlives the run.
 * Returns the body's exit status.
 */
export async function guarded(
  limitMs: number,
  log: (message: string) => void,
  body: (cleanup: Cleanup) => Promise<number>,
): Promise<number> {
  const cleanup = new Cleanup(log)
  const watchdog = setTimeout(() => {
    log(`time limit (${limitMs / 1000} s) exceeded; stopping`)
    void cleanup.run().finally(() => process.exit(2))
  }, limitMs)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`)
      void cleanup.run().finally(() => process.exit(130))
    })
  }
  try {
    return await body(cleanup)
  } finally {
    clearTimeout(watchdog)
    await cleanup.run()
  }
}

/** The installed version of an npm package of the project. */
export async function packageVersion(root: string, name: string): Promise<string> {
  const text = await readFile(join(root, 'node_modules', name, 'package.json'), 'utf8')
  return (JSON.parse(text) as { version: string }).version
}

/** The machine, for the report: the load average from the run's start to now. */
export function machineInfo(loadStart: number[]) {
  const cpu = cpus()
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    loadAverage: { start: loadStart, end: loadavg() },
  }
}
