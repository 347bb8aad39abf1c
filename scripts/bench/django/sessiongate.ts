/**
 * The sessiongate side of `npm run bench:django`, run two ways:
 *
 * - Miniflare: the real Worker (src/index.ts) built by wrangler and run by Miniflare directly,
 *   behind the bench entry (scripts/bench/entry.ts), exactly as `npm run bench` runs it, KV and
 *   D1 local and thrown away. The entry's storage counters cost the Worker a few µs per request;
 *   its `/__bench/kv-get` gives the local floor: Miniflare's own KV get, with no app.
 * - wrangler dev: the project's wrangler.toml as users run it, local mode, its state in a
 *   temporary `--persist-to` directory, the user made with the project's CLI. wrangler's own
 *   proxy sits in front of workerd here, and is measured with it.
 *
 * Either way the session is a real one, made by `POST /auth/login`.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { kvKeyFor } from '../../../src/session/key'
import { ALPHANUMERIC, randomString } from '../../../src/utils/crypto'
import { generatePrivateJwk } from '../../lib/jwk.mjs'
import { freePort } from '../../lib/ports.mjs'
import { runCommand } from '../../lib/process'
import { applySchema, BENCH_PASSWORD, benchIp, logIn, seedUsers } from '../seed'
import { buildWorker, runtimeSettings, startWorker } from '../worker'
import { BENCH_USER } from './django'
import { Server, waitForStatus } from './processes'

/** A running sessiongate with one logged-in session. */
export interface SessiongateTarget {
  /** `GET /auth/me` on it. */
  url: URL
  /**
   * Miniflare only: one KV get of this session's record and nothing else (the bench entry's
   * `/__bench/kv-get`), the floor that the local runtime sets under any Worker reading KV.
   */
  floorUrl?: URL
  /** The `sessionid` cookie's value. */
  sessionKey: string
  username: string
  /** What the server printed, for a failure report ('' when it prints nowhere). */
  output(): string
  stop(): Promise<void>
}

/** wrangler must not prompt, phone home or fetch the `cf` object. */
const WRANGLER_ENV = {
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
}

/**
 * Production settings: DEBUG off, and a random SECRET_KEY and a fresh assertion key, so nothing
 * of the developer's is used.
 */
async function productionVars(): Promise<Record<string, string>> {
  return {
    DEBUG: 'false',
    // 64 characters of a 62-letter alphabet: 381 bits, and it passes Django's strength check.
    SECRET_KEY: randomString(ALPHANUMERIC, 64),
    ASSERTION_KEYS: JSON.stringify(await generatePrivateJwk()),
  }
}

/** Builds and starts the Worker in Miniflare, seeds the bench user and logs it in. */
export async function startMiniflare(root: string, dir: string): Promise<SessiongateTarget> {
  const settings = await runtimeSettings(root)
  const built = await buildWorker(join(root, 'scripts', 'bench', 'entry.ts'), dir, settings)
  const worker = await startWorker(built, { settings, bindings: await productionVars() })
  try {
    const db = (await worker.mf.getD1Database('DB')) as unknown as D1Database
    await applySchema(db, root)
    // seedUsers names its first user as BENCH_USER is named: the same user on every side.
    const [username] = await seedUsers(db, 1)
    const session = await logIn(worker.url, username as string, benchIp(1))
    const floorUrl = new URL('/__bench/kv-get', worker.url)
    floorUrl.searchParams.set('key', await kvKeyFor(session.sessionKey))
    return {
      url: new URL('/auth/me', worker.url),
      floorUrl,
      sessionKey: session.sessionKey,
      username: session.username,
      // Miniflare runs inside this process: it has no output of its own to show.
      output: () => '',
      stop: () => worker.dispose(),
    }
  } catch (error) {
    await worker.dispose()
    throw error
  }
}

/**
 * Creates the bench user with the project's CLI (`npm run user -- create`, password on stdin)
 * in `persistTo`, starts `wrangler dev` on it and logs the user in. `log` receives wrangler's
 * output.
 */
export async function startWranglerDev(
  root: string,
  persistTo: string,
  log: string,
): Promise<SessiongateTarget> {
  const tsx = join(root, 'node_modules', '.bin', 'tsx')
  const { username, email } = BENCH_USER
  const created = await runCommand(
    tsx,
    ['scripts/cli/user.ts', 'create', username, '--email', email, '--persist-to', persistTo],
    { cwd: root, env: WRANGLER_ENV, input: `${BENCH_PASSWORD}\n`, timeoutMs: 120_000 },
  )
  if (created.code !== 0) {
    throw new Error(`npm run user -- create failed (${created.code}):\n${created.stderr}`)
  }
  const require = createRequire(import.meta.url)
  const wrangler = join(dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js')
  const port = await freePort()
  // A free inspector port of its own: wrangler's default, 9229, may be another wrangler's.
  const inspectorPort = await freePort()
  // wrangler splits `--var` at the first ':' only, so the JWK's JSON passes whole. These win
  // over wrangler.toml and over a developer's .dev.vars.
  const vars = Object.entries(await productionVars()).flatMap(([name, value]) => [
    '--var',
    `${name}:${value}`,
  ])
  // `npx wrangler dev`, minus npx's own resolution: the project's wrangler, run by this Node.
  const server = new Server(
    'wrangler dev',
    process.execPath,
    [
      wrangler,
      'dev',
      '--local',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspectorPort),
      '--persist-to',
      persistTo,
      '--show-interactive-dev-session=false',
      ...vars,
    ],
    { cwd: root, env: WRANGLER_ENV, log },
  )
  const base = new URL(`http://127.0.0.1:${port}/`)
  try {
    await waitForStatus(new URL('/healthz', base), 200, 90_000, server)
    const session = await logIn(base, username, benchIp(2))
    return {
      url: new URL('/auth/me', base),
      sessionKey: session.sessionKey,
      username,
      output: () => server.output(),
      stop: () => server.stop(),
    }
  } catch (error) {
    await server.stop()
    throw error
  }
}
