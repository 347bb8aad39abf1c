/**
 * The servers of `npm run bench:django`: servers that always stop (each in its own process
 * group, ended by its id, so gunicorn's workers and wrangler's workerd go with it), and bounded
 * waits for an HTTP status. Commands run to their end go through scripts/lib/process.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs'

/** The groups of every server still running, so that even an abrupt exit ends them. */
const running = new Set<number>()

process.once('exit', () => {
  for (const pid of running) signalGroup(pid, 'SIGKILL')
})

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // Already gone.
  }
}

/** A long-running server: its output goes to a log file, read back only for an error report. */
export class Server {
  readonly name: string
  readonly #child: ChildProcess
  readonly #log: string
  readonly #exited: Promise<number | null>
  #failedToStart = false
  #stopping: Promise<void> | undefined

  /**
   * Starts `command` in a process group of its own, stdout and stderr to the file `log`: a file
   * costs the server nothing to write, where a pipe read by this process would take CPU from
   * the run on a 2-core machine.
   */
  constructor(
    name: string,
    command: string,
    args: readonly string[],
    options: { cwd?: string; env?: Record<string, string>; log: string },
  ) {
    this.name = name
    this.#log = options.log
    const fd = openSync(options.log, 'w')
    try {
      this.#child = spawn(command, args, {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', fd, fd],
        detached: true,
      })
    } finally {
      closeSync(fd)
    }
    const pid = this.#child.pid
    if (pid !== undefined) running.add(pid)
    this.#exited = new Promise((resolve) => {
      this.#child.once('error', (error) => {
        this.#failedToStart = true
        appendFileSync(options.log, `could not start ${command}: ${error.message}\n`)
        resolve(null)
      })
      this.#child.once('exit', (code) => {
        if (pid !== undefined) running.delete(pid)
        resolve(code)
      })
    })
  }

  /** Whether the process has ended (or never started). */
  get ended(): boolean {
    return this.#failedToStart || this.#child.exitCode !== null || this.#child.signalCode !== null
  }

  /** Resolves with the exit code when the server ends. */
  get exited(): Promise<number | null> {
    return this.#exited
  }

  /** The last `chars` characters the server printed. */
  output(chars = 4000): string {
    try {
      return readFileSync(this.#log, 'utf8').slice(-chars)
    } catch {
      return ''
    }
  }

  /** SIGTERM to the whole group, then SIGKILL after `graceMs` (default 5,000). Idempotent. */
  stop(graceMs = 5000): Promise<void> {
    this.#stopping ??= (async () => {
      const pid = this.#child.pid
      if (pid === undefined) return
      signalGroup(pid, 'SIGTERM')
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        this.#exited,
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs)
        }),
      ])
      clearTimeout(timer)
      // The leader may be gone while a grandchild (workerd under wrangler) is not.
      signalGroup(pid, 'SIGKILL')
      running.delete(pid)
    })()
    return this.#stopping
  }
}

/**
 * Polls `url` until it answers `status`, for at most `ms`; fails at once if `server` ends
 * meanwhile, with what it printed.
 */
export async function waitForStatus(
  url: URL,
  status: number,
  ms: number,
  server?: Server,
): Promise<void> {
  const deadline = Date.now() + ms
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (server?.ended) {
      throw new Error(`${server.name} exited before answering ${url}:\n${server.output()}`)
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
      await response.arrayBuffer()
      if (response.status === status) return
      last = `status ${response.status}`
    } catch (error) {
      last = String((error as { cause?: { code?: string } }).cause?.code ?? error)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const output = server ? `\n${server.output()}` : ''
  throw new Error(`${url} did not answer ${status} within ${ms / 1000} s (${last})${output}`)
}
