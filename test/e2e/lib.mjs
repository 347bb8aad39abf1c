/**
 * Shared pieces of the end-to-end tests: free loopback ports, child processes that are always
 * cleaned up (each in its own process group, ended by id), bounded waits, the real stack
 * (`npm run dev` in a throwaway state directory) and users made with the real CLI.
 */
import { spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { generatePrivateJwk } from '../../scripts/lib/jwk.mjs'
import { freePort } from '../../scripts/lib/ports.mjs'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Rejects after `ms` with `what` in the message, unless `promise` settles first. */
export async function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Throws `message` unless `condition` holds. */
export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`)
}

/** Polls `url` until it answers `status` (default 200), for at most `ms`. */
export async function waitForHttp(url, ms = 90_000, status = 200) {
  const deadline = Date.now() + ms
  let last = 'no answer'
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
      await response.arrayBuffer()
      if (response.status === status) return
      last = `status ${response.status}`
    } catch (error) {
      last = error.cause?.code ?? error.message
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`${url} not ready after ${ms} ms (${last})`)
}

/** The processes and directories of one test, all released by `cleanup()`. */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

export class Resources {
  #processes = []
  #dirs = []
  #browsers = []

  /**
   * A page in a fresh context of a new headless Chromium (Debian's), closed at cleanup; the
   * context is `page.context()`.
   */
  async page() {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      timeout: 60_000,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    })
    this.#browsers.push(browser)
    const context = await browser.newContext({ viewport: { width: 960, height: 640 } })
    const page = await context.newPage()
    page.setDefaultTimeout(20_000)
    page.setDefaultNavigationTimeout(30_000)
    return page
  }

  /** A temporary directory, removed at cleanup. */
  async tempDir(prefix) {
    const dir = await mkdtemp(join(tmpdir(), `sessiongate-${prefix}-`))
    this.#dirs.push(dir)
    return dir
  }

  /**
   * Starts a process in its own process group, output prefixed and kept for error reports.
   * Returns the child; `child.output()` is what it printed so far.
   */
  spawn(name, command, args, options = {}) {
    const child = spawn(command, args, {
      cwd: options.cwd ?? root,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
    })
    let output = ''
    const keep = (chunk) => {
      output += chunk
      if (output.length > 200_000) output = output.slice(-100_000)
      if (process.env.E2E_VERBOSE) process.stderr.write(`[${name}] ${chunk}`)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    if (options.input !== undefined) child.stdin.end(options.input)
    child.output = () => output
    child.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)))
    child.on('error', (error) => keep(`spawn error: ${error.message}\n`))
    this.#processes.push({ name, child })
    return child
  }

  /** Runs a command to completion (bounded), returning its exit code and output. */
  async run(name, command, args, options = {}) {
    const child = this.spawn(name, command, args, options)
    const code = await withTimeout(child.exited, options.timeoutMs ?? 120_000, name)
    return { code, output: child.output() }
  }

  /** Closes the browsers, ends every process group this test started (TERM, then KILL), and removes temp dirs. */
  async cleanup() {
    for (const browser of this.#browsers) await browser.close().catch(() => {})
    const alive = this.#processes.filter(({ child }) => child.exitCode === null && child.pid)
    for (const { child } of alive) signalGroup(child.pid, 'SIGTERM')
    await Promise.race([
      Promise.all(alive.map(({ child }) => child.exited)),
      new Promise((resolve) => setTimeout(resolve, 8000)),
    ])
    // The group may still hold grandchildren (workerd under wrangler): make sure they are gone.
    for (const { child } of this.#processes) if (child.pid) signalGroup(child.pid, 'SIGKILL')
    for (const dir of this.#dirs) await rm(dir, { recursive: true, force: true })
  }

  /** The output of every process, for a failure report. */
  report() {
    return this.#processes
      .map(({ name, child }) => `----- ${name} -----\n${child.output().slice(-4000)}`)
      .join('\n')
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal)
  } catch {
    // Already gone.
  }
}

/** 64 characters of a 62-letter alphabet: a SECRET_KEY that passes the production checks. */
export function strongSecret() {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
  return Array.from({ length: 64 }, () => alphabet[randomInt(alphabet.length)]).join('')
}

/**
 * Creates a user with the project's CLI (`npm run user -- create`), password on stdin, in the
 * local state under `persistTo`.
 */
export async function createUser(resources, persistTo, username, password, flags = []) {
  const tsx = join(root, 'node_modules', '.bin', 'tsx')
  const args = ['scripts/cli/user.ts', 'create', username, ...flags, '--persist-to', persistTo]
  const { code, output } = await resources.run(`user create ${username}`, tsx, args, {
    input: `${password}\n`,
    timeoutMs: 120_000,
  })
  if (code !== 0) throw new Error(`npm run user -- create ${username} failed (${code}):\n${output}`)
}

/**
 * Starts the real stack with `npm run dev` (scripts/dev.mjs) on a free port, in production mode
 * (DEBUG off, a strong SECRET_KEY, a fresh assertion key), its state in `persistTo`. `env` adds
 * or overrides settings (an ORIGIN_URL there replaces the demo origin). Resolves once /healthz
 * answers (with `readyStatus`, default 200).
 */
export async function startStack(resources, persistTo, env = {}, readyStatus = 200) {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const child = resources.spawn('npm run dev', process.execPath, ['scripts/dev.mjs'], {
    env: {
      PORT: String(port),
      PERSIST_TO: persistTo,
      DEBUG: 'false',
      SECRET_KEY: strongSecret(),
      ASSERTION_KEYS: JSON.stringify([await generatePrivateJwk()]),
      ...env,
    },
  })
  try {
    await withTimeout(
      Promise.race([
        waitForHttp(`${base}/healthz`, 120_000, readyStatus),
        child.exited.then((code) => {
          throw new Error(`npm run dev exited early (${code})`)
        }),
      ]),
      125_000,
      'the stack to start',
    )
  } catch (error) {
    throw new Error(`${error.message}\n${child.output().slice(-4000)}`)
  }
  return { base, port, child }
}

/** Runs one named e2e test: prints PASS/FAIL, always cleans up; resolves true when it passed. */
export async function runTest(name, body, timeoutMs = 300_000) {
  const resources = new Resources()
  const started = Date.now()
  try {
    await withTimeout(body(resources), timeoutMs, name)
    console.log(`PASS e2e ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
    return true
  } catch (error) {
    console.log(`FAIL e2e ${name}: ${error.stack ?? error}`)
    console.log(resources.report())
    return false
  } finally {
    await resources.cleanup()
  }
}

export { freePort }
