/**
 * `npm run bench:django` (entry: scripts/bench/django/index.ts): the same authenticated request,
 * loaded by wrk on this machine, served by Django + DRF under gunicorn and by sessiongate.
 *
 * 1. Checks the tools: Django, DRF and gunicorn for PYTHON (default /usr/bin/python3), and wrk.
 * 2. Starts the targets. Django: migrates a fresh SQLite database in a temporary directory,
 *    creates the bench user and logs it in through Django's login (a row in django_session),
 *    then serves `GET /api/me` with gunicorn's sync workers, 2 and 2 x cores + 1 (two servers).
 *    sessiongate: `GET /auth/me` from the real Worker run by Miniflare directly (as
 *    `npm run bench` runs it), and under `wrangler dev` with the project's wrangler.toml (as
 *    users run it); each with a session made by `POST /auth/login`. Beside them, for scale, the
 *    floor: one Miniflare KV get of that session's record, with no app around it.
 * 3. Checks every target: 200 with the session cookie and the bench user in the body; 401 or
 *    403 without it (the floor: 200 and the record found).
 * 4. Loads the targets one at a time, never two at once, in passes (the order flips each
 *    pass): a wrk warm-up, then the measured wrk run, with the same settings and the same
 *    `Cookie: sessionid=...` header for every target. The servers not being loaded sit idle.
 * 5. Stops everything, then prints a table (requests/s, p50, p99 of each target's best pass,
 *    and the ratio to Django's best) and writes bench/django.json.
 *
 * Exit status: 1 when a tool is missing, a target fails its check, or a measured run has a
 * failed request (its target is then reported as failed, never with a throughput); 0 otherwise,
 * goal met or not, since the timing depends on the machine's load.
 */
import { rmSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Cleanup, guarded, machineInfo, packageVersion, positive } from '../harness'
import { BENCH_PASSWORD } from '../seed'
import { runtimeSettings } from '../worker'
import {
  APT_PACKAGES,
  BENCH_USER,
  type DjangoSite,
  prepareSite,
  pythonVersions,
  startGunicorn,
} from './django'
import { cpuShares, cpuSnapshot } from './machine'
import {
  djangoBest,
  GOAL_RATIO,
  judgeGoal,
  type PassResult,
  resultsTable,
  type TargetResult,
  tableNotes,
  targetResult,
  withRatios,
} from './report'
import { type SessiongateTarget, startMiniflare, startWranglerDev } from './sessiongate'
import { failures, runWrk, type WrkSettings, wrkArgs, wrkVersion } from './wrk'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const RESULTS = join(ROOT, 'bench', 'django.json')

const USAGE = `Usage: npm run bench:django

Django + DRF (gunicorn) and sessiongate (Miniflare, then wrangler dev) serving the same
authenticated request, loaded one after the other by wrk on 127.0.0.1. Writes bench/django.json.

Environment: PYTHON (default /usr/bin/python3), WRK (default wrk), BENCH_DJANGO_PASSES
(default 2), BENCH_DJANGO_SECONDS (measured seconds per target and pass, default 6),
BENCH_DJANGO_WARMUP_SECONDS (default 2, half after the first pass), BENCH_DJANGO_CONNECTIONS
(wrk's connections, default 10, wrk's own default).
`

interface Options {
  python: string
  wrk: string
  /** gunicorn worker counts tried; Django's best is the one compared. */
  workers: number[]
  /** Passes over every target; each target's best is reported. */
  passes: number
  load: WrkSettings
}

function parseOptions(args: readonly string[]): Options | null {
  for (const arg of args) {
    if (arg === '--help' || arg === '-h') return null
    throw new Error(`unknown option ${arg}\n${USAGE}`)
  }
  const cores = cpus().length
  return {
    python: process.env.PYTHON || '/usr/bin/python3',
    wrk: process.env.WRK || 'wrk',
    // 2, and gunicorn's documented starting point, 2 x cores + 1: Django gets the better one.
    workers: [...new Set([2, 2 * cores + 1])],
    passes: Math.round(positive('BENCH_DJANGO_PASSES', 2)),
    load: {
      // wrk's own defaults (-t2 -c10), which an independent check with plain `wrk` gets too;
      // 10 connections keep even 2 x cores + 1 sync workers busy.
      threads: 2,
      connections: Math.round(positive('BENCH_DJANGO_CONNECTIONS', 10)),
      warmupSeconds: Math.round(positive('BENCH_DJANGO_WARMUP_SECONDS', 2)),
      seconds: Math.round(positive('BENCH_DJANGO_SECONDS', 6)),
      // wrk's default is 2 s: a slow answer on a busy shared machine is a latency to show, and
      // only one slower than this an error.
      timeoutSeconds: 5,
    },
  }
}

