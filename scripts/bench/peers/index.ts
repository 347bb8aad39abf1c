/**
 * `npm run bench:peers`: sessiongate beside better-auth, in the same local Workers runtime and
 * the same run, on loopback only, in about 3 minutes.
 *
 * 1. Installs the peer (scripts/bench/peers/package.json, pinned, with its own lock file) with
 *    `npm ci --prefix` when its node_modules is missing: sessiongate itself never depends on it.
 * 2. Builds both Workers with wrangler (`deploy --dry-run`): sessiongate from the bench entry
 *    (../entry.ts), better-auth from better-auth.ts. Both wrap their KV and D1 bindings in the
 *    same counters (../counting.ts).
 * 3. Runs three Miniflares, each with its own local KV and D1: sessiongate as configured by
 *    default, sessiongate with SESSION_CACHE_SECONDS=30, and better-auth (its two instances,
 *    cookie cache off and on, in one Worker). sessiongate's users are seeded as by `npm run
 *    bench` and logged in through `POST /auth/login`; better-auth's tables are made by its own
 *    migrations and its users signed up through `POST /api/auth/sign-up/email`.
 * 4. Drives every scenario with autocannon through ../scenarios.ts's `measure` (prime, warm-up,
 *    counters reset, measured load), in passes that alternate between the two servers, so a
 *    burst of someone else's load on this machine falls on both.
 * 5. Prints the table and the targets (timing targets are printed, never asserted), and writes
 *    bench/peers.json.
 *
 * Exit status: 1 when a response had a status its scenario does not expect (a bug, not load),
 * when sessiongate's `/auth/me` missed its storage target, or an app was built more than once.
 * Environment: BENCH_SECONDS (measured seconds per scenario, default 4), BENCH_PASSES
 * (default 2), BENCH_WARMUP_SECONDS (default 1).
 */
