import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { kvKeyFor } from '../../src/session/key'
import { sha256Hex } from '../../src/utils/crypto'
import { appFetch, Client, createUser } from '../helpers'

const NEW_PASSWORD = 'violet-kettle-orbit-42'

interface SessionInfo {
  id: string
  created: string
  last_seen: string
  expires: string
  user_agent: string
  current: boolean
}

/** A logged-in client for `user`, with its own User-Agent. */
async function signedIn(
  user: { username: string; password: string },
  userAgent = 'test-agent',
  fetcher?: ReturnType<typeof appFetch>,
): Promise<Client> {
  const client = new Client(fetcher)
  const response = await client.post('/auth/login', {
    json: { username: user.username, password: user.password },
    headers: { 'User-Agent': userAgent },
  })
  expect(response.status).toBe(200)
  return client
}

/** A client that sends only this session cookie value. */
function withCookie(value: string, fetcher?: ReturnType<typeof appFetch>): Client {
  const client = new Client(fetcher)
  client.cookies.set('sessionid', value)
  return client
}

async function meStatus(client: Client): Promise<number> {
  return (await client.get('/auth/me')).status
}

function changePassword(client: Client, oldPassword: string, newPassword: string) {
  return client.post('/auth/password', {
    json: { old_password: oldPassword, new_password: newPassword },
  })
}

async function sessionsOf(client: Client): Promise<SessionInfo[]> {
  const response = await client.get('/auth/sessions')
  expect(response.status).toBe(200)
  return ((await response.json()) as { sessions: SessionInfo[] }).sessions
}

async function loginStatus(username: string, password: string): Promise<number> {
  return (await new Client().post('/auth/login', { json: { username, password } })).status
}

describe('POST /auth/password', () => {
  it('changes the password: 200 with a detail', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    const response = await changePassword(client, user.password, NEW_PASSWORD)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ detail: 'New password has been saved.' })
  })

  it('answers 400 to a wrong old password and keeps the old password', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    const response = await changePassword(client, 'not my password', NEW_PASSWORD)
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({
      detail: 'old_password: Your old password was entered incorrectly. Please enter it again.',
      errors: {
        old_password: ['Your old password was entered incorrectly. Please enter it again.'],
      },
    })
    expect(await loginStatus(user.username, user.password)).toBe(200)
    expect(await loginStatus(user.username, NEW_PASSWORD)).toBe(400)
  })

  it('answers 400 with every validator message, in detail and in errors.new_password', async () => {
    // '8392017' is not in the common list, so the common message must not appear.
    const user = await createUser({ username: '8392017465' })
    const client = await signedIn(user)
    const response = await changePassword(client, user.password, user.username.slice(0, 7))
    expect(response.status).toBe(400)
    const messages = [
      'The password is too similar to the username.',
      'This password is too short. It must contain at least 8 characters.',
      'This password is entirely numeric.',
    ]
    expect(await response.json()).toEqual({
      detail: messages.join(' '),
      errors: { new_password: messages },
    })
    expect(await loginStatus(user.username, user.password)).toBe(200)
  })

  it('answers 400 "This password is too common." for a listed password', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    const response = await changePassword(client, user.password, 'iloveyou1')
    expect(response.status).toBe(400)
    expect(((await response.json()) as { errors: unknown }).errors).toEqual({
      new_password: ['This password is too common.'],
    })
  })

  it('answers 400 to a password over 4,096 characters', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    const response = await changePassword(client, user.password, 'x7'.repeat(2049))
    expect(response.status).toBe(400)
    expect(((await response.json()) as { errors: unknown }).errors).toEqual({
      new_password: ['This password is too long. It must contain at most 4096 characters.'],
    })
  })

  it('keeps the current session under a new key: the old cookie value gets 401', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    const oldKey = client.cookies.get('sessionid') as string
    expect((await changePassword(client, user.password, NEW_PASSWORD)).status).toBe(200)
    const newKey = client.cookies.get('sessionid') as string
    expect(newKey).toMatch(/^[a-z0-9]{32,}$/)
    expect(newKey).not.toBe(oldKey)
    expect(await meStatus(client)).toBe(200)
    expect(await meStatus(withCookie(oldKey))).toBe(401)
    expect(await env.SESSIONS.get(await kvKeyFor(oldKey))).toBeNull()
  })

  it('ends every other session of the user at once: 401, and their KV records deleted', async () => {
    const user = await createUser()
    const changer = await signedIn(user, 'changer')
    const others = [await signedIn(user, 'phone'), await signedIn(user, 'laptop')]
    const otherKeys = others.map((other) => other.cookies.get('sessionid') as string)
    expect((await changePassword(changer, user.password, NEW_PASSWORD)).status).toBe(200)
    for (const key of otherKeys) expect(await env.SESSIONS.get(await kvKeyFor(key))).toBeNull()
    for (const other of others) expect(await meStatus(other)).toBe(401)
    const listed = await sessionsOf(changer)
    expect(listed.map((session) => session.user_agent)).toEqual(['changer'])
  })

  it("leaves another user's sessions alone (200)", async () => {
    const user = await createUser()
    const bystander = await signedIn(await createUser())
    const client = await signedIn(user)
    expect((await changePassword(client, user.password, NEW_PASSWORD)).status).toBe(200)
    expect(await meStatus(bystander)).toBe(200)
  })

  it('logs in with the new password (200) and no longer with the old one (400)', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    expect((await changePassword(client, user.password, NEW_PASSWORD)).status).toBe(200)
    expect(await loginStatus(user.username, NEW_PASSWORD)).toBe(200)
    expect(await loginStatus(user.username, user.password)).toBe(400)
  })

  it('stores passwords NFKC-normalized: one set with "ﬁ" logs in typed as "fi" (200)', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    expect((await changePassword(client, user.password, 'ﬁrework-ﬁesta-1987')).status).toBe(200)
    expect(await loginStatus(user.username, 'firework-fiesta-1987')).toBe(200)
    expect(await loginStatus(user.username, 'ﬁrework-ﬁesta-1987')).toBe(200)
  })

  it('stores passwords NFKC-normalized: full-width characters log in as ASCII (200)', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    expect(
      (await changePassword(client, user.password, 'Ｋｅｔｔｌｅ－Ｏｒｂｉｔ４２')).status,
    ).toBe(200)
    expect(await loginStatus(user.username, 'Kettle-Orbit42')).toBe(200)
    expect(await loginStatus(user.username, 'kettle-orbit42')).toBe(400)
  })

  it('keeps NUL bytes: "pass\\u0000word-long-enough" is not "pass" (400)', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    const password = 'pass\u0000word-long-enough'
    expect((await changePassword(client, user.password, password)).status).toBe(200)
    expect(await loginStatus(user.username, 'pass')).toBe(400)
    expect(await loginStatus(user.username, 'password-long-enough')).toBe(400)
    expect(await loginStatus(user.username, password)).toBe(200)
  })

  it('accepts long passphrases: 64 and 4,096 characters log in (200)', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    let current = user.password
    for (const length of [64, 4096]) {
      const passphrase = 'correct horse battery staple '.repeat(200).slice(0, length)
      expect((await changePassword(client, current, passphrase)).status).toBe(200)
      expect(await loginStatus(user.username, passphrase)).toBe(200)
      current = passphrase
    }
  })

  it('answers 401 to an anonymous request', async () => {
    const response = await changePassword(new Client(), 'a', NEW_PASSWORD)
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual({
      detail: 'Authentication credentials were not provided.',
    })
  })

  it('answers 400 when a field is missing', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    const response = await client.post('/auth/password', { json: { old_password: user.password } })
    expect(response.status).toBe(400)
    expect(((await response.json()) as { detail: string }).detail).toBe(
      'new_password: This field is required.',
    )
  })
})

