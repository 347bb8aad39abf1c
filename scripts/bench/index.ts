/**
 * `npm run bench`: the benchmark (README, "Benchmark"), in under 2 minutes, on loopback only.
 *
 * 1. Builds the Worker with wrangler (`deploy --dry-run`) from a bench-only entry that wraps the
 *    KV and D1 bindings in counters (scripts/bench/entry.ts) and otherwise runs the real Worker.
 * 2. Runs it in Miniflare directly (no `wrangler dev` proxy), KV and D1 local (in Miniflare's
 *    temporary directory, deleted afterwards), in front of a tiny local origin (its own process),
 *    with a random SECRET_KEY and a fresh assertion key.
 * 3. Seeds users through the project's UserRepository and hashers, and logs sessions in through
 *    `POST /auth/login`.
 * 4. Drives each scenario with autocannon (a warm-up, then the measured run) and reads the
 *    storage counters, reset in between, so the counts are those of the steady state. The
 *    scenarios run in two passes; each reports its best pass's timings and all passes' counts.
 * 5. Prints a table and the targets, and writes bench/results.json.
 *
 * Exit status: 1 when a storage target (1 KV read, 0 KV writes, 0 D1 queries per authenticated
 * request) or an invariant is missed; never for a timing, which depends on the machine's load.
 *
 * Options: `--memory` adds the memory check (scripts/bench/memory.ts, a few minutes);
 * `--profile <ids>` instead prints a CPU profile of the Worker while each scenario runs
 * (scripts/bench/profile.ts; ids as in results.json, comma-separated) and writes nothing.
 * Environment: BENCH_SECONDS (measured seconds per scenario, default 4), BENCH_PASSES (default
 * 2), BENCH_WARMUP_SECONDS (default 1), BENCH_MEMORY_SESSIONS (default 2,000),
 * BENCH_MEMORY_REQUESTS (default 100,000).
 */
import { rmSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ALPHANUMERIC, randomString } from '../../src/utils/crypto'
import { generatePrivateJwk } from '../lib/jwk.mjs'
import { type Cleanup, guarded, machineInfo, packageVersion, positive } from './harness'
import { Inspector } from './inspector'
import { type MemoryResult, mib, runMemoryCheck } from './memory'
import { type Origin, startOrigin } from './origin'
import { profileScenario, profileText } from './profile'
import { failed, judge, resultsTable, type Target, targetLines } from './report'
import {
  CONNECTIONS,
  measure,
  mergePasses,
  type ScenarioResult,
  scenarios,
  withRatios,
} from './scenarios'
import { applySchema, createTokens, logInAll, seedUsers } from './seed'
import {
  type BuiltWorker,
  buildWorker,
  type RunningWorker,
  type RuntimeSettings,
  runtimeSettings,
  startWorker,
} from './worker'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ENTRY = join(ROOT, 'scripts', 'bench', 'entry.ts')
const RESULTS = join(ROOT, 'bench', 'results.json')

/** Users created; the read scenarios use one session of each. */
const USERS = 100

interface Options {
  seconds: number
  warmupSeconds: number
  memory: boolean
  memorySessions: number
  memoryRequests: number
  /** Passes over the scenarios; each gets `seconds / passes` of measured load per pass. */
  passes: number
  /** Scenario ids to profile instead of benchmarking (empty: benchmark). */
  profile: string[]
}

const USAGE = `Usage: npm run bench [-- --memory | --profile me,proxied,...]

  --memory         also run the memory check (heap after many requests on many sessions; minutes)
  --profile IDS    print a CPU profile of the Worker for each scenario id (healthz, me, anonymous,
                   proxied, login, mix, ...) instead of the benchmark; writes nothing

Environment: BENCH_SECONDS (measured seconds per scenario, default 4), BENCH_PASSES (passes
the seconds are split over, default 2), BENCH_WARMUP_SECONDS (default 1),
BENCH_MEMORY_SESSIONS (default 2000), BENCH_MEMORY_REQUESTS (default 100000).
`

function parseOptions(args: readonly string[]): Options | null {
  let memory = false
  let profile: string[] = []
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string
    if (arg === '--help' || arg === '-h') return null
    if (arg === '--memory') memory = true
    else if (arg === '--profile' || arg.startsWith('--profile=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++index]
      profile = (value ?? '').split(',').filter(Boolean)
      if (profile.length === 0) throw new Error(`--profile needs scenario ids\n${USAGE}`)
    } else throw new Error(`unknown option ${arg}\n${USAGE}`)
  }
  return {
    seconds: positive('BENCH_SECONDS', 4),
    warmupSeconds: positive('BENCH_WARMUP_SECONDS', 1),
    memory,
    memorySessions: Math.round(positive('BENCH_MEMORY_SESSIONS', 2_000)),
    memoryRequests: Math.round(positive('BENCH_MEMORY_REQUESTS', 100_000)),
    passes: Math.round(positive('BENCH_PASSES', 2)),
    profile,
  }
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}

