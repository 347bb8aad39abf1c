import { createExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { Hashers } from '../../src/accounts/hashers'
import { UserRepository, type UserRow } from '../../src/accounts/users'
import { createApp } from '../../src/app'
import { login } from '../../src/auth/login'
import { MAX_SESSIONS_PER_USER, SessionIndex } from '../../src/auth/session-index'
import { loadConfig } from '../../src/config'
import { Session } from '../../src/session'
import { generateSessionKey, kvKeyFor } from '../../src/session/key'
import {
  appFetch,
  Client,
  createUser,
  hashers,
  setCookie,
  storedRecord,
  testAccounts,
  testStore,
  uniqueName,
} from '../helpers'

async function recordOf(client: Client) {
  const key = client.cookies.get('sessionid')
  if (!key) return null
  return storedRecord(await kvKeyFor(key))
}

describe('POST /auth/login', () => {
  it('returns 200 with the user, never the password hash', async () => {
    const user = await createUser({ email: 'ada@example.com', first_name: 'Ada' })
    const client = new Client()
    const response = await client.login(user.username, user.password)
    const body = (await response.json()) as { user: Record<string, unknown> }
    expect(Object.keys(body.user).sort()).toEqual(
      [
        'date_joined',
        'email',
        'email_verified',
        'first_name',
        'groups',
        'id',
        'is_staff',
        'is_superuser',
        'last_login',
        'last_name',
        'username',
      ].sort(),
    )
    expect(body.user).toMatchObject({
      id: user.id,
      username: user.username,
      email: 'ada@example.com',
      is_staff: false,
    })
    expect(JSON.stringify(body)).not.toContain('argon2')
  })

  it('sets an HttpOnly, SameSite=Lax session cookie of 32+ [a-z0-9] with Max-Age and Expires', async () => {
    const user = await createUser()
    const response = await new Client().login(user.username, user.password)
    const cookie = setCookie(response, 'sessionid') as string
    expect(cookie).toMatch(/^sessionid=[a-z0-9]{32,};/)
    expect(cookie).toContain('HttpOnly')
    expect(cookie).toContain('SameSite=Lax')
    expect(cookie).toContain('Path=/')
    expect(cookie).toContain('Max-Age=1209600')
    expect(cookie).toMatch(/Expires=[A-Z][a-z]{2}, /)
    expect(cookie).not.toContain('Secure')
  })

  it('marks cookies Secure when the request came over HTTPS', async () => {
    const user = await createUser()
    const response = await new Client(undefined, 'https://gate.example.com').login(
      user.username,
      user.password,
    )
    expect(setCookie(response, 'sessionid')).toContain('Secure')
    expect(setCookie(response, 'csrftoken')).toContain('Secure')
  })

  it("stores Django's _auth_user_id (a string), _auth_user_backend and _auth_user_hash in KV", async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const record = await recordOf(client)
    expect(record?.data._auth_user_id).toBe(String(user.id))
    expect(record?.data._auth_user_backend).toBe('django.contrib.auth.backends.ModelBackend')
    expect(record?.data._auth_user_hash).toMatch(/^[0-9a-f]{64}$/)
    expect(record?.user?.username).toBe(user.username)
    expect(JSON.stringify(record)).not.toContain('argon2')
  })

  it('never writes the cookie value into KV keys or values', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const key = client.cookies.get('sessionid') as string
    const { keys } = await env.SESSIONS.list()
    expect(keys.length).toBeGreaterThan(0)
    for (const { name } of keys) {
      expect(name).toMatch(/^session:[0-9a-f]{64}$/)
      expect(name).not.toContain(key)
      expect(await env.SESSIONS.get(name)).not.toContain(key)
    }
  })

  it('gives a KV record a TTL, so KV deletes it itself', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const kvKey = await kvKeyFor(client.cookies.get('sessionid') as string)
    const { keys } = await env.SESSIONS.list({ prefix: kvKey })
    const expiration = keys[0]?.expiration as number
    expect(expiration).toBeGreaterThan(Date.now() / 1000 + 1_209_000)
  })

  it('answers 400 with the same message for a wrong password, an unknown user and an inactive user', async () => {
    const user = await createUser()
    const inactive = await createUser({ is_active: false })
    const attempts = [
      { username: user.username, password: 'wrong password' },
      { username: 'nobody-by-that-name', password: 'whatever' },
      { username: inactive.username, password: inactive.password },
    ]
    for (const json of attempts) {
      const response = await new Client().post('/auth/login', { json })
      expect(response.status).toBe(400)
      expect(await response.json()).toEqual({
        detail: 'Unable to log in with provided credentials.',
      })
      expect(setCookie(response, 'sessionid')).toBeUndefined()
    }
  })

  it('answers 400 when a field is missing, blank or not a string', async () => {
    for (const json of [
      { username: 'a' },
      { password: 'b' },
      { username: '', password: 'b' },
      { username: 1, password: 'b' },
    ]) {
      const response = await new Client().post('/auth/login', { json })
      expect(response.status).toBe(400)
      expect(((await response.json()) as { detail: string }).detail).toMatch(
        /^(username|password): /,
      )
    }
  })

  it('normalizes the username (NFKC) as Django’s AuthenticationForm does', async () => {
    const user = await createUser({ username: uniqueName('fiona') })
    const typed = user.username.replace('fi', '\uFB01')
    expect(typed).not.toBe(user.username)
    const response = await new Client().post('/auth/login', {
      json: { username: typed, password: user.password },
    })
    expect(response.status).toBe(200)
  })

  it('accepts a form-encoded login', async () => {
    const user = await createUser()
    const response = await new Client().post('/auth/login', {
      form: { username: user.username, password: user.password },
    })
    expect(response.status).toBe(200)
  })

  it('updates last_login', async () => {
    const user = await createUser()
    const before = Date.now()
    await new Client().login(user.username, user.password)
    const row = await env.DB.prepare('SELECT last_login FROM users WHERE id = ?1')
      .bind(user.id)
      .first<{ last_login: string }>()
    expect(Date.parse(row?.last_login as string)).toBeGreaterThanOrEqual(before - 1000)
  })

  it('gives 20 concurrent logins 20 distinct session keys', async () => {
    const user = await createUser()
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        new Client().post('/auth/login', {
          json: { username: user.username, password: user.password },
        }),
      ),
    )
    const keys = responses.map((response) => setCookie(response, 'sessionid')?.split(';')[0])
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200))
    expect(new Set(keys).size).toBe(20)
  })
})