describe('default accounts', () => {
  it('has none: admin, root and sa with their usual passwords get 400', async () => {
    const { results } = await env.DB.prepare(
      "SELECT username FROM users WHERE username IN ('admin', 'root', 'sa', 'administrator')",
    ).all()
    expect(results).toEqual([])
    for (const [username, password] of [
      ['admin', 'admin'],
      ['root', 'root'],
      ['sa', ''],
      ['admin', 'password'],
    ]) {
      const response = await new Client().post('/auth/login', { json: { username, password } })
      expect(response.status).toBe(400)
    }
  })
})

describe('GET /auth/sessions', () => {
  it('lists each session with id, created, last_seen, expires, user_agent and current', async () => {
    const user = await createUser()
    const first = await signedIn(user, 'Firefox on Linux')
    await signedIn(user, 'Safari on iPhone')
    const sessions = await sessionsOf(first)
    expect(sessions).toHaveLength(2)
    for (const session of sessions) {
      expect(Object.keys(session).sort()).toEqual(
        ['created', 'current', 'expires', 'id', 'last_seen', 'user_agent'].sort(),
      )
      for (const field of ['created', 'last_seen', 'expires'] as const) {
        expect(new Date(session[field]).toISOString()).toBe(session[field])
      }
      expect(Date.parse(session.expires)).toBeGreaterThan(Date.parse(session.created))
    }
    const mine = sessions.filter((session) => session.current)
    expect(mine.map((session) => session.user_agent)).toEqual(['Firefox on Linux'])
    expect(sessions.map((session) => session.user_agent).sort()).toEqual([
      'Firefox on Linux',
      'Safari on iPhone',
    ])
  })

  it('gives an id that is neither the cookie value nor its KV key hash', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    const key = client.cookies.get('sessionid') as string
    const [session] = await sessionsOf(client)
    const id = session?.id as string
    expect(id).toBeTruthy()
    expect(id).not.toBe(key)
    expect(key).not.toContain(id)
    expect(id).not.toContain(key)
    const hash = await sha256Hex(key)
    expect(hash).not.toContain(id)
    expect(id).not.toContain(hash)
    expect(await kvKeyFor(key)).not.toContain(id)
  })

  it("lists only the user's own sessions", async () => {
    const user = await createUser()
    const client = await signedIn(user, 'mine')
    await signedIn(await createUser(), 'theirs')
    const sessions = await sessionsOf(client)
    expect(sessions.map((session) => session.user_agent)).toEqual(['mine'])
  })

  it('answers 401 to an anonymous request', async () => {
    const response = await new Client().get('/auth/sessions')
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual({
      detail: 'Authentication credentials were not provided.',
    })
  })

  it('updates last_seen at most once per 5 minutes of activity', async () => {
    const clock = { now: Date.now() }
    const fetcher = appFetch({}, () => clock.now)
    const user = await createUser()
    const client = await signedIn(user, 'clocked', fetcher)
    const lastSeen = async () => (await sessionsOf(client))[0]?.last_seen
    const loggedInAt = await lastSeen()
    clock.now += 60_000
    await client.get('/auth/me')
    expect(await lastSeen()).toBe(loggedInAt)
    clock.now += 5 * 60_000
    await client.get('/auth/me')
    expect(await lastSeen()).toBe(new Date(clock.now).toISOString())
  })
})

