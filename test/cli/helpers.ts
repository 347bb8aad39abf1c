/**
 * Helpers for the CLI tests: run the real `scripts/cli/user.ts` in a child process against a
 * temporary local state, and reach that same state from the test through wrangler's
 * `getPlatformProxy`, as a running `wrangler dev` would.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { getPlatformProxy } from 'wrangler'
import { loadHashers } from '../../scripts/cli/hashers'
import { runCommand } from '../../scripts/lib/process'
import { applyMigrations, readMigrations } from '../../scripts/lib/schema'
import { type NewUser, UserRepository, type UserRow } from '../../src/accounts/users'
import { SessionIndex } from '../../src/auth/session-index'
import { recordSigner, SessionStore, type UserSnapshot } from '../../src/session'
import { generatePublicId, generateSessionKey, kvKeyFor } from '../../src/session/key'

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../..')

/** wrangler's switches for a quiet, offline child process. */
export const QUIET_WRANGLER = {
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
}

/** A SECRET_KEY for the tests (64 characters, as `npm run dev` makes them). */
export const TEST_SECRET = 'cli-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ'

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Options of {@link runCli}. */
export interface RunOptions {
  /** Written to stdin, which is then closed (always closed: never a terminal). */
  input?: string
  /** Extra environment. SECRET_KEY defaults to empty (none), so `.dev.vars` is never read. */
  env?: Record<string, string>
}

/** Runs the CLI as `tsx scripts/cli/user.ts <args>` (what `npm run user --` runs), stdin piped. */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return runProcess(
    process.execPath,
    [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/cli/user.ts'), ...args],
    options,
  )
}

/** Runs a shell command line in the repository root, as a tester types it. */
export function runShell(command: string, options: RunOptions = {}): Promise<CliResult> {
  return runProcess('/bin/sh', ['-c', command], options)
}

function runProcess(command: string, args: string[], options: RunOptions): Promise<CliResult> {
  return runCommand(command, args, {
    cwd: ROOT,
    env: { ...QUIET_WRANGLER, INIT_CWD: ROOT, SECRET_KEY: '', ...options.env },
    // Always piped and closed, even empty: the CLI never sees a terminal.
    input: options.input ?? '',
  })
}

/** A fresh temporary directory for `--persist-to`; removed by the returned function. */
export async function tempState(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sessiongate-cli-'))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** One argon2id hash of {@link SEED_PASSWORD}, made once: seeding users costs no hashing. */
let seedHash: Promise<string> | undefined

/** The password of the users {@link LocalState.seedUser} makes. */
export const SEED_PASSWORD = 'seeded pass phrase 9'

/** The local state of a test file, opened beside the CLI as a running `wrangler dev` is. */
export type LocalState = Awaited<ReturnType<typeof openState>>

/** The local D1 and KV of a `--persist-to` directory, as `wrangler dev --persist-to` sees them. */
export async function openState(dir: string) {
  // wrangler would log on stdout which `.dev.vars` it read.
  process.env.WRANGLER_LOG ??= 'warn'
  const proxy = await getPlatformProxy<{ DB: D1Database; SESSIONS: KVNamespace }>({
    configPath: join(ROOT, 'wrangler.toml'),
    persist: { path: join(dir, 'v3') },
    remoteBindings: false,
  })
  const { DB: db, SESSIONS: kv } = proxy.env
  // The CLI applies the migrations itself; the tests may seed before its first run.
  await applyMigrations(db, await readMigrations(ROOT))
  const users = new UserRepository(db)
  const store = new SessionStore(kv, recordSigner([TEST_SECRET]))
  return {
    db,
    kv,
    users,
    index: new SessionIndex(db),
    store,
    dispose: () => proxy.dispose(),
    /** A user with the password {@link SEED_PASSWORD}, written straight to D1. */
    async seedUser(username: string, fields: Partial<NewUser> = {}): Promise<UserRow> {
      seedHash ??= loadHashers().then((hashers) => hashers.makePassword(SEED_PASSWORD))
      return users.create({ ...fields, username, password: await seedHash })
    },
    /**
     * A logged-in session of the user (KV record and index row), as login writes it; with a
     * snapshot when `user` is given, sealed with TEST_SECRET as the Worker would seal it.
     */
    async addSession(userId: number, user?: UserSnapshot): Promise<string> {
      const now = Date.now()
      const kvKey = await kvKeyFor(generateSessionKey())
      const id = generatePublicId()
      await store.save(kvKey, {
        v: 2,
        id,
        data: {
          _auth_user_id: String(userId),
          _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
          _auth_user_hash: 'f'.repeat(64),
        },
        createdAt: now,
        expiresAt: now + 3_600_000,
        ...(user ? { user } : {}),
      })
      await new SessionIndex(db)
        .upsertStatement({
          id,
          user_id: userId,
          kv_key: kvKey,
          created_at: now,
          last_seen: now,
          expires_at: now + 3_600_000,
          user_agent: 'cli test',
        })
        .run()
      return kvKey
    },
  }
}

/**
 * A temporary local state for the test file that calls this (at its top level): created and
 * opened before its tests, as beside a running `npm run dev`, removed after them.
 */
export function useLocalState() {
  let dir = ''
  let local: LocalState | undefined
  let remove = async () => {}
  let counter = 0
  beforeAll(async () => {
    const state = await tempState()
    dir = state.dir
    remove = state.remove
    local = await openState(dir)
  })
  afterAll(async () => {
    await local?.dispose()
    await remove()
  })
  return {
    /** The `--persist-to` directory. */
    get dir(): string {
      return dir
    },
    /** The state, open for the whole file. */
    get local(): LocalState {
      if (!local) throw new Error('the local state opens in beforeAll')
      return local
    },
    /** The CLI on this state. */
    user(args: string[], input?: string, env?: Record<string, string>): Promise<CliResult> {
      return runCli([...args, '--persist-to', dir], { input, env })
    },
    /** A username no other test of the file uses. */
    name(prefix: string): string {
      counter += 1
      return `${prefix}${counter}`
    },
  }
}
