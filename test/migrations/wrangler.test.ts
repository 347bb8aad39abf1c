/**
 * Every tool that migrates a local D1 keeps wrangler's books: `npm run dev` and the deploy steps
 * run `wrangler d1 migrations apply`, the user CLI, the benchmark and these tests apply the same
 * files through a binding (scripts/lib/schema.ts). A database migrated by one must be up to date
 * for the others, or wrangler would run a migration twice and fail on its CREATE TABLE.
 */
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { getPlatformProxy, unstable_readConfig } from 'wrangler'
import { runCommand } from '../../scripts/lib/process'
import {
  applyMigrations,
  MIGRATIONS_DIR,
  MIGRATIONS_TABLE,
  readMigrations,
} from '../../scripts/lib/schema'
import { QUIET_WRANGLER, ROOT, runCli, tempState } from '../cli/helpers'

const removals: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const remove of removals) await remove()
})

async function freshDir(): Promise<string> {
  const state = await tempState()
  removals.push(state.remove)
  return state.dir
}

/** Runs wrangler as `npm run dev` does: no terminal, so it never asks. */
async function wrangler(...args: string[]): Promise<string> {
  const result = await runCommand(
    process.execPath,
    [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), ...args],
    { cwd: ROOT, env: QUIET_WRANGLER },
  )
  if (result.code !== 0)
    throw new Error(`wrangler ${args.join(' ')}:\n${result.stdout}${result.stderr}`)
  return result.stdout
}

/** Opens the local D1 of a `--persist-to` directory, as `wrangler dev` would. */
async function withLocalDb<T>(dir: string, use: (db: D1Database) => Promise<T>): Promise<T> {
  process.env.WRANGLER_LOG ??= 'warn'
  const proxy = await getPlatformProxy<{ DB: D1Database }>({
    configPath: join(ROOT, 'wrangler.toml'),
    persist: { path: join(dir, 'v3') },
    remoteBindings: false,
  })
  try {
    return await use(proxy.env.DB)
  } finally {
    await proxy.dispose()
  }
}

async function recorded(db: D1Database): Promise<{ names: string[]; sql: string }> {
  const { results } = await db
    .prepare(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)
    .all<{ name: string }>()
  const table = await db
    .prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1")
    .bind(MIGRATIONS_TABLE)
    .first<{ sql: string }>()
  return { names: results.map((row) => row.name), sql: table?.sql ?? '' }
}

describe('migrations across the tools', () => {
  it('wrangler.toml names the folder and table the tools use', () => {
    const config = unstable_readConfig({ config: join(ROOT, 'wrangler.toml') })
    const db = config.d1_databases.find(
      (database: { binding: string }) => database.binding === 'DB',
    )
    expect(db).toMatchObject({ migrations_dir: MIGRATIONS_DIR, migrations_table: MIGRATIONS_TABLE })
  })

  it("the user CLI upgrades the first release's local database, and wrangler then has nothing to apply", async () => {
    const dir = await freshDir()
    // What the first release's `npm run dev` did to a fresh clone.
    await wrangler(
      'd1',
      'execute',
      'DB',
      '--local',
      '--persist-to',
      dir,
      '--file',
      'test/fixtures/schema-v1.sql',
    )
    const listed = await runCli(['list', '--persist-to', dir])
    expect(listed.code, listed.stderr).toBe(0)
    expect(
      await wrangler('d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', dir),
    ).toMatch(/No migrations to apply/)
    const files = (await readMigrations(ROOT)).map((migration) => migration.name)
    expect((await withLocalDb(dir, recorded)).names).toEqual(files)
  })

  it("the tools find wrangler's migrations applied, and record theirs in the same table", async () => {
    const byWrangler = await freshDir()
    await wrangler('d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', byWrangler)
    const migrations = await readMigrations(ROOT)
    const wranglers = await withLocalDb(byWrangler, async (db) => {
      expect(await applyMigrations(db, migrations)).toEqual([])
      return recorded(db)
    })
    const ours = await withLocalDb(await freshDir(), async (db) => {
      expect(await applyMigrations(db, migrations)).toEqual(migrations.map((m) => m.name))
      return recorded(db)
    })
    expect(ours).toEqual(wranglers)
    expect(ours.names).toEqual(migrations.map((m) => m.name))
  })
})
