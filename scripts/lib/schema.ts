/**
 * The D1 migrations (migrations/NNNN_name.sql), applied as `wrangler d1 migrations apply` applies
 * them, by the Node-side tools that already hold a D1 binding: the user CLI's local mode, the
 * benchmark and the CLI tests. They record what they applied in wrangler's own table, so a
 * database upgraded by any of them (or by wrangler, `npm run dev`, the workerd tests'
 * `applyD1Migrations`) is seen as upgraded by all the others.
 *
 * Going through the binding instead of running wrangler saves its start-up and three Miniflare
 * instances: about 2.4 s on every CLI command, even with nothing to apply.
 */
import { readdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'

/** The folder of the migrations, `migrations_dir` of DB in wrangler.toml (wrangler's default). */
export const MIGRATIONS_DIR = 'migrations'

/** Where applied migrations are recorded, `migrations_table` in wrangler.toml (its default). */
export const MIGRATIONS_TABLE = 'd1_migrations'

/** One migration file: its name (the key in the table) and its statements. */
export interface Migration {
  name: string
  queries: string[]
}

/**
 * wrangler's table, character for character (wrangler 4's `initMigrationsTable`), so even
 * `sqlite_master` cannot tell which tool made it. The workerd tests' `applyD1Migrations` makes the
 * same columns.
 */
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE}(
\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,
\t\tname       TEXT UNIQUE,
\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);`

/** The number before the first `_`, by which wrangler orders migrations. */
function migrationNumber(name: string): number {
  return Number.parseInt(name.split('_')[0] ?? '', 10)
}

/**
 * The migrations of `projectRoot`, in the order wrangler applies them (by name, then stably by
 * number), each split into statements by wrangler's own splitter, the one `wrangler d1 execute`
 * and `migrations apply` use (it keeps `BEGIN ... END` trigger bodies whole).
 */
export async function readMigrations(projectRoot: string): Promise<Migration[]> {
  // Loaded with `require`, as the CLI loads it: its 12 MB bundle is much slower through tsx's
  // `import()`, and the tools that call this have already loaded it.
  const { unstable_splitSqlQuery: splitSqlQuery }: typeof import('wrangler') = createRequire(
    import.meta.url,
  )('wrangler')
  const dir = join(projectRoot, MIGRATIONS_DIR)
  const names = (await readdir(dir))
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .sort((a, b) => migrationNumber(a) - migrationNumber(b))
  return Promise.all(
    names.map(async (name) => ({
      name,
      queries: splitSqlQuery(await readFile(join(dir, name), 'utf8')),
    })),
  )
}

/**
 * Applies the migrations `db` has not recorded yet, each with its record in one batch (a D1 batch
 * is a transaction: a migration that fails leaves nothing behind, as with wrangler). Returns the
 * names applied, in order; none when the database is up to date.
 */
export async function applyMigrations(db: D1Database, migrations: Migration[]): Promise<string[]> {
  await db.prepare(CREATE_TABLE).run()
  const { results } = await db
    .prepare(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)
    .all<{ name: string }>()
  const applied = new Set(results.map((row) => row.name))
  const record = db.prepare(`INSERT INTO ${MIGRATIONS_TABLE} (name) VALUES (?1)`)
  const names: string[] = []
  for (const migration of migrations) {
    if (applied.has(migration.name)) continue
    await db.batch([
      ...migration.queries.map((query) => db.prepare(query)),
      record.bind(migration.name),
    ])
    names.push(migration.name)
  }
  return names
}
