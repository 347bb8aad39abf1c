/**
 * The `--remote` adapters (D1 and KV over wrangler's commands): the commands they build, how they
 * inline bound values, how they read wrangler's output, and, end to end, the Worker's own
 * repositories running over them against a local state (`--local --persist-to` in place of
 * `--remote`, the one difference that cannot be run without an account).
 */
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { loadHashers } from '../../scripts/cli/hashers'
import {
  d1ExecuteArgs,
  KV_VALUE_NOT_FOUND,
  kvKeyArgs,
  parseD1Output,
  renderSql,
  sqlLiteral,
  WranglerD1,
  WranglerError,
  WranglerKV,
  type WranglerOutput,
  type WranglerTarget,
  wranglerRunner,
} from '../../scripts/cli/wrangler'
import { CLI_ACTOR, createAccounts } from '../../src/accounts'
import { UserRepository } from '../../src/accounts/users'
import { recordSigner, SessionStore } from '../../src/session'
import { ROOT, TEST_SECRET, useLocalState } from './helpers'

const REMOTE: WranglerTarget = { configPath: '/app/wrangler.toml', location: { remote: true } }

/** A runner that records each command and answers from `answer`. */
function fakeRunner(answer: (args: readonly string[]) => Partial<WranglerOutput>) {
  const calls: string[][] = []
  const run = async (args: readonly string[]): Promise<WranglerOutput> => {
    calls.push([...args])
    return { code: 0, stdout: '', stderr: '', ...answer(args) }
  }
  return { calls, run }
}

/** The SQL of a recorded `d1 execute` call. */
function commandSql(args: readonly string[]): string {
  return (args.find((arg) => arg.startsWith('--command=')) ?? '').slice('--command='.length)
}