/** A random SECRET_KEY and a fresh assertion key: nothing of the developer's is used. */
async function benchBindings(origin: Origin): Promise<Record<string, string>> {
  return {
    // 64 characters of a 62-letter alphabet: 381 bits, and it passes Django's strength check.
    SECRET_KEY: randomString(ALPHANUMERIC, 64),
    ASSERTION_KEYS: JSON.stringify(await generatePrivateJwk()),
    ORIGIN_URL: origin.url.origin,
  }
}

/** What every Worker of a run is started from, and where it is stopped. */
interface Setup {
  built: BuiltWorker
  settings: RuntimeSettings
  bindings: Record<string, string>
  origin: Origin
  cleanup: Cleanup
}

async function startSeeded(
  setup: Setup,
  inspector = false,
): Promise<{ worker: RunningWorker; usernames: string[] }> {
  const { built, settings, bindings, cleanup } = setup
  const worker = await startWorker(built, { settings, bindings, inspector })
  cleanup.add(() => worker.dispose())
  const db = (await worker.mf.getD1Database('DB')) as unknown as D1Database
  await applySchema(db, ROOT)
  const started = Date.now()
  const usernames = await seedUsers(db, USERS)
  log(`${usernames.length} users in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return { worker, usernames }
}

/** A seeded Worker with a session logged in for each user, and the scenarios over them. */
async function startWithScenarios(setup: Setup, inspector = false) {
  const { worker, usernames } = await startSeeded(setup, inspector)
  log(`logging in ${usernames.length} sessions through POST /auth/login ...`)
  const started = Date.now()
  const sessions = await logInAll(worker.url, usernames, 2)
  log(`${sessions.length} sessions in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const tokens = await createTokens(worker.url, sessions)
  log(`${tokens.length} API tokens through POST /auth/tokens`)
  const context = { worker, originUrl: setup.origin.url, sessions, usernames, tokens }
  return { worker, context, list: await scenarios(context) }
}

async function runScenarios(setup: Setup, options: Options) {
  const { worker, context, list } = await startWithScenarios(setup)
  const passes = list.map((): ScenarioResult[] => [])
  // Every scenario once per pass, the passes one after the other: a burst of someone else's
  // load then spoils one pass of a scenario, not all of it.
  for (let pass = 1; pass <= options.passes; pass++) {
    for (const [index, scenario] of list.entries()) {
      log(
        `pass ${pass}/${options.passes}: ${scenario.title}, ${scenario.connections} connection(s)`,
      )
      passes[index]?.push(
        await measure(scenario, context, {
          seconds: options.seconds / options.passes,
          // The later passes only need the JIT and the connections warm again.
          warmupSeconds: pass === 1 ? options.warmupSeconds : options.warmupSeconds / 2,
        }),
      )
    }
  }
  const results = passes.map(mergePasses)
  const { lifetime } = await worker.counters()
  await worker.dispose()
  return { results: withRatios(results), isolate: lifetime, sessions: context.sessions.length }
}

/** `--profile`: a Worker with the inspector open, then a CPU profile per requested scenario. */
async function runProfiles(setup: Setup, options: Options): Promise<void> {
  const { worker, context, list: all } = await startWithScenarios(setup, true)
  const inspector = await Inspector.connect(await worker.mf.getInspectorURL(), worker.name)
  try {
    for (const id of options.profile) {
      const scenario = all.find((candidate) => candidate.id === id)
      if (scenario?.target !== 'worker') {
        const ids = all.filter((candidate) => candidate.target === 'worker').map((c) => c.id)
        throw new Error(`no Worker scenario "${id}" to profile (one of: ${ids.join(', ')})`)
      }
      log(`profiling ${scenario.title} ...`)
      const bundle = setup.built.modules[0]?.path as string
      const summary = await profileScenario(inspector, bundle, scenario, context, options.seconds)
      process.stdout.write(`\n${profileText(summary)}`)
    }
  } finally {
    inspector.close()
  }
}

async function runMemory(setup: Setup, options: Options): Promise<MemoryResult> {
  const { worker, usernames } = await startSeeded(setup, true)
  const result = await runMemoryCheck(worker, usernames, {
    sessions: options.memorySessions,
    requests: options.memoryRequests,
    chunks: 5,
    // Generous: 100,000 requests at a few hundred per second on a busy 2-core machine.
    chunkSeconds: 240,
    log,
  })
  await worker.dispose()
  return result
}

/** The memory section of an earlier run, kept when this run does not redo the check. */
async function previousMemory(): Promise<unknown> {
  try {
    const previous = JSON.parse(await readFile(RESULTS, 'utf8')) as { memory?: unknown }
    return previous.memory ?? null
  } catch {
    return null
  }
}

/** An upper bound on the whole run, so a hang never outlives it. */
function timeLimitMs(options: Options): number {
  const scenarioMs = 14 * (options.seconds + options.passes * (options.warmupSeconds + 3)) * 1000
  const memoryMs = options.memory ? options.memorySessions * 250 + 5 * 240_000 + 60_000 : 0
  return 180_000 + scenarioMs + memoryMs
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2))
  if (!options) {
    process.stdout.write(USAGE)
    return 0
  }
  return guarded(timeLimitMs(options), log, async (cleanup) => {
    const loadStart = loadavg()
    const dir = await mkdtemp(join(tmpdir(), 'sessiongate-bench-'))
    cleanup.add(() => rm(dir, { recursive: true, force: true }))
    // Miniflare ends the process itself on SIGINT and SIGTERM (after stopping workerd), before
    // any cleanup of ours can run: the scratch directory goes on `exit`, which runs regardless.
    // The origin stops by itself when this process's end closes its stdin.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    const settings = await runtimeSettings(ROOT)
    log('building the Worker (wrangler deploy --dry-run, bench entry) ...')
    const built = await buildWorker(ENTRY, dir, settings)
    const origin = await startOrigin()
    cleanup.add(() => origin.close())
    const setup: Setup = { built, settings, bindings: await benchBindings(origin), origin, cleanup }
    if (options.profile.length > 0) {
      await runProfiles(setup, options)
      return 0
    }

    const run = await runScenarios(setup, options)
    const memory = options.memory ? await runMemory(setup, options) : null
    const targets: Target[] = judge(run.results, run.isolate, memory)
    const table = resultsTable(run.results)

    const report = {
      generatedBy: 'npm run bench',
      date: new Date().toISOString(),
      machine: machineInfo(loadStart),
      runtime: {
        miniflare: await packageVersion(ROOT, 'miniflare'),
        wrangler: await packageVersion(ROOT, 'wrangler'),
        autocannon: await packageVersion(ROOT, 'autocannon'),
        ...settings,
      },
      settings: {
        secondsPerScenario: options.seconds,
        passes: options.passes,
        warmupSecondsPerScenario: options.warmupSeconds,
        connections: CONNECTIONS,
        users: USERS,
        sessions: run.sessions,
      },
      isolate: run.isolate,
      scenarios: run.results,
      targets,
      memory: memory ?? (await previousMemory()),
      memoryFromThisRun: memory !== null,
      table,
    }
    await mkdir(join(ROOT, 'bench'), { recursive: true })
    await writeFile(RESULTS, `${JSON.stringify(report, null, 2)}\n`)

    process.stdout.write(
      `\nsessiongate bench: ${report.machine.cpus} x ${report.machine.cpuModel}, Node ${process.version}, ` +
        `Miniflare ${report.runtime.miniflare}, ${options.seconds} s per scenario in ${options.passes} passes, ` +
        `load average ${loadStart[0]?.toFixed(2)} -> ${report.machine.loadAverage.end[0]?.toFixed(2)}\n\n`,
    )
    process.stdout.write(table)
    process.stdout.write(
      '\nTimings: the best pass of each scenario. x ceiling: requests/s over the faster /healthz.\n' +
        'KV reads, KV writes (puts + deletes) and D1 statements: per request, counted in the\n' +
        'Worker over every measured pass, after a warm-up. "one KV get alone": the bench entry\n' +
        "reading KV and nothing else, i.e. Miniflare's local KV by itself, without the app.\n" +
        "CPU µs/req: workerd's CPU time per request over every measured pass (Linux's /proc), the\n" +
        'runtime and the Worker together; unlike requests/s, it does not drop when something else\n' +
        "takes workerd's core for a while.\n",
    )
    if (memory) {
      const { revocation } = memory
      process.stdout.write(
        `\nMemory: ${memory.sessions} sessions, ${memory.requests} requests: heap after GC ` +
          `${mib(memory.baseline.usedBytes)} (warm) -> ${memory.samples.map((s) => mib(s.usedBytes)).join(' -> ')}\n` +
          `Log out everywhere, ${revocation.sessions} sessions: ${revocation.ms.toFixed(0)} ms, ` +
          `${revocation.kvOperations} KV operations, ${revocation.d1Queries} D1 queries\n`,
      )
    }
    process.stdout.write(`\nTargets:\n${targetLines(targets)}\nWrote ${RESULTS}\n`)
    return failed(targets) ? 1 : 0
  })
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exitCode = 1
  },
)