describe('DELETE /auth/sessions/{id}', () => {
  it('answers 204 and the session no longer authenticates (401), its KV record deleted', async () => {
    const user = await createUser()
    const client = await signedIn(user, 'keeper')
    const other = await signedIn(user, 'to-end')
    const otherKey = other.cookies.get('sessionid') as string
    const target = (await sessionsOf(client)).find((session) => session.user_agent === 'to-end')
    const response = await client.request('DELETE', `/auth/sessions/${target?.id}`)
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')
    expect(await meStatus(other)).toBe(401)
    expect(await env.SESSIONS.get(await kvKeyFor(otherKey))).toBeNull()
    expect(await meStatus(client)).toBe(200)
    expect((await sessionsOf(client)).map((session) => session.user_agent)).toEqual(['keeper'])
  })

  it("answers 404 for another user's session id, which keeps working", async () => {
    const client = await signedIn(await createUser())
    const victim = await signedIn(await createUser())
    const [victimSession] = await sessionsOf(victim)
    const response = await client.request('DELETE', `/auth/sessions/${victimSession?.id}`)
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({ detail: 'Not found.' })
    expect(await meStatus(victim)).toBe(200)
  })

  it('answers 404 for an id that does not exist or is garbage', async () => {
    const client = await signedIn(await createUser())
    const key = client.cookies.get('sessionid') as string
    for (const id of ['x', 'a'.repeat(32), key, await sha256Hex(key), '%00', "'%20OR%201=1--"]) {
      const response = await client.request('DELETE', `/auth/sessions/${id}`)
      expect(response.status).toBe(404)
    }
    expect(await meStatus(client)).toBe(200)
  })

  it('logs you out when it ends the current session (204, then 401)', async () => {
    const user = await createUser()
    const client = await signedIn(user)
    const key = client.cookies.get('sessionid') as string
    const current = (await sessionsOf(client)).find((session) => session.current)
    const response = await client.request('DELETE', `/auth/sessions/${current?.id}`)
    expect(response.status).toBe(204)
    expect(client.cookies.has('sessionid')).toBe(false)
    expect(await meStatus(client)).toBe(401)
    expect(await meStatus(withCookie(key))).toBe(401)
  })

  it('answers 401 to an anonymous request', async () => {
    const response = await new Client().request('DELETE', '/auth/sessions/anything')
    expect(response.status).toBe(401)
  })
})

describe('POST /auth/logout', () => {
  it('with ?everywhere=1 ends every session of the user: 3 clients all get 401', async () => {
    const user = await createUser()
    const clients = [
      await signedIn(user, 'a'),
      await signedIn(user, 'b'),
      await signedIn(user, 'c'),
    ]
    const keys = clients.map((client) => client.cookies.get('sessionid') as string)
    const bystander = await signedIn(await createUser())
    const response = await clients[0]?.post('/auth/logout?everywhere=1')
    expect(response?.status).toBe(200)
    expect(await response?.json()).toEqual({ detail: 'Successfully logged out.' })
    for (const client of clients) expect(await meStatus(client)).toBe(401)
    for (const key of keys) {
      expect(await env.SESSIONS.get(await kvKeyFor(key))).toBeNull()
      expect(await meStatus(withCookie(key))).toBe(401)
    }
    expect(await meStatus(bystander)).toBe(200)
  })

  it('without everywhere ends only this session (the others 200)', async () => {
    const user = await createUser()
    const leaving = await signedIn(user)
    const staying = await signedIn(user)
    expect((await leaving.post('/auth/logout')).status).toBe(200)
    expect(await meStatus(leaving)).toBe(401)
    expect(await meStatus(staying)).toBe(200)
    expect(await sessionsOf(staying)).toHaveLength(1)
  })
})