describe('session fixation', () => {
  it("cycles the key at login: an anonymous session's data survives, its old key does not", async () => {
    const user = await createUser()
    const client = new Client()
    await client.request('PATCH', '/auth/session', { json: { data: { cart: [1, 2] } } })
    const anonymousKey = client.cookies.get('sessionid') as string
    expect(anonymousKey).toMatch(/^[a-z0-9]{32}$/)
    await client.login(user.username, user.password)
    const loggedInKey = client.cookies.get('sessionid')
    expect(loggedInKey).not.toBe(anonymousKey)
    expect(await env.SESSIONS.get(await kvKeyFor(anonymousKey))).toBeNull()
    const data = await (await client.get('/auth/session')).json()
    expect(data).toEqual({ data: { cart: [1, 2] } })
  })

  it("flushes a different user's session before logging in", async () => {
    const first = await createUser()
    const second = await createUser()
    const client = new Client()
    await client.login(first.username, first.password)
    await client.request('PATCH', '/auth/session', { json: { data: { secret: 'first' } } })
    await client.login(second.username, second.password)
    expect(await (await client.get('/auth/session')).json()).toEqual({ data: {} })
    const me = (await (await client.get('/auth/me')).json()) as { user: { id: number } }
    expect(me.user.id).toBe(second.id)
  })

  it('cycles the key even when the same user logs in again, and the old key stops working', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const oldKey = client.cookies.get('sessionid') as string
    await client.login(user.username, user.password)
    expect(client.cookies.get('sessionid')).not.toBe(oldKey)
    const stale = await new Client().get('/auth/me', { headers: { Cookie: `sessionid=${oldKey}` } })
    expect(stale.status).toBe(401)
  })
})