function log(message: string): void {
  process.stderr.write(`[bench:django] ${message}\n`)
}

/** A tool the benchmark needs is missing: the message names the Debian packages. */
class MissingTools extends Error {}

/** The tools, or a message naming the Debian packages that are missing. */
async function checkTools(options: Options) {
  const python = await pythonVersions(options.python)
  const wrk = await wrkVersion(options.wrk)
  const missing = [
    python === null ? `${options.python} (python3)` : null,
    python && !python.django ? `Django for ${options.python} (python3-django)` : null,
    python && !python.djangorestframework
      ? `Django REST Framework for ${options.python} (python3-djangorestframework)`
      : null,
    python && !python.gunicorn ? `gunicorn for ${options.python} (gunicorn)` : null,
    wrk === null ? `wrk as "${options.wrk}" (wrk)` : null,
  ].filter((item) => item !== null)
  if (missing.length > 0 || python === null || wrk === null) {
    throw new MissingTools(
      `missing: ${missing.join(', ')}.\n` +
        `Install them with: apt-get install ${APT_PACKAGES}\n` +
        '(PYTHON selects another interpreter that has Django, DRF and gunicorn; WRK another wrk.)',
    )
  }
  return { python, wrk }
}

/** A server under test, up, with a logged-in session. */
interface Target {
  id: string
  title: string
  side: TargetResult['side']
  workers?: number
  url: URL
  sessionKey: string
  username: string
  /** What the server printed, for a failure report ('' when it prints nowhere). */
  output(): string
  /** Miniflare's KV get alone beside it (see `SessiongateTarget.floorUrl`). */
  floorUrl?: URL
}

/** What a target answers before any load: 200 with the session (and its user), 401/403 without. */
async function checkTarget(target: Target): Promise<TargetResult['check']> {
  const { url } = target
  if (target.side === 'floor') {
    const response = await fetch(url)
    const text = await response.text()
    if (response.status !== 200) throw new Error(`${url}: ${response.status} ${text}`)
    log(`${target.title}: ${response.status}, the session's record found`)
    return { withSession: response.status, withoutSession: response.status }
  }
  const authenticated = await fetch(url, { headers: { Cookie: `sessionid=${target.sessionKey}` } })
  const text = await authenticated.text()
  if (authenticated.status !== 200) {
    throw new Error(`${url} with the session cookie: ${authenticated.status} ${text}`)
  }
  const body = JSON.parse(text) as { user?: { username?: string } }
  if (body.user?.username !== target.username) {
    throw new Error(`${url} answered another user: ${text}`)
  }
  const anonymous = await fetch(url)
  const anonymousText = await anonymous.text()
  if (anonymous.status !== 401 && anonymous.status !== 403) {
    throw new Error(`${url} without a session: ${anonymous.status} ${anonymousText}`)
  }
  log(`${target.title}: ${authenticated.status} with the session, ${anonymous.status} without`)
  return { withSession: authenticated.status, withoutSession: anonymous.status }
}

/** gunicorn for each worker count, all on the one site. */
async function startDjango(
  site: DjangoSite,
  options: Options,
  dir: string,
  teardown: Cleanup,
): Promise<Target[]> {
  const targets: Target[] = []
  for (const workers of options.workers) {
    const logFile = join(dir, `gunicorn-${workers}.log`)
    const gunicorn = await startGunicorn(options.python, site, workers, logFile)
    teardown.add(() => gunicorn.server.stop())
    targets.push({
      id: `django-gunicorn-${workers}`,
      title: `Django + DRF, gunicorn ${workers} sync workers`,
      side: 'django',
      workers,
      url: gunicorn.url,
      sessionKey: site.sessionKey,
      username: site.user.username,
      output: () => gunicorn.server.output(),
    })
  }
  return targets
}

async function startSessiongate(
  id: string,
  title: string,
  start: () => Promise<SessiongateTarget>,
  teardown: Cleanup,
): Promise<Target> {
  log(`${title}: starting ...`)
  const target = await start()
  teardown.add(() => target.stop())
  return { id, title, side: 'sessiongate', ...target }
}