describe('sqlLiteral and renderSql', () => {
  it('inlines text as hex, so no quote, semicolon, dollar or comment reaches the SQL', () => {
    expect(sqlLiteral("a'b")).toBe("CAST(X'612762' AS TEXT)")
    expect(sqlLiteral('é;--$')).toBe("CAST(X'c3a93b2d2d24' AS TEXT)")
    expect(sqlLiteral('')).toBe("CAST(X'' AS TEXT)")
    expect(sqlLiteral(null)).toBe('NULL')
    expect(sqlLiteral(undefined)).toBe('NULL')
    expect(sqlLiteral(42)).toBe('42')
    expect(sqlLiteral(-1.5)).toBe('-1.5')
    expect(sqlLiteral(true)).toBe('1')
    expect(sqlLiteral(false)).toBe('0')
    expect(sqlLiteral(new Uint8Array([0, 255]))).toBe("X'00ff'")
  })

  it('refuses values SQLite cannot take as a literal', () => {
    expect(() => sqlLiteral(Number.NaN)).toThrow(TypeError)
    expect(() => sqlLiteral(Number.POSITIVE_INFINITY)).toThrow(TypeError)
    expect(() => sqlLiteral({})).toThrow(TypeError)
  })

  it('replaces numbered and bare parameters as SQLite numbers them', () => {
    expect(renderSql('SELECT ?2, ?1, ?2', ['a', 7])).toBe("SELECT 7, CAST(X'61' AS TEXT), 7")
    // A bare `?` takes the number after the largest so far.
    expect(renderSql('VALUES (?, ?, ?1, ?)', [1, 2, 3])).toBe('VALUES (1, 2, 1, 3)')
    expect(renderSql('WHERE id = ?10', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toBe('WHERE id = 10')
  })

  it('leaves question marks inside literals, identifiers and comments alone', () => {
    const sql = `SELECT '?1', 'it''s ?', "a?b", [c?], \`d?\`, x -- ?1\n/* ?2 */ FROM t WHERE y = ?1`
    expect(renderSql(sql, [5])).toBe(
      `SELECT '?1', 'it''s ?', "a?b", [c?], \`d?\`, x -- ?1\n/* ?2 */ FROM t WHERE y = 5`,
    )
  })

  it('refuses a parameter with no bound value', () => {
    expect(() => renderSql('SELECT ?2', [1])).toThrow(WranglerError)
    expect(() => renderSql('SELECT ?', [])).toThrow('?1 has no bound value')
  })
})

describe('wrangler command lines', () => {
  it('runs d1 execute on the binding, remote, JSON out, without prompts', () => {
    expect(d1ExecuteArgs(REMOTE, 'DB', 'SELECT 1')).toEqual([
      'd1',
      'execute',
      'DB',
      '--config',
      '/app/wrangler.toml',
      '--remote',
      '--json',
      '--yes',
      '--command=SELECT 1',
    ])
  })

  it('runs kv key get, put and delete on the binding, remote', () => {
    expect(kvKeyArgs(REMOTE, 'SESSIONS', 'get', 'session:ab')).toEqual([
      'kv',
      'key',
      'get',
      'session:ab',
      '--binding',
      'SESSIONS',
      '--config',
      '/app/wrangler.toml',
      '--remote',
      '--text',
    ])
    expect(kvKeyArgs(REMOTE, 'SESSIONS', 'put', 'session:ab', { path: '/tmp/v', ttl: 60 })).toEqual(
      [
        'kv',
        'key',
        'put',
        'session:ab',
        '--binding',
        'SESSIONS',
        '--config',
        '/app/wrangler.toml',
        '--remote',
        '--path',
        '/tmp/v',
        '--ttl',
        '60',
      ],
    )
    expect(kvKeyArgs(REMOTE, 'SESSIONS', 'delete', 'session:ab').slice(0, 4)).toEqual([
      'kv',
      'key',
      'delete',
      'session:ab',
    ])
  })

  it('points at a local state with --local --persist-to instead of --remote', () => {
    const local: WranglerTarget = {
      configPath: 'wrangler.toml',
      location: { remote: false, persistTo: '/tmp/state' },
    }
    expect(d1ExecuteArgs(local, 'DB', 'SELECT 1')).toContain('--local')
    expect(d1ExecuteArgs(local, 'DB', 'SELECT 1').join(' ')).toContain('--persist-to /tmp/state')
    expect(kvKeyArgs(local, 'SESSIONS', 'delete', 'k')).not.toContain('--remote')
  })

  it('refuses a KV key that wrangler would read as a flag', () => {
    expect(() => kvKeyArgs(REMOTE, 'SESSIONS', 'delete', '--help')).toThrow(WranglerError)
  })
})

describe('parseD1Output', () => {
  it('returns the per-statement results', () => {
    const stdout = JSON.stringify([{ results: [{ n: 1 }], success: true, meta: { duration: 1 } }])
    expect(parseD1Output({ code: 0, stdout, stderr: '' })[0]?.results).toEqual([{ n: 1 }])
  })

  it("throws wrangler's error text", () => {
    const stdout = JSON.stringify({ error: { text: 'no such table: users: SQLITE_ERROR' } })
    expect(() => parseD1Output({ code: 1, stdout, stderr: '' })).toThrow(
      'wrangler d1 execute failed: no such table: users: SQLITE_ERROR',
    )
  })

  it('throws the end of stderr when there is no JSON (not logged in, no network)', () => {
    const stderr = 'banner\n✘ [ERROR] In a non-interactive environment, set CLOUDFLARE_API_TOKEN\n'
    expect(() => parseD1Output({ code: 1, stdout: '', stderr })).toThrow(/CLOUDFLARE_API_TOKEN/)
  })
})

describe('WranglerD1 and WranglerKV (fake runner)', () => {
  it('answers first(), all() and run() from one command each', async () => {
    const { calls, run } = fakeRunner(() => ({
      stdout: JSON.stringify([{ results: [{ id: 3, username: 'ada' }], success: true, meta: {} }]),
    }))
    const db = new WranglerD1(run, REMOTE)
    expect(await db.prepare('SELECT * FROM users WHERE username = ?1').bind('ada').first()).toEqual(
      {
        id: 3,
        username: 'ada',
      },
    )
    expect(await db.prepare('SELECT id FROM users').first('username')).toBe('ada')
    expect((await db.prepare('SELECT 1').all()).results).toHaveLength(1)
    expect(calls).toHaveLength(3)
    expect(commandSql(calls[0] ?? [])).toBe(
      "SELECT * FROM users WHERE username = CAST(X'616461' AS TEXT)",
    )
  })

  it('sends a batch as one command, one statement per `;`', async () => {
    const { calls, run } = fakeRunner(() => ({
      stdout: JSON.stringify([
        { results: [], success: true, meta: {} },
        { results: [], success: true, meta: {} },
      ]),
    }))
    const db = new WranglerD1(run, REMOTE)
    const results = await db.batch([
      db.prepare('DELETE FROM a WHERE id = ?1;').bind(1),
      db.prepare('DELETE FROM b WHERE id = ?1').bind(2),
    ])
    expect(results).toHaveLength(2)
    expect(calls).toHaveLength(1)
    expect(commandSql(calls[0] ?? [])).toBe(
      'DELETE FROM a WHERE id = 1;\nDELETE FROM b WHERE id = 2',
    )
  })

  it('reads a missing KV key as null, and puts values through a private file', async () => {
    let written = ''
    const { calls, run } = fakeRunner((args) => {
      if (args[2] === 'get') return { stdout: KV_VALUE_NOT_FOUND }
      return {}
    })
    const kv = new WranglerKV(async (args) => {
      const path = args[args.indexOf('--path') + 1]
      if (args[2] === 'put' && path) written = await readFile(path, 'utf8')
      return run(args)
    }, REMOTE)
    expect(await kv.get('session:x')).toBeNull()
    await kv.put('session:x', '{"v":1}', { expirationTtl: 120 })
    expect(written).toBe('{"v":1}')
    expect(calls[1]).toContain('--ttl')
    expect(calls[1]?.join(' ')).not.toContain('{"v":1}')
  })

  it('throws when a KV command fails', async () => {
    const { run } = fakeRunner(() => ({ code: 1, stderr: 'Authentication error [code: 10000]' }))
    await expect(new WranglerKV(run, REMOTE).delete('session:x')).rejects.toThrow(
      'wrangler kv key delete failed: Authentication error [code: 10000]',
    )
  })
})

describe('the repositories over real wrangler commands (local state)', () => {
  const suite = useLocalState()

  it('creates a user, reads it back, and ends its sessions in KV and D1', async () => {
    // One wrangler process at a time: several writing the same local storage, which this test
    // also holds open, can collide (the deployed KV has no such limit: the CLI runs four).
    const run = wranglerRunner(ROOT, 1)
    const target: WranglerTarget = {
      configPath: `${ROOT}/wrangler.toml`,
      location: { remote: false, persistTo: suite.dir },
    }
    const db = new WranglerD1(run, target).asD1()
    const kv = new WranglerKV(run, target).asKV()
    const users = new UserRepository(db)
    const { local } = suite

    // INSERT ... RETURNING, with text that would break naive quoting.
    const created = await users.create({
      username: 'o.brien',
      password: "pbkdf2_sha256$1$it's;--$x",
      first_name: "O'Brien",
      email: 'ob@example.com',
    })
    expect(created).toMatchObject({ username: 'o.brien', first_name: "O'Brien", is_active: 1 })
    // What wrangler wrote is what the Worker's bindings read.
    expect(await local.users.getById(created.id)).toEqual(created)

    const kvKey = await local.addSession(created.id)
    // A session written through the adapter, with a TTL.
    const store = new SessionStore(kv, recordSigner([TEST_SECRET]))
    const record = await local.store.load(kvKey)
    if (!record) throw new Error('no record for the seeded session')
    const second = 'session:0000000000000000000000000000000000000000000000000000000000000002'
    await Promise.all([
      store.save(second, record),
      local.index
        .upsertStatement({
          id: 'second',
          user_id: created.id,
          kv_key: second,
          created_at: Date.now(),
          last_seen: Date.now(),
          expires_at: Date.now() + 3_600_000,
          user_agent: '',
        })
        .run(),
    ])
    expect(await local.kv.get(second)).not.toBeNull()

    const accounts = createAccounts({
      db,
      kv,
      records: recordSigner([TEST_SECRET]),
      hashers: await loadHashers(),
      secrets: [TEST_SECRET],
      now: Date.now,
    })
    expect(await accounts.endSessions(created, CLI_ACTOR)).toBe(2)
    expect(await local.kv.get(kvKey)).toBeNull()
    expect(await local.kv.get(second)).toBeNull()
    expect(await local.index.listForUser(created.id, Date.now())).toEqual([])
    expect(await kv.get(second)).toBeNull()
  })
})
