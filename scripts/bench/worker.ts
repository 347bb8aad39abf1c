/**
 * The Worker under test: built by wrangler exactly as `wrangler deploy` builds it, but from the
 * bench-only entry (entry.ts), and run by Miniflare directly. `wrangler dev` would put its own
 * proxy in front, which costs about 3x in latency and would be measured instead of the Worker.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Miniflare } from 'miniflare'
import { runCommand } from '../lib/process'
import type { StorageCounts } from './counting'

/** What `wrangler deploy --dry-run --outdir` produced. */
export interface BuiltWorker {
  dir: string
  /** The bundle (`entry.js`) and the modules it imports (the argon2 `.wasm`). */
  modules: { type: 'ESModule' | 'CompiledWasm'; path: string }[]
}

/** The runtime settings of production, read from wrangler.toml so the bench cannot drift. */
export interface RuntimeSettings {
  compatibilityDate: string
  compatibilityFlags: string[]
}

/** wrangler must not prompt, phone home or fetch the `cf` object. */
const WRANGLER_ENV = {
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
}

/** Reads `compatibility_date` and `compatibility_flags` from the project's wrangler.toml. */
export async function runtimeSettings(root: string): Promise<RuntimeSettings> {
  const toml = await readFile(join(root, 'wrangler.toml'), 'utf8')
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1]
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? ''
  if (!date) throw new Error('wrangler.toml has no compatibility_date')
  return {
    compatibilityDate: date,
    compatibilityFlags: [...flags.matchAll(/"([^"]+)"/g)].map((match) => match[1] as string),
  }
}

/**
 * Bundles `entry` with wrangler's own build (`deploy --dry-run`), from a generated config in
 * `dir`, so wrangler's `.wrangler/` scratch files land there and not in the project.
 */
export async function buildWorker(
  entry: string,
  dir: string,
  settings: RuntimeSettings,
): Promise<BuiltWorker> {
  const config = join(dir, 'wrangler.json')
  const outdir = join(dir, 'dist')
  await writeFile(
    config,
    JSON.stringify({
      name: 'sessiongate-bench',
      main: entry,
      compatibility_date: settings.compatibilityDate,
      compatibility_flags: settings.compatibilityFlags,
      send_metrics: false,
    }),
  )
  const require = createRequire(import.meta.url)
  const wrangler = join(dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js')
  const args = [wrangler, 'deploy', '--dry-run', '--outdir', outdir, '--config', config]
  const output = await runCommand(process.execPath, args, { cwd: dir, env: WRANGLER_ENV })
  if (output.code !== 0) {
    throw new Error(`wrangler build failed:\n${output.stdout}${output.stderr}`)
  }
  const files = await readdir(outdir)
  const main = files.find((file) => file.endsWith('.js') && !file.endsWith('.map'))
  if (!main) throw new Error(`wrangler wrote no bundle in ${outdir}`)
  return {
    dir: outdir,
    modules: [
      { type: 'ESModule', path: join(outdir, main) },
      ...files
        .filter((file) => file.endsWith('.wasm'))
        .map((file) => ({ type: 'CompiledWasm' as const, path: join(outdir, file) })),
    ],
  }
}

export interface WorkerOptions {
  settings: RuntimeSettings
  bindings: Record<string, string>
  /** Opens workerd's V8 inspector on a free port (the memory check). Default false. */
  inspector?: boolean
  /** The loopback port to serve on. Default 0: any free one. */
  port?: number
  /**
   * Drops the Worker's `console.log` and `console.info` lines (the audit log's one per login),
   * keeping its warnings and errors. Default false: everything is printed.
   */
  quiet?: boolean
}

/** Whether a line from workerd reaches the terminal when `quiet`. */
const QUIET_LEVELS = new Set(['log', 'info', 'debug'])

/** The Worker running in Miniflare, with local KV and D1. */
export interface RunningWorker {
  mf: Miniflare
  /** `http://127.0.0.1:PORT`: workerd's own socket, no proxy in between. */
  url: URL
  /** The name of the Worker in workerd (its inspector target is `/core:user:<name>`). */
  name: string
  counters(): Promise<{
    counts: StorageCounts
    lifetime: { envObjects: number; configLoads: number }
  }>
  resetCounters(): Promise<void>
  dispose(): Promise<void>
}

/** The Worker's name in workerd. */
const WORKER_NAME = 'sessiongate'

/**
 * Starts the built Worker in Miniflare. KV and D1 are local, in Miniflare's temporary directory
 * (SQLite, and a file per KV value), which `dispose` deletes: nothing persists.
 */
export async function startWorker(
  built: BuiltWorker,
  options: WorkerOptions,
): Promise<RunningWorker> {
  const mf = new Miniflare({
    name: WORKER_NAME,
    modules: built.modules,
    modulesRoot: built.dir,
    compatibilityDate: options.settings.compatibilityDate,
    compatibilityFlags: options.settings.compatibilityFlags,
    kvNamespaces: ['SESSIONS'],
    d1Databases: ['DB'],
    bindings: options.bindings,
    host: '127.0.0.1',
    port: options.port ?? 0,
    ...(options.inspector ? { inspectorPort: 0 } : {}),
    ...(options.quiet
      ? {
          handleStructuredLogs: ({ level, message }: { level: string; message: string }) => {
            if (!QUIET_LEVELS.has(level)) process.stderr.write(`${message}\n`)
          },
        }
      : {}),
  })
  const url = await mf.ready
  const call = async (path: string, method: string) => {
    const response = await fetch(new URL(path, url), { method })
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`)
    return (await response.json()) as Awaited<ReturnType<RunningWorker['counters']>>
  }
  let disposed: Promise<void> | undefined
  return {
    mf,
    url,
    name: WORKER_NAME,
    counters: () => call('/__bench/counters', 'GET'),
    resetCounters: async () => {
      await call('/__bench/reset', 'POST')
    },
    // Idempotent: the bench disposes as soon as it is done, and again in its cleanup.
    dispose: () => {
      disposed ??= mf.dispose()
      return disposed
    },
  }
}
