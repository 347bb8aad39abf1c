/**
 * The D1 schema ships as migrations (migrations/NNNN_name.sql) and is written out whole in
 * schema.sql. These tests hold the two together, and hold every database an earlier release made
 * to an in-place upgrade: DB is migrated from empty by test/setup.ts, SCHEMA_DB gets schema.sql,
 * UPGRADE_DB gets the first release's schema and data before it is migrated.
 */
import { applyD1Migrations } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { appFetch, applySchema, Client, hashers, uniqueName } from '../helpers'

/** wrangler's record of applied migrations: bookkeeping, not part of the schema. */
const MIGRATIONS_TABLE = 'd1_migrations'

interface Row {
  [column: string]: unknown
}

async function all(db: D1Database, sql: string, ...params: unknown[]): Promise<Row[]> {
  return (
    await db
      .prepare(sql)
      .bind(...params)
      .all<Row>()
  ).results
}

/** The text of each `CHECK (...)` in a CREATE statement, whitespace collapsed. */
function checkConstraints(sql: string): string[] {
  const checks: string[] = []
  for (const match of sql.matchAll(/\bCHECK\s*\(/gi)) {
    let depth = 1
    let end = match.index + match[0].length
    while (depth > 0 && end < sql.length) {
      if (sql[end] === '(') depth += 1
      if (sql[end] === ')') depth -= 1
      end += 1
    }
    const body = sql.slice(match.index + match[0].length, end - 1)
    checks.push(body.replace(/\s+/g, ' ').trim())
  }
  return checks.sort()
}

/**
 * The schema of a database as SQLite describes it, whatever statements made it: each table's
 * columns (name, type, NOT NULL, default, primary key), foreign keys, CHECK constraints and
 * indexes with their columns, and the names of views and triggers. SQLite's and D1's internal
 * tables and wrangler's migrations table are left out.
 */
async function describeSchema(db: D1Database) {
  const objects = await all(
    db,
    `SELECT type, name, tbl_name, sql FROM sqlite_master
     WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND tbl_name <> ?1
     ORDER BY type, name`,
    MIGRATIONS_TABLE,
  )
  const tables: Record<string, unknown> = {}
  for (const table of objects.filter((object) => object.type === 'table')) {
    const name = String(table.name)
    const indexes = []
    for (const index of await all(db, 'SELECT * FROM pragma_index_list(?1)', name)) {
      const columns = await all(
        db,
        'SELECT name, desc, coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno',
        index.name,
      )
      indexes.push({
        // SQLite names the indexes behind UNIQUE and PRIMARY KEY constraints itself.
        name: index.origin === 'c' ? index.name : null,
        unique: index.unique,
        origin: index.origin,
        partial: index.partial,
        columns,
      })
    }
    tables[name] = {
      columns: await all(db, 'SELECT * FROM pragma_table_info(?1) ORDER BY cid', name),
      foreignKeys: await all(
        db,
        'SELECT * FROM pragma_foreign_key_list(?1) ORDER BY id, seq',
        name,
      ),
      checks: checkConstraints(String(table.sql)),
      indexes: indexes.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    }
  }
  const others = objects
    .filter((object) => object.type === 'view' || object.type === 'trigger')
    .map((object) => `${object.type} ${object.name} on ${object.tbl_name}`)
  return { tables, others }
}

/** Every row of a table, oldest first. */
function rowsOf(db: D1Database, table: string): Promise<Row[]> {
  // The table names come from sqlite_master of the database under test, never from input.
  return all(db, `SELECT * FROM "${table}" ORDER BY rowid`)
}

describe('migrations', () => {
  it('give an empty database the schema of schema.sql, table for table and index for index', async () => {
    await applySchema(env.SCHEMA_DB, env.TEST_SCHEMA)
    const migrated = await describeSchema(env.DB)
    expect(Object.keys(migrated.tables).sort()).toEqual([
      'api_tokens',
      'auth_events',
      'groups',
      'login_failures',
      'mfa_recovery_codes',
      'mfa_totp',
      'passkeys',
      'sso_sessions',
      'user_groups',
      'user_identities',
      'user_sessions',
      'users',
      'webauthn_users',
    ])
    expect(migrated).toEqual(await describeSchema(env.SCHEMA_DB))
  })

  it("are recorded in wrangler's d1_migrations table, every file once, in order", async () => {
    const recorded = await all(env.DB, `SELECT id, name, applied_at FROM ${MIGRATIONS_TABLE}`)
    expect(recorded.map((row) => row.name)).toEqual(env.TEST_MIGRATIONS.map((m) => m.name))
    expect(recorded.map((row) => row.id)).toEqual(recorded.map((_, index) => index + 1))
    for (const name of env.TEST_MIGRATIONS.map((m) => m.name)) {
      expect(name).toMatch(/^\d{4}_[a-z0-9_]+\.sql$/)
    }

    // Applying them again, as every `npm run dev` and CLI command does, changes nothing.
    await applyD1Migrations(env.DB, env.TEST_MIGRATIONS)
    expect(await all(env.DB, `SELECT id, name, applied_at FROM ${MIGRATIONS_TABLE}`)).toEqual(
      recorded,
    )
  })

  it("upgrade the first release's database in place, keeping every row, and it then serves logins", async () => {
    const db = env.UPGRADE_DB
    // The first release made its database from schema.sql, with no record of migrations.
    await applySchema(db, env.TEST_SCHEMA_V1)
    const username = uniqueName('ada')
    const password = 'an old pass phrase 42'
    await db.batch([
      db
        .prepare(
          `INSERT INTO users (id, password, last_login, is_superuser, username, first_name,
             last_name, email, is_staff, is_active, date_joined)
           VALUES (?1, ?2, ?3, 1, ?4, 'Ada', 'Lovelace', 'ada@example.com', 1, 1, ?5)`,
        )
        .bind(
          7,
          await hashers.makePassword(password),
          '2025-06-01T09:30:00.000Z',
          username,
          '2024-01-02T03:04:05.000Z',
        ),
      db.prepare(
        `INSERT INTO users (id, password, username, is_active, date_joined)
           VALUES (8, '!unusable', 'bob', 0, '2024-02-03T04:05:06.000Z')`,
      ),
      db.prepare(
        `INSERT INTO user_sessions (id, user_id, kv_key, created_at, last_seen, expires_at, user_agent)
         VALUES ('pub1', 7, 'session:aaaa', 1700000000000, 1700000100000, 4102444800000, 'Firefox'),
                ('pub2', 7, 'session:bbbb', 1700000000001, 1700000000001, 4102444800000, '')`,
      ),
      db.prepare(
        `INSERT INTO login_failures (bucket, window_start, failures)
         VALUES ('ip:203.0.113.9', 1700000000, 3), ('pair:203.0.113.9:bob', 1700000000, 2)`,
      ),
    ])
    const tables = ['users', 'user_sessions', 'login_failures']
    const before = Object.fromEntries(
      await Promise.all(tables.map(async (table) => [table, await rowsOf(db, table)] as const)),
    )

    await applyD1Migrations(db, env.TEST_MIGRATIONS)

    for (const table of tables) {
      const after = await rowsOf(db, table)
      // Later migrations may add columns; every old column keeps its value.
      const old = after.map((row) =>
        Object.fromEntries(Object.keys(before[table]?.[0] ?? {}).map((key) => [key, row[key]])),
      )
      expect(old, table).toEqual(before[table])
    }
    expect(
      (await all(db, `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)).map((row) => row.name),
    ).toEqual(env.TEST_MIGRATIONS.map((m) => m.name))
    expect(await describeSchema(db)).toEqual(await describeSchema(env.DB))

    // The Worker of this release runs on it: the old user signs in with the old hash.
    const client = new Client(appFetch({ DB: db }))
    await client.login(username, password)
    const me = await client.get('/auth/me')
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ user: { id: 7, username, is_staff: true } })
  })
})