/** The floor beside a Miniflare target: its KV get alone, with the same wrk command. */
function floorOf(target: Target): Target[] {
  const { floorUrl, ...rest } = target
  if (!floorUrl) return []
  return [
    {
      ...rest,
      id: `${target.id}-kv-get`,
      title: `${target.title}: one KV get alone, no app (floor)`,
      side: 'floor',
      url: floorUrl,
    },
  ]
}

/**
 * Loads every target `passes` times, one at a time: a warm-up (shorter after the first pass,
 * which only needs the connections and caches warm again), then the measured run. The order
 * flips every pass, so that no target always runs first, or right after the same neighbour.
 */
async function loadTargets(
  targets: readonly Target[],
  options: Options,
): Promise<Map<Target, PassResult[]>> {
  const runs = new Map(targets.map((target) => [target, [] as PassResult[]]))
  const settings = options.load
  for (let pass = 1; pass <= options.passes; pass++) {
    const order = pass % 2 === 1 ? targets : [...targets].reverse()
    const warmupSeconds =
      pass === 1 ? settings.warmupSeconds : Math.max(1, Math.round(settings.warmupSeconds / 2))
    for (const target of order) {
      log(`pass ${pass}/${options.passes}: ${target.title} ...`)
      const headers = [`Cookie: sessionid=${target.sessionKey}`]
      const warmup = await runWrk(options.wrk, target.url, headers, warmupSeconds, settings)
      const loadBefore = Math.round((loadavg()[0] ?? 0) * 100) / 100
      const before = await cpuSnapshot()
      const measured = await runWrk(options.wrk, target.url, headers, settings.seconds, settings)
      const cpu = cpuShares(before, await cpuSnapshot())
      runs.get(target)?.push({ pass, cpu, loadBefore, warmup, measured })
      const failed = failures(measured)
      if (failed > 0) {
        log(`${target.title}: ${failed} failed requests; the server printed:\n${target.output()}`)
      }
    }
  }
  return runs
}

/** An upper bound on the whole run, so that a hang never outlives it. */
function timeLimitMs(options: Options): number {
  const { warmupSeconds, seconds, timeoutSeconds } = options.load
  // Django's servers, the two sessiongate targets and the floor.
  const runs = options.passes * (options.workers.length + 3)
  return (150 + runs * (warmupSeconds + seconds + 2 * timeoutSeconds + 10)) * 1000
}

