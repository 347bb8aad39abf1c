/**
 * Test data for the benchmark, made through the project's own code: the schema from the
 * migrations, users through `UserRepository` with a hash from the Worker's hashers (run in Node),
 * and sessions by logging in through `POST /auth/login`, so every KV record and index row is real.
 */

import { UserRepository } from '../../src/accounts/users'
import { loadHashers } from '../cli/hashers'
import { applyMigrations, readMigrations } from '../lib/schema'

/** A logged-in session, as a browser holds it. */
export interface BenchSession {
  username: string
  /** The `sessionid` cookie's value (the session key). */
  sessionKey: string
  /** The `Cookie` header: `sessionid=...; csrftoken=...`. */
  cookie: string
  /** The `csrftoken` cookie's value, sent back as `X-CSRFToken` on unsafe requests. */
  csrfToken: string
}

/**
 * Makes one API token per session through `POST /auth/tokens`, as a signed-in client would, and
 * returns their keys, in the sessions' order.
 */
export async function createTokens(url: URL, sessions: readonly BenchSession[]): Promise<string[]> {
  const keys: string[] = []
  for (const session of sessions) {
    const response = await fetch(new URL('/auth/tokens', url), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Cookie: session.cookie,
        'X-CSRFToken': session.csrfToken,
      },
      body: JSON.stringify({ name: 'bench' }),
    })
    const text = await response.text()
    if (response.status !== 201)
      throw new Error(`token ${session.username}: ${response.status} ${text}`)
    keys.push((JSON.parse(text) as { key: string }).key)
  }
  return keys
}

/**
 * The `Cookie` header of each session with a fresh session-cache copy: one GET of `path`
 * through the bench entry's cache-enabled env, which answers with the copy's `Set-Cookie`.
 */
export async function cachedCookies(
  url: URL,
  sessions: readonly BenchSession[],
  path: string,
): Promise<string[]> {
  return Promise.all(
    sessions.map(async (session) => {
      const response = await fetch(new URL(path, url), { headers: { Cookie: session.cookie } })
      await response.arrayBuffer()
      const copy = cookieValue(response.headers.getSetCookie(), 'sessionid_cache')
      if (!copy)
        throw new Error(`no session-cache copy for ${session.username} (${response.status})`)
      return `${session.cookie}; sessionid_cache=${copy}`
    }),
  )
}

/** The one password of every bench user. */
export const BENCH_PASSWORD = 'bench correct horse battery staple'

/** Applies the migrations as the CLI and `wrangler d1 migrations apply` do. */
export async function applySchema(db: D1Database, root: string): Promise<void> {
  await applyMigrations(db, await readMigrations(root))
}

/** Inserts in flight at once while seeding users. */
const SEED_BATCH = 10

/** `bench00001`, `bench00002`, ...: the users the bench creates. */
export function benchUsername(index: number): string {
  return `bench${String(index).padStart(5, '0')}`
}

/**
 * Creates `count` users sharing one argon2id hash of BENCH_PASSWORD, made once by the Worker's
 * own hashers: each login still verifies a full argon2id hash, and seeding costs one hash, not
 * `count`.
 */
export async function seedUsers(db: D1Database, count: number): Promise<string[]> {
  const hashers = await loadHashers()
  const password = await hashers.makePassword(BENCH_PASSWORD)
  const users = new UserRepository(db)
  const names = Array.from({ length: count }, (_, index) => benchUsername(index + 1))
  // A few inserts in flight at once: each is a round trip through Miniflare's Node bridge.
  for (let start = 0; start < names.length; start += SEED_BATCH) {
    await Promise.all(
      names
        .slice(start, start + SEED_BATCH)
        .map((username) =>
          users.create({ username, password, email: `${username}@bench.example` }),
        ),
    )
  }
  return names
}

/** A client address of its own for the n-th login, so the throttle's buckets never meet. */
export function benchIp(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`
}

function cookieValue(setCookies: string[], name: string): string | null {
  for (const header of setCookies) {
    const [pair] = header.split(';')
    const index = pair?.indexOf('=') ?? -1
    if (pair && index > 0 && pair.slice(0, index).trim() === name) return pair.slice(index + 1)
  }
  return null
}

/** Logs `username` in through the API and returns the session's cookies. */
export async function logIn(url: URL, username: string, ip: string): Promise<BenchSession> {
  const response = await fetch(new URL('/auth/login', url), {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'CF-Connecting-IP': ip,
      'User-Agent': 'sessiongate-bench',
    },
    body: JSON.stringify({ username, password: BENCH_PASSWORD }),
  })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`login ${username}: ${response.status} ${text}`)
  const setCookies = response.headers.getSetCookie()
  const session = cookieValue(setCookies, 'sessionid')
  const csrf = cookieValue(setCookies, 'csrftoken')
  if (!session || !csrf) throw new Error(`login ${username}: no sessionid or csrftoken cookie`)
  return {
    username,
    sessionKey: session,
    cookie: `sessionid=${session}; csrftoken=${csrf}`,
    csrfToken: csrf,
  }
}

/**
 * Logs in each of `usernames` once, `concurrency` at a time (a login is ~25 ms of argon2id in
 * the Worker's one thread, so more in flight only queues).
 */
export async function logInAll(
  url: URL,
  usernames: readonly string[],
  concurrency: number,
  firstIp = 1,
): Promise<BenchSession[]> {
  const sessions: BenchSession[] = new Array(usernames.length)
  let next = 0
  async function lane(): Promise<void> {
    while (next < usernames.length) {
      const index = next++
      sessions[index] = await logIn(url, usernames[index] as string, benchIp(firstIp + index))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return sessions
}