describe('GET /auth/me', () => {
  it('answers 200 with the user and how the session signed in (amr)', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const body = (await (await client.get('/auth/me')).json()) as { amr: string[] }
    expect(body.amr).toEqual(['pwd'])
  })

  it('answers 401 with DRF’s message when anonymous', async () => {
    const response = await new Client().get('/auth/me')
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual({
      detail: 'Authentication credentials were not provided.',
    })
  })

  it('answers 200 with the user, Vary: Cookie and Cache-Control: no-store', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const response = await client.get('/auth/me')
    expect(response.status).toBe(200)
    expect(response.headers.get('Vary')).toContain('Cookie')
    expect(response.headers.get('Cache-Control')).toBe('no-store')
    expect(((await response.json()) as { user: { username: string } }).user.username).toBe(
      user.username,
    )
  })

  it('treats an unknown, well-formed key as anonymous and deletes the cookie', async () => {
    const response = await new Client().get('/auth/me', {
      headers: { Cookie: `sessionid=${'a'.repeat(32)}` },
    })
    expect(response.status).toBe(401)
    expect(setCookie(response, 'sessionid')).toContain('Max-Age=0')
  })

  it.each(['', 'x', 'A'.repeat(32), '../../etc/passwd', '%00%ff', 'a'.repeat(5000), '"quoted"'])(
    'treats the cookie value %j as no session, never an error',
    async (value) => {
      const response = await new Client().get('/auth/me', {
        headers: { Cookie: `sessionid=${value}` },
      })
      expect(response.status).toBe(401)
    },
  )
})

describe('only the gateway mints sessions: sealed records', () => {
  /** Logs a new user in; returns the client, its record's KV key and the stored JSON. */
  async function signedIn() {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const kvKey = await kvKeyFor(client.cookies.get('sessionid') as string)
    const stored = JSON.parse((await env.SESSIONS.get(kvKey)) as string)
    return { user, client, kvKey, stored }
  }

  it('answers 401 when _auth_user_hash was edited in KV, and deletes the cookie', async () => {
    const { client, kvKey, stored } = await signedIn()
    stored.data._auth_user_hash = '0'.repeat(64)
    await env.SESSIONS.put(kvKey, JSON.stringify(stored))
    const response = await client.get('/auth/me')
    expect(response.status).toBe(401)
    expect(setCookie(response, 'sessionid')).toMatch(/^sessionid=""; /)
  })

  it('answers 401 to a record whose snapshot was edited in KV (no staff flag gained)', async () => {
    const { client, kvKey, stored } = await signedIn()
    stored.user.is_staff = true
    stored.user.is_superuser = true
    await env.SESSIONS.put(kvKey, JSON.stringify(stored))
    expect((await client.get('/auth/me')).status).toBe(401)
  })

  it('answers 401 to a record moved to another user by editing _auth_user_id', async () => {
    const { client, kvKey, stored } = await signedIn()
    const victim = await createUser()
    stored.data._auth_user_id = String(victim.id)
    stored.user.id = victim.id
    await env.SESSIONS.put(kvKey, JSON.stringify(stored))
    expect((await client.get('/auth/me')).status).toBe(401)
  })

  it('answers 401 to a record whose expiry was moved later in KV', async () => {
    const { client, kvKey, stored } = await signedIn()
    stored.expiresAt += 365 * 86_400_000
    await env.SESSIONS.put(kvKey, JSON.stringify(stored))
    expect((await client.get('/auth/me')).status).toBe(401)
  })

  it('answers 401 to a record copied under another key, and the copy outlives no revocation', async () => {
    const { client, kvKey } = await signedIn()
    // Someone with write access to KV copies the record, byte for byte, under a key they know.
    const stolenKey = generateSessionKey()
    const copy = (await env.SESSIONS.get(kvKey)) as string
    await env.SESSIONS.put(await kvKeyFor(stolenKey), copy)
    const thief = new Client()
    thief.cookies.set('sessionid', stolenKey)
    expect((await thief.get('/auth/me')).status).toBe(401)
    // With a later expiry and a fresh public id as well: still not a session.
    const edited = JSON.parse(copy)
    edited.expiresAt += 86_400_000
    edited.id = 'z'.repeat(25)
    await env.SESSIONS.put(await kvKeyFor(stolenKey), JSON.stringify(edited))
    expect((await thief.get('/auth/me')).status).toBe(401)
    // The original is untouched, and logging out everywhere leaves nothing that authenticates.
    expect((await client.get('/auth/me')).status).toBe(200)
    await client.post('/auth/logout?everywhere=1')
    expect((await thief.get('/auth/me')).status).toBe(401)
  })

  it('answers 401 to an unsealed record written straight into KV', async () => {
    const { user } = await signedIn()
    const key = generateSessionKey()
    const now = Date.now()
    const forged = {
      v: 2,
      id: 'forgedforgedforgedforged0',
      data: { _auth_user_id: String(user.id) },
      createdAt: now,
      expiresAt: now + 3_600_000,
      user: { id: user.id, username: user.username, email: '', first_name: '', last_name: '' },
    }
    await env.SESSIONS.put(await kvKeyFor(key), JSON.stringify(forged))
    await env.SESSIONS.put(
      await kvKeyFor(key),
      `{"seal":"${'0'.repeat(64)}",${JSON.stringify(forged).slice(1)}`,
    )
    const client = new Client()
    client.cookies.set('sessionid', key)
    expect((await client.get('/auth/me')).status).toBe(401)
  })

  it('verifies sessions signed with a key that moved to SECRET_KEY_FALLBACKS, and not after it is dropped', async () => {
    const oldKey = 'old-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ'
    const newKey = 'new-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ'
    const user = await createUser()
    const client = new Client(appFetch({ SECRET_KEY: oldKey }))
    await client.login(user.username, user.password)
    const cookie = `sessionid=${client.cookies.get('sessionid')}`
    const rotated = new Client(appFetch({ SECRET_KEY: newKey, SECRET_KEY_FALLBACKS: oldKey }))
    expect((await rotated.get('/auth/me', { headers: { Cookie: cookie } })).status).toBe(200)
    const dropped = new Client(appFetch({ SECRET_KEY: newKey }))
    expect((await dropped.get('/auth/me', { headers: { Cookie: cookie } })).status).toBe(401)
  })
})

