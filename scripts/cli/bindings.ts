/**
 * The CLI's D1 and KV: the local ones `wrangler dev` uses, or the deployed ones (`--remote`).
 *
 * Local: wrangler's `getPlatformProxy` gives real `DB` and `SESSIONS` bindings over the same
 * persistence as `wrangler dev` (`.wrangler/state/v3`), so a running `npm run dev` sees a change
 * at once, and the repositories run on them unchanged. Remote: the same repositories over
 * `wrangler d1 execute --remote` and `wrangler kv key --remote` (see wrangler.ts).
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { applyMigrations, readMigrations } from '../lib/schema'
import { WranglerD1, WranglerKV, type WranglerTarget, wranglerRunner } from './wrangler'

/** The bindings and secrets a command works with. */
export interface CliBindings {
  db: D1Database
  kv: KVNamespace
  /** SECRET_KEY, then SECRET_KEY_FALLBACKS; empty when no SECRET_KEY is known. */
  secrets: string[]
  /** Where the data lives, for messages: `local (...)` or `remote`. */
  where: string
  /** Where SECRET_KEY came from, for messages; null when there is none. */
  secretSource: string | null
  /** Stops whatever was started (the local workerd). */
  close(): Promise<void>
}

/** Where the CLI works. */
export interface BindingOptions {
  /** The directory holding wrangler.toml and migrations/. */
  projectRoot: string
  remote: boolean
  /** As `wrangler dev --persist-to DIR`: local state in DIR/v3. Default `.wrangler/state`. */
  persistTo?: string
}

/**
 * wrangler's API, loaded on first use with `require`: its 12 MB bundle takes about three times as
 * long through `import()` under tsx's loader (6 s against 2 s), and `--remote` does not need it.
 */
function wrangler(): typeof import('wrangler') {
  return createRequire(import.meta.url)('wrangler')
}

/** The names in wrangler.toml. */
const DB_BINDING = 'DB'
const KV_BINDING = 'SESSIONS'

/** A variables source (the environment, or the local bindings with `.dev.vars`) as secrets. */
function secretsFrom(source: Record<string, unknown>): string[] | null {
  const key = source.SECRET_KEY
  if (typeof key !== 'string') return null
  if (key === '') return []
  const fallbacks =
    typeof source.SECRET_KEY_FALLBACKS === 'string' ? source.SECRET_KEY_FALLBACKS : ''
  return [
    key,
    ...fallbacks
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  ]
}

/**
 * The local state directory for a `--persist-to` value, resolved as wrangler resolves it (from the
 * working directory), or the default next to wrangler.toml.
 */
export function localStatePath(projectRoot: string, persistTo?: string): string {
  return persistTo === undefined
    ? join(projectRoot, '.wrangler', 'state', 'v3')
    : join(resolve(persistTo), 'v3')
}

/**
 * Applies the migrations the local D1 lacks, recorded as `wrangler d1 migrations apply` records
 * them; so the CLI works on a fresh clone before `npm run dev` ever ran, and after a schema change,
 * and `npm run dev` then finds nothing left to apply. Never for `--remote`: the deployed database
 * is migrated by its operator, with wrangler (see the README).
 */
async function applySchema(db: D1Database, projectRoot: string): Promise<void> {
  await applyMigrations(db, await readMigrations(projectRoot))
}

async function openLocal(options: BindingOptions): Promise<CliBindings> {
  // wrangler logs "Using secrets defined in .dev.vars" on stdout, where `list` writes its data.
  process.env.WRANGLER_LOG ??= 'warn'
  const { getPlatformProxy } = wrangler()
  const state = localStatePath(options.projectRoot, options.persistTo)
  const proxy = await getPlatformProxy<Record<string, unknown>>({
    configPath: join(options.projectRoot, 'wrangler.toml'),
    persist: { path: state },
    remoteBindings: false,
  })
  try {
    const db = proxy.env[DB_BINDING] as D1Database
    await applySchema(db, options.projectRoot)
    // The environment wins (SECRET_KEY set, even empty); otherwise what `wrangler dev` gives the
    // Worker: `.dev.vars` (or `.env`) next to wrangler.toml.
    const fromEnv = secretsFrom(process.env)
    const fromDevVars = fromEnv === null ? secretsFrom(proxy.env) : null
    const secrets = fromEnv ?? fromDevVars ?? []
    // wrangler reads `.env` only when there is no `.dev.vars`.
    const devVarsName = existsSync(join(options.projectRoot, '.dev.vars')) ? '.dev.vars' : '.env'
    return {
      db,
      kv: proxy.env[KV_BINDING] as KVNamespace,
      secrets,
      where: `local (${state})`,
      secretSource: secrets.length === 0 ? null : fromEnv ? 'the environment' : devVarsName,
      close: () => proxy.dispose(),
    }
  } catch (error) {
    await proxy.dispose()
    throw error
  }
}

function openRemote(options: BindingOptions): CliBindings {
  const run = wranglerRunner(options.projectRoot)
  const target: WranglerTarget = {
    configPath: join(options.projectRoot, 'wrangler.toml'),
    location: { remote: true },
  }
  // Never `.dev.vars` here: its secrets are local ones, and a snapshot signed with them would not
  // verify in the deployed Worker.
  const secrets = secretsFrom(process.env) ?? []
  return {
    db: new WranglerD1(run, target, DB_BINDING).asD1(),
    kv: new WranglerKV(run, target, KV_BINDING).asKV(),
    secrets,
    where: 'remote',
    secretSource: secrets.length === 0 ? null : 'the environment',
    close: async () => {},
  }
}

/** Opens the local or the remote bindings; `close()` them when done. */
export function openBindings(options: BindingOptions): Promise<CliBindings> {
  return options.remote ? Promise.resolve(openRemote(options)) : openLocal(options)
}
