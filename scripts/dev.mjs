/**
 * `npm run dev`: the whole local stack in one command, for a newcomer on a fresh clone.
 *
 * 1. Applies the D1 migrations the local database lacks (`wrangler d1 migrations apply`).
 * 2. Creates `.dev.vars` if absent, with a random SECRET_KEY, DEBUG=true and a fresh
 *    ASSERTION_KEYS private JWK; adds whichever of those an existing file lacks.
 * 3. Starts the demo origin (examples/origin/server.mjs) on a free loopback port, unless
 *    ORIGIN_URL is set in the environment.
 * 4. Starts `wrangler dev` on 127.0.0.1:$PORT (default 8787), passing ORIGIN_URL and every
 *    setting and secret of `SETTINGS` (src/config.ts) present in the environment as
 *    `--var NAME:VALUE`, which wins over `.dev.vars` and wrangler.toml.
 *
 * SIGINT/SIGTERM go to both children; when wrangler exits, the origin is stopped and this
 * process exits with wrangler's status. `PERSIST_TO=DIR` keeps local state in DIR instead of
 * `.wrangler/state` (as `wrangler dev --persist-to`), for throwaway runs such as the e2e tests.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tsImport } from 'tsx/esm/api'
import { generatePrivateJwk } from './lib/jwk.mjs'
import { freePort } from './lib/ports.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js')

/**
 * Every setting and secret of the Worker, from the list the Worker's own loader reads (tsx
 * compiles config.ts and the three small modules it imports, about 0.2 s): a new setting reaches
 * the Worker with no change here.
 */
const { SETTINGS } = await tsImport('../src/config.ts', import.meta.url)

/** wrangler must never prompt, phone home or try to fetch account data. */
const quietEnv = {
  ...process.env,
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
}

const persist = process.env.PERSIST_TO ? ['--persist-to', process.env.PERSIST_TO] : []

function log(message) {
  console.log(`[dev] ${message}`)
}

/** 64 characters of a 62-letter alphabet, from a CSPRNG: 381 bits. */
function randomSecret() {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
  return Array.from({ length: 64 }, () => alphabet[randomInt(alphabet.length)]).join('')
}

/**
 * Applies the migrations the local D1 lacks, as deploying does remotely. wrangler asks before
 * applying unless stdin or stdout is not a terminal: both are pipes here, so it goes ahead.
 */
function applyMigrations() {
  const result = spawnSync(
    process.execPath,
    [wrangler, 'd1', 'migrations', 'apply', 'DB', '--local', ...persist],
    { cwd: root, env: quietEnv, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' },
  )
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr)
    throw new Error('could not apply the migrations to the local D1')
  }
  const applied = result.stdout.includes('No migrations to apply') ? 'up to date' : 'migrated'
  log(`local D1 ${applied}`)
}

/** Creates .dev.vars, or adds what it lacks; never overwrites a value. */
async function ensureDevVars() {
  const path = join(root, '.dev.vars')
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : ''
  const has = (name) => new RegExp(`^\\s*${name}\\s*=`, 'm').test(existing)
  const lines = []
  if (!has('SECRET_KEY')) lines.push(`SECRET_KEY=${randomSecret()}`)
  if (!has('DEBUG')) lines.push('DEBUG=true')
  // Single quotes: the JWK's JSON double quotes reach the Worker unchanged.
  if (!has('ASSERTION_KEYS')) {
    lines.push(`ASSERTION_KEYS='${JSON.stringify(await generatePrivateJwk())}'`)
  }
  if (lines.length === 0) return
  const header =
    existing === '' ? '# Local development secrets, made by `npm run dev`. Never commit.\n' : ''
  const separator = existing === '' || existing.endsWith('\n') ? '' : '\n'
  writeFileSync(path, `${existing}${separator}${header}${lines.join('\n')}\n`, { mode: 0o600 })
  log(`${existing === '' ? 'created' : 'completed'} .dev.vars`)
}

const children = []
let exitCode = null

function start(name, command, args, env) {
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] })
  children.push(child)
  child.on('error', (error) => {
    console.error(`[dev] ${name} failed to start: ${error.message}`)
    shutdown(1)
  })
  child.on('exit', () => {
    if (exitCode !== null) exitWhenAllStopped()
  })
  return child
}

function exitWhenAllStopped() {
  if (children.every((child) => child.exitCode !== null || child.signalCode !== null)) {
    process.exit(exitCode)
  }
}

/** Stops every child (forwarding `signal`), then exits with `code`. */
function shutdown(code, signal = 'SIGTERM') {
  if (exitCode !== null) return
  exitCode = code
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
  }
  // A child that ignores the signal is killed after 5 s: nothing is left behind.
  setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    process.exit(code)
  }, 5000).unref()
  exitWhenAllStopped()
}

async function main() {
  const port = Number(process.env.PORT || 8787)
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`bad PORT "${process.env.PORT}"`)
  applyMigrations()
  await ensureDevVars()

  const vars = {}
  for (const { name } of SETTINGS) {
    if (process.env[name] !== undefined) vars[name] = process.env[name]
  }
  // One client secret per SSO provider, named by its id (see SSO_PROVIDERS).
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('SSO_CLIENT_SECRET_') && value !== undefined) vars[name] = value
  }
  if (vars.ORIGIN_URL === undefined) {
    const originPort = await freePort()
    vars.ORIGIN_URL = `http://127.0.0.1:${originPort}`
    start('demo origin', process.execPath, [join(root, 'examples', 'origin', 'server.mjs')], {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(originPort),
      GATEWAY_URL: `http://127.0.0.1:${port}`,
    })
  }
  const fronting = vars.ORIGIN_URL ? `in front of ${vars.ORIGIN_URL}` : 'without an origin'
  log(`gateway on http://127.0.0.1:${port} ${fronting}`)

  // wrangler splits `--var` at the first ':' only, so URLs and JSON pass whole; commas are kept.
  const varArgs = Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`])
  const gateway = start(
    'wrangler',
    process.execPath,
    [
      wrangler,
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--show-interactive-dev-session=false',
      ...persist,
      ...varArgs,
    ],
    quietEnv,
  )
  gateway.on('exit', (code, signal) => {
    log(`wrangler exited (${signal ?? code})`)
    shutdown(code ?? (signal ? 1 : 0))
  })
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => shutdown(0, signal))
}

main().catch((error) => {
  console.error(`[dev] ${error.message}`)
  shutdown(1)
})