describe('POST /auth/logout', () => {
  it('deletes the KV record and the cookie, and the old key no longer authenticates', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const key = client.cookies.get('sessionid') as string
    const response = await client.post('/auth/logout')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ detail: 'Successfully logged out.' })
    expect(setCookie(response, 'sessionid')).toMatch(
      /^sessionid=""; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0/,
    )
    expect(await env.SESSIONS.get(await kvKeyFor(key))).toBeNull()
    const replay = await new Client().get('/auth/me', { headers: { Cookie: `sessionid=${key}` } })
    expect(replay.status).toBe(401)
  })

  it('answers 200 when anonymous', async () => {
    const response = await new Client().post('/auth/logout')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ detail: 'Successfully logged out.' })
  })
})

describe('expiry', () => {
  it('treats an expired record as anonymous, though KV still holds it', async () => {
    let clock = Date.now()
    const fetcher = appFetch({}, () => clock)
    const user = await createUser()
    const client = new Client(fetcher)
    await client.login(user.username, user.password)
    clock += 1_209_600 * 1000 + 1000
    const kvKey = await kvKeyFor(client.cookies.get('sessionid') as string)
    expect(await env.SESSIONS.get(kvKey)).not.toBeNull()
    expect((await client.get('/auth/me')).status).toBe(401)
  })

  it('writes nothing on a read-only request while more than half the age is left', async () => {
    let clock = Date.now()
    const client = new Client(appFetch({}, () => clock))
    const user = await createUser()
    await client.login(user.username, user.password)
    const kvKey = await kvKeyFor(client.cookies.get('sessionid') as string)
    const before = await env.SESSIONS.get(kvKey)
    clock += 6 * 86_400_000
    const response = await client.get('/auth/me')
    expect(response.status).toBe(200)
    expect(setCookie(response, 'sessionid')).toBeUndefined()
    expect(await env.SESSIONS.get(kvKey)).toBe(before)
  })

  it('slides the expiry once less than half the age is left, with a fresh cookie', async () => {
    let clock = Date.now()
    const client = new Client(appFetch({}, () => clock))
    const user = await createUser()
    await client.login(user.username, user.password)
    const kvKey = await kvKeyFor(client.cookies.get('sessionid') as string)
    const before = await storedRecord(kvKey)
    clock += 8 * 86_400_000
    const response = await client.get('/auth/me')
    expect(response.status).toBe(200)
    expect(setCookie(response, 'sessionid')).toContain('Max-Age=1209600')
    const after = await storedRecord(kvKey)
    expect(after?.expiresAt).toBe(clock + 1_209_600_000)
    expect(after?.expiresAt).toBeGreaterThan(before?.expiresAt as number)
    // Same key: sliding never changes the key.
    expect(setCookie(response, 'sessionid')).toContain(client.cookies.get('sessionid') as string)
  })

  it('honours SESSION_COOKIE_AGE and keeps the KV TTL at 60 s or more', async () => {
    const client = new Client(appFetch({ SESSION_COOKIE_AGE: '5' }))
    const user = await createUser()
    const before = Math.floor(Date.now() / 1000)
    const response = await client.login(user.username, user.password)
    expect(setCookie(response, 'sessionid')).toContain('Max-Age=5')
    const kvKey = await kvKeyFor(client.cookies.get('sessionid') as string)
    const { keys } = await env.SESSIONS.list({ prefix: kvKey })
    expect(keys[0]?.expiration).toBeGreaterThanOrEqual(before + 60)
  })

  it('makes a browser-session cookie with SESSION_EXPIRE_AT_BROWSER_CLOSE', async () => {
    const client = new Client(appFetch({ SESSION_EXPIRE_AT_BROWSER_CLOSE: 'true' }))
    const user = await createUser()
    const cookie = setCookie(await client.login(user.username, user.password), 'sessionid')
    expect(cookie).not.toMatch(/Max-Age|Expires/)
  })
})