async function run(options: Options, teardown: Cleanup): Promise<number> {
  const tools = await checkTools(options)
  const loadStart = loadavg()
  const started = Date.now()
  const dir = await mkdtemp(join(tmpdir(), 'sessiongate-bench-django-'))
  teardown.add(() => rm(dir, { recursive: true, force: true }))
  // Miniflare ends the process itself on SIGINT and SIGTERM, before any teardown can run.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))

  log(`Django: migrating a fresh SQLite database and logging ${BENCH_USER.username} in ...`)
  const site = await prepareSite(options.python, dir, BENCH_PASSWORD)
  const targets = await startDjango(site, options, dir, teardown)
  const miniflareDir = join(dir, 'miniflare')
  await mkdir(miniflareDir)
  const miniflare = await startSessiongate(
    'sessiongate-miniflare',
    'sessiongate, Miniflare',
    () => startMiniflare(ROOT, miniflareDir),
    teardown,
  )
  targets.push(
    miniflare,
    ...floorOf(miniflare),
    await startSessiongate(
      'sessiongate-wrangler-dev',
      'sessiongate, wrangler dev',
      () => startWranglerDev(ROOT, join(dir, 'wrangler-state'), join(dir, 'wrangler-dev.log')),
      teardown,
    ),
  )
  const checks = new Map<Target, TargetResult['check']>()
  for (const target of targets) checks.set(target, await checkTarget(target))
  const runs = await loadTargets(targets, options)
  // Every server stops before the report; the teardown is run once, so the final call is a no-op.
  await teardown.run()
  const results = targets.map((target) =>
    targetResult({
      id: target.id,
      title: target.title,
      side: target.side,
      path: target.url.pathname,
      ...(target.workers === undefined ? {} : { workers: target.workers }),
      check: checks.get(target) as TargetResult['check'],
      passes: runs.get(target) ?? [],
    }),
  )

  const final = withRatios(results)
  const best = djangoBest(final)
  const goal = judgeGoal(final)
  const table = resultsTable(final, cpus().length)
  const settings = options.load
  const runtime = await runtimeSettings(ROOT)
  // The command of every measured run, as a shell takes it, the session key elided.
  const wrkCommand = [
    'wrk',
    ...wrkArgs('http://127.0.0.1:PORT/PATH', ['Cookie: sessionid=...'], settings.seconds, settings),
  ]
    .map((arg) => (arg.includes(' ') ? `'${arg}'` : arg))
    .join(' ')
  const report = {
    generatedBy: 'npm run bench:django',
    date: new Date().toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    machine: machineInfo(loadStart),
    versions: {
      ...tools.python,
      wrk: tools.wrk,
      wrangler: await packageVersion(ROOT, 'wrangler'),
      miniflare: await packageVersion(ROOT, 'miniflare'),
      ...runtime,
    },
    settings: {
      wrk: settings,
      wrkCommand,
      passes: options.passes,
      gunicornWorkers: options.workers,
      python: options.python,
      user: BENCH_USER.username,
      django:
        'scripts/bench/django/benchsite/settings.py: DEBUG off, SQLite in a temporary directory, ' +
        'database sessions, Session + Csrf + Authentication middleware, DRF ' +
        'SessionAuthentication + IsAuthenticated, JSONRenderer; gunicorn sync workers, no access log',
      sessiongateMiniflare:
        'src/index.ts behind the bench entry (scripts/bench/entry.ts, storage counters), built ' +
        'by `wrangler deploy --dry-run`, run by Miniflare directly (scripts/bench/worker.ts), ' +
        'KV and D1 local and thrown away after the run',
      floor: "the same Miniflare, GET /__bench/kv-get: one KV get of the session's record, no app",
      sessiongateWranglerDev:
        '`wrangler dev --local` with wrangler.toml, state in a temporary --persist-to directory, ' +
        "wrangler's default log level (a line per request)",
    },
    djangoBest: best && { id: best.id, workers: best.workers, rps: best.rps },
    goal: { ratio: GOAL_RATIO, verdicts: goal },
    results: final,
    table,
  }
  await mkdir(join(ROOT, 'bench'), { recursive: true })
  await writeFile(RESULTS, `${JSON.stringify(report, null, 2)}\n`)

  const { python } = tools
  process.stdout.write(
    `\nsessiongate vs Django: ${report.machine.cpus} x ${report.machine.cpuModel}; Python ${python.python}, ` +
      `Django ${python.django}, DRF ${python.djangorestframework}, gunicorn ${python.gunicorn}; ` +
      `Node ${process.version}, Miniflare ${report.versions.miniflare}, wrangler ${report.versions.wrangler}\n` +
      `${tools.wrk}: -t${settings.threads} -c${settings.connections}, ${settings.seconds} s measured after a ` +
      `warm-up, ${options.passes} passes, one target at a time; load average ` +
      `${loadStart[0]?.toFixed(2)} -> ${report.machine.loadAverage.end[0]?.toFixed(2)}\n\n`,
  )
  process.stdout.write(`${table}\n${tableNotes(final)}`)
  const verdicts = goal
    .map(({ title, ratio, met }) => {
      const measured = ratio === null ? 'not measured' : `${ratio.toFixed(2)}x`
      return `  ${met ? 'met   ' : 'missed'}  ${title}: ${measured}`
    })
    .join('\n')
  const floor = final.find((result) => result.side === 'floor')
  const floorLine =
    floor?.ratioToDjango == null
      ? ''
      : `  floor   ${floor.title}: ${floor.ratioToDjango.toFixed(2)}x, the most any Worker ` +
        'reading KV can reach in this runtime here\n'
  const against = best
    ? `Django's best run (gunicorn ${best.workers} workers, ${best.rps?.toFixed(0)} requests/s)`
    : "Django's best run (none was clean)"
  process.stdout.write(
    `\nGoal: sessiongate >= ${GOAL_RATIO}x ${against}:\n${verdicts}\n${floorLine}Wrote ${RESULTS}\n`,
  )
  return final.some((result) => result.rps === null) ? 1 : 0
}

/** Runs the benchmark with a time limit and a teardown on every way out; the exit status. */
export async function main(args: readonly string[]): Promise<number> {
  const options = parseOptions(args)
  if (!options) {
    process.stdout.write(USAGE)
    return 0
  }
  return guarded(timeLimitMs(options), log, async (teardown) => {
    try {
      return await run(options, teardown)
    } catch (error) {
      if (error instanceof MissingTools) {
        log(error.message)
        return 1
      }
      throw error
    }
  })
}