import { existsSync, rmSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { kvKeyFor } from '../../../src/session/key'
import { ALPHANUMERIC, randomString } from '../../../src/utils/crypto'
import { generatePrivateJwk } from '../../lib/jwk.mjs'
import { freePort } from '../../lib/ports.mjs'
import { runCommand } from '../../lib/process'
import { type Cleanup, guarded, machineInfo, packageVersion, positive } from '../harness'
import { startOrigin } from '../origin'
import { failed, resultsTable, targetLines } from '../report'
import { CONNECTIONS, measure, mergePasses, type ScenarioResult } from '../scenarios'
import { applySchema, logInAll, seedUsers } from '../seed'
import {
  type BuiltWorker,
  buildWorker,
  type RunningWorker,
  runtimeSettings,
  startWorker,
} from '../worker'
import { judgePeers, type PeerScenario, peerScenarios, withPeerRatios } from './scenarios'
import { jarsOf, signUpPeers } from './sessions'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const PEERS = join(ROOT, 'scripts', 'bench', 'peers')
const RESULTS = join(ROOT, 'bench', 'peers.json')

/** Users on each server; each has one session, used round robin by the read scenarios. */
const USERS = 32

function log(message: string): void {
  process.stderr.write(`[bench:peers] ${message}\n`)
}

/** `npm ci` of the peers' own package, once: CI installs only sessiongate's dependencies. */
async function installPeers(): Promise<void> {
  if (existsSync(join(PEERS, 'node_modules', 'better-auth', 'package.json'))) return
  log('installing the peers (npm ci --prefix scripts/bench/peers) ...')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const args = ['ci', '--prefix', PEERS, '--no-audit', '--no-fund']
  const output = await runCommand(npm, args, { cwd: ROOT })
  if (output.code !== 0) throw new Error(`npm ci of the peers failed:\n${output.stderr}`)
}

/** A sessiongate Worker, seeded and logged in as by `npm run bench`. */
async function startSessiongate(
  built: BuiltWorker,
  settings: Awaited<ReturnType<typeof runtimeSettings>>,
  bindings: Record<string, string>,
  cleanup: Cleanup,
) {
  const worker = await startWorker(built, { settings, bindings, quiet: true })
  cleanup.add(() => worker.dispose())
  const db = (await worker.mf.getD1Database('DB')) as unknown as D1Database
  await applySchema(db, ROOT)
  const usernames = await seedUsers(db, USERS)
  const sessions = await logInAll(worker.url, usernames, 2)
  const kvKeys = await Promise.all(sessions.map((session) => kvKeyFor(session.sessionKey)))
  return { worker, usernames, kvKeys, jars: jarsOf(sessions) }
}

/** better-auth's Worker on a port chosen first, so its `baseURL` can name it. */
async function startBetterAuth(
  built: BuiltWorker,
  settings: Awaited<ReturnType<typeof runtimeSettings>>,
  cleanup: Cleanup,
) {
  const port = await freePort()
  const worker = await startWorker(built, {
    settings,
    port,
    quiet: true,
    bindings: {
      // 64 characters of a 62-letter alphabet: 381 bits, as sessiongate's SECRET_KEY here.
      BETTER_AUTH_SECRET: randomString(ALPHANUMERIC, 64),
      BETTER_AUTH_URL: `http://127.0.0.1:${port}`,
    },
  })
  cleanup.add(() => worker.dispose())
  const migrated = await fetch(new URL('/__bench/migrate', worker.url), { method: 'POST' })
  if (!migrated.ok) throw new Error(`better-auth migrations: ${migrated.status}`)
  const jars = await signUpPeers(worker.url, USERS)
  return { worker, jars }
}

/** What each server's isolate counted over the run: one env object, one app built. */
async function isolates(workers: Record<string, RunningWorker>) {
  const entries = await Promise.all(
    Object.entries(workers).map(async ([name, worker]) => [
      name,
      (await worker.counters()).lifetime,
    ]),
  )
  return Object.fromEntries(entries) as Record<string, { envObjects: number; configLoads: number }>
}

async function main(): Promise<number> {
  const seconds = positive('BENCH_SECONDS', 4)
  const passes = Math.round(positive('BENCH_PASSES', 2))
  const warmupSeconds = positive('BENCH_WARMUP_SECONDS', 1)
  // Builds, installs and seeding, then 11 scenarios a pass, each with its warm-up and settle.
  const limitMs = 420_000 + 11 * (seconds + passes * (warmupSeconds + 4)) * 1000
  return guarded(limitMs, log, async (cleanup) => {
    const loadStart = loadavg()
    await installPeers()
    const dir = await mkdtemp(join(tmpdir(), 'sessiongate-peers-'))
    cleanup.add(() => rm(dir, { recursive: true, force: true }))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    const settings = await runtimeSettings(ROOT)
    log('building sessiongate and better-auth (wrangler deploy --dry-run) ...')
    await mkdir(join(dir, 'sessiongate'))
    await mkdir(join(dir, 'better-auth'))
    const [builtGate, builtPeer] = await Promise.all([
      buildWorker(join(ROOT, 'scripts', 'bench', 'entry.ts'), join(dir, 'sessiongate'), settings),
      buildWorker(join(PEERS, 'better-auth.ts'), join(dir, 'better-auth'), settings),
    ])
    const origin = await startOrigin()
    cleanup.add(() => origin.close())
    const gateBindings = {
      SECRET_KEY: randomString(ALPHANUMERIC, 64),
      ASSERTION_KEYS: JSON.stringify(await generatePrivateJwk()),
      ORIGIN_URL: origin.url.origin,
    }
    log(`starting sessiongate (twice) and better-auth, ${USERS} users each ...`)
    const started = Date.now()
    // All three at once: each is its own workerd, and seeding is mostly password hashing.
    const [gate, cached, peer] = await Promise.all([
      startSessiongate(builtGate, settings, gateBindings, cleanup),
      startSessiongate(
        builtGate,
        settings,
        { ...gateBindings, SESSION_CACHE_SECONDS: '30' },
        cleanup,
      ),
      startBetterAuth(builtPeer, settings, cleanup),
    ])
    log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)

    // A Worker that predates SESSION_CACHE_SECONDS ignores the binding: the target says so.
    const configSource = await readFile(join(ROOT, 'src', 'config.ts'), 'utf8')
    const cacheInBuild = configSource.includes('SESSION_CACHE_SECONDS')
    const list: PeerScenario[] = peerScenarios({ gate, cached, peer })
    const measured = list.map((): ScenarioResult[] => [])
    for (let pass = 1; pass <= passes; pass++) {
      for (const [index, scenario] of list.entries()) {
        log(`pass ${pass}/${passes}: ${scenario.title}, ${scenario.connections} connection(s)`)
        await scenario.before?.()
        const context = {
          worker: scenario.server,
          originUrl: origin.url,
          sessions: [],
          usernames: [],
        }
        measured[index]?.push(
          await measure(scenario, context, {
            seconds: seconds / passes,
            warmupSeconds: pass === 1 ? warmupSeconds : warmupSeconds / 2,
          }),
        )
      }
    }
    const results = withPeerRatios(measured.map(mergePasses))
    const isolate = await isolates({
      sessiongate: gate.worker,
      'sessiongate-cached': cached.worker,
      'better-auth': peer.worker,
    })
    const targets = judgePeers(results, isolate, cacheInBuild)
    const table = resultsTable(results, 'x better-auth')
    const report = {
      generatedBy: 'npm run bench:peers',
      date: new Date().toISOString(),
      machine: machineInfo(loadStart),
      runtime: {
        miniflare: await packageVersion(ROOT, 'miniflare'),
        wrangler: await packageVersion(ROOT, 'wrangler'),
        autocannon: await packageVersion(ROOT, 'autocannon'),
        betterAuth: await packageVersion(PEERS, 'better-auth'),
        ...settings,
      },
      settings: {
        secondsPerScenario: seconds,
        passes,
        warmupSecondsPerScenario: warmupSeconds,
        connections: CONNECTIONS,
        users: USERS,
        sessionCacheSeconds: 30,
        sessionCacheInThisBuild: cacheInBuild,
        betterAuthCookieCacheSeconds: 300,
      },
      isolate,
      scenarios: results,
      targets,
      table,
    }
    await mkdir(join(ROOT, 'bench'), { recursive: true })
    await writeFile(RESULTS, `${JSON.stringify(report, null, 2)}\n`)

    process.stdout.write(
      `\nsessiongate beside better-auth ${report.runtime.betterAuth}: ${report.machine.cpus} x ${report.machine.cpuModel}, ` +
        `Node ${process.version}, Miniflare ${report.runtime.miniflare}, ${seconds} s per scenario in ${passes} passes, ` +
        `load average ${loadStart[0]?.toFixed(2)} -> ${report.machine.loadAverage.end[0]?.toFixed(2)}\n\n`,
    )
    process.stdout.write(table)
    process.stdout.write(
      "\nx better-auth: requests/s over better-auth's GET /me with the cookie cache off (a Hono\n" +
        'middleware calling auth.api.getSession, then the route: the same request as /auth/me).\n' +
        'Timings: the best pass of each scenario. KV reads, KV writes (puts + deletes), D1\n' +
        'statements: per request, counted at the bindings over every measured pass. CPU µs/req:\n' +
        "the CPU time of the bench's workerd processes (Linux's /proc) over every pass, divided by\n" +
        'the requests: the steadier measure on a shared machine.\n',
    )
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