describe('races with a password change', () => {
  it('refuses a login whose password check predates a password change, and saves no session', async () => {
    const user = await createUser()
    const client = new Client()
    await client.request('PATCH', '/auth/session', { json: { data: { cart: [1] } } })
    const kvKey = await kvKeyFor(client.cookies.get('sessionid') as string)
    const users = new UserRepository(env.DB)
    const stale = (await users.getById(user.id)) as UserRow
    await users.setPassword(user.id, await hashers.makePassword('a different password'))
    const store = testStore()
    const session = new Session(
      { age: 1_209_600, expireAtBrowserClose: false, now: Date.now },
      client.cookies.get('sessionid') as string,
      kvKey,
      await store.load(kvKey),
    )
    await expect(
      login(testAccounts(), session, stale, { userAgent: 'test', amr: ['pwd'] }),
    ).rejects.toThrow('Unable to log in with provided credentials.')
    expect(session.isEmpty).toBe(true)
    expect(session.user).toBeNull()
    expect(await new SessionIndex(env.DB).listForUser(user.id, Date.now())).toEqual([])
  })
})

describe('the session index', () => {
  it('lists only live sessions, and forgets expired rows only once they cannot be live', async () => {
    const start = Date.now()
    let clock = start
    const age = 1_209_600_000
    const user = await createUser()
    const fetcher = appFetch({}, () => clock)
    await new Client(fetcher).login(user.username, user.password)
    const index = new SessionIndex(env.DB)
    const rows = async () =>
      (
        (await env.DB.prepare('SELECT count(*) AS n FROM user_sessions WHERE user_id = ?1')
          .bind(user.id)
          .first<{ n: number }>()) as { n: number }
      ).n
    clock = start + age + 1000
    expect(await index.listForUser(user.id, clock)).toEqual([])
    const later = new Client(fetcher)
    await later.login(user.username, user.password)
    const listed = (await (await later.get('/auth/sessions')).json()) as { sessions: unknown[] }
    expect(listed.sessions).toHaveLength(1)
    // Within one more age (plus the last_seen interval) the old row may still belong to a live
    // record, so it stays; after that it goes.
    expect(await rows()).toBe(2)
    clock = start + 2 * age + 5 * 60_000 + 2000
    await later.login(user.username, user.password)
    await later.get('/auth/sessions')
    expect(await rows()).toBe(2)
  })

  it('keeps a session’s listed expiry at its record’s expiry, not later', async () => {
    let clock = Date.now()
    const user = await createUser()
    const client = new Client(appFetch({}, () => clock))
    await client.login(user.username, user.password)
    const record = await storedRecord(await kvKeyFor(client.cookies.get('sessionid') as string))
    // A request a day later records last_seen (first time in this app's LastSeen memory).
    clock += 86_400_000
    const fresh = new Client(appFetch({}, () => clock))
    fresh.cookies.set('sessionid', client.cookies.get('sessionid') as string)
    expect((await fresh.get('/auth/me')).status).toBe(200)
    const [row] = await new SessionIndex(env.DB).listForUser(user.id, clock)
    expect(row?.last_seen).toBe(clock)
    expect(row?.expires_at).toBe(record?.expiresAt)
  })
})

describe('sessions per user', () => {
  it(`ends the oldest session when a login goes past ${MAX_SESSIONS_PER_USER} live sessions`, async () => {
    const user = await createUser()
    const index = new SessionIndex(env.DB)
    const now = Date.now()
    const statements = Array.from({ length: MAX_SESSIONS_PER_USER }, (_, i) =>
      index.upsertStatement({
        id: `old${String(i).padStart(3, '0')}`,
        user_id: user.id,
        kv_key: `session:${String(i).padStart(64, '0')}`,
        created_at: now - 1000 * (MAX_SESSIONS_PER_USER - i),
        last_seen: now,
        expires_at: now + 86_400_000,
        user_agent: 'seeded',
      }),
    )
    await env.DB.batch(statements)
    await env.SESSIONS.put(`session:${'0'.repeat(64)}`, '{}')
    const client = new Client()
    await client.login(user.username, user.password)
    const rows = await index.listForUser(user.id, Date.now())
    expect(rows).toHaveLength(MAX_SESSIONS_PER_USER)
    expect(rows.map((row) => row.id)).not.toContain('old000')
    expect(await env.SESSIONS.get(`session:${'0'.repeat(64)}`)).toBeNull()
    expect((await client.get('/auth/me')).status).toBe(200)
  })
})

describe('no timing oracle for unknown usernames', () => {
  /** The app with hashers that record which stored hash each password check ran against. */
  function recordingApp() {
    const checked: (string | null)[] = []
    const recording: Hashers = {
      ...hashers,
      checkPassword(password, encoded) {
        checked.push(encoded)
        return hashers.checkPassword(password, encoded)
      },
    }
    const app = createApp(loadConfig(env), { hashers: recording })
    const fetcher = async (request: Request) => app.fetch(request, env, createExecutionContext())
    return { checked, client: () => new Client(fetcher) }
  }

  it("checks an unknown username's password against a real user's hash, the same one every time (400)", async () => {
    // An imported Django hash, far costlier than a new one: an unknown username must be able to
    // cost as much, or the time of a failure would tell that the imported user exists.
    const imported = await new UserRepository(env.DB).create({
      username: uniqueName('imported'),
      password: `pbkdf2_sha256$1000$salt$${'A'.repeat(43)}=`,
    })
    const stored = new Set(
      (await env.DB.prepare('SELECT password FROM users').all<{ password: string }>()).results.map(
        (row) => row.password,
      ),
    )
    expect(stored.has(imported.password)).toBe(true)
    const { checked, client } = recordingApp()
    const unknown = uniqueName('nobody')
    for (let i = 0; i < 2; i++) {
      const response = await client().post('/auth/login', {
        json: { username: unknown, password: 'whatever it is' },
      })
      expect(response.status).toBe(400)
    }
    expect(checked).toHaveLength(2)
    expect(stored.has(checked[0] as string)).toBe(true)
    expect(checked[1]).toBe(checked[0])
  })

  it('spreads unknown usernames over the real users’ hashes', async () => {
    for (let i = 0; i < 4; i++) await createUser()
    const { checked, client } = recordingApp()
    for (let i = 0; i < 12; i++) {
      await client().post('/auth/login', { json: { username: uniqueName('ghost'), password: 'x' } })
    }
    expect(new Set(checked).size).toBeGreaterThan(1)
  })
})
