/**
 * The audit log: what each security event records, who may read it (`GET /auth/events`), and
 * that no secret ever reaches it.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { CLI_ACTOR } from '../../src/accounts'
import { appFetch, Client, createUser, testAccounts, uniqueName } from '../helpers'

interface Event {
  id: number
  at: string
  type: string
  ip: string | null
  user_agent: string
  detail: Record<string, unknown>
}

async function eventsOf(client: Client, query = ''): Promise<Event[]> {
  const response = await client.get(`/auth/events${query}`)
  expect(response.status).toBe(200)
  return ((await response.json()) as { events: Event[] }).events
}

/** Every stored event row naming `username`, oldest first. */
async function rowsFor(username: string) {
  const { results } = await env.DB.prepare(
    'SELECT type, user_id, username, ip, user_agent, session, detail FROM auth_events WHERE username = ?1 ORDER BY id',
  )
    .bind(username)
    .all<{ type: string; detail: string; ip: string; session: string | null }>()
  return results
}

describe('the audit log', () => {
  it('records a login with the client address, user agent and session, and shows it (200)', async () => {
    const user = await createUser()
    const client = new Client()
    await client.post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: { 'CF-Connecting-IP': '198.51.100.40', 'User-Agent': 'Firefox on Linux' },
    })
    const [login] = await eventsOf(client)
    expect(login).toMatchObject({
      type: 'login',
      ip: '198.51.100.40',
      user_agent: 'Firefox on Linux',
      detail: { method: 'password' },
    })
    expect(Date.parse(login?.at as string)).toBeGreaterThan(Date.now() - 60_000)
    const sessions = (await (await client.get('/auth/sessions')).json()) as {
      sessions: { id: string }[]
    }
    const [row] = await rowsFor(user.username)
    expect(row?.session).toBe(sessions.sessions[0]?.id)
  })

  it('records failed logins with the attempted username and the reason, never the password', async () => {
    const user = await createUser()
    const ghost = uniqueName('ghost')
    const wrong = 'this-is-not-the-password-71'
    await new Client().post('/auth/login', { json: { username: user.username, password: wrong } })
    await new Client().post('/auth/login', { json: { username: ghost, password: wrong } })
    const [failed] = await rowsFor(user.username)
    expect(failed?.type).toBe('login_failed')
    expect(JSON.parse(failed?.detail as string)).toEqual({
      username: user.username,
      reason: 'password',
    })
    const [unknown] = await rowsFor('').then((rows) =>
      rows.filter((row) => row.detail.includes(ghost)),
    )
    expect(JSON.parse(unknown?.detail as string)).toEqual({
      username: ghost,
      reason: 'unknown_user',
    })
    const all = await env.DB.prepare('SELECT * FROM auth_events').all()
    expect(JSON.stringify(all.results)).not.toContain(wrong)
  })

  it('records login_throttled, logout, logout_everywhere, password_changed and session_revoked', async () => {
    const user = await createUser()
    const fetcher = appFetch({ LOGIN_FAILURE_LIMIT: '1' })
    const ip = { 'CF-Connecting-IP': '198.51.100.41' }
    await new Client(fetcher).post('/auth/login', {
      json: { username: user.username, password: 'wrong' },
      headers: ip,
    })
    await new Client(fetcher).post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: ip,
    })
    const a = new Client()
    await a.login(user.username, user.password)
    const b = new Client()
    await b.login(user.username, user.password)
    const c = new Client()
    await c.login(user.username, user.password)
    const { sessions } = (await (await a.get('/auth/sessions')).json()) as {
      sessions: { id: string; current: boolean }[]
    }
    const other = sessions.find((session) => !session.current)
    expect((await a.request('DELETE', `/auth/sessions/${other?.id}`)).status).toBe(204)
    await a.post('/auth/password', {
      json: { old_password: user.password, new_password: 'violet-kettle-orbit-42' },
    })
    await a.post('/auth/logout?everywhere=1')
    const d = new Client()
    await d.login(user.username, 'violet-kettle-orbit-42')
    await d.post('/auth/logout')
    const types = (await rowsFor(user.username)).map((row) => row.type)
    expect(types).toEqual([
      'login_failed',
      'login_throttled',
      'login',
      'login',
      'login',
      'session_revoked',
      'password_changed',
      'logout_everywhere',
      'login',
      'logout',
    ])
  })

  it('records account changes made through the service, from the CLI too', async () => {
    const user = await createUser()
    const accounts = testAccounts()
    const row = await accounts.users.getById(user.id)
    if (!row) throw new Error('no user')
    await accounts.setFlags(row, { is_staff: true }, CLI_ACTOR)
    const staff = await accounts.users.getById(user.id)
    await accounts.setFlags(staff as typeof row, { is_active: false }, CLI_ACTOR)
    const rows = await rowsFor(user.username)
    expect(rows.map((r) => [r.type, JSON.parse(r.detail), r.ip])).toEqual([
      ['user_changed', { is_staff: true }, null],
      ['user_deactivated', { is_active: false }, null],
    ])
  })

  it('gives each user only their own events, newest first, paged by limit and before', async () => {
    const user = await createUser()
    const client = new Client()
    for (let i = 0; i < 3; i++) await client.login(user.username, user.password)
    const bystander = new Client()
    const other = await createUser()
    await bystander.login(other.username, other.password)
    const all = await eventsOf(client)
    expect(all.map((event) => event.type)).toEqual(['login', 'login', 'login'])
    expect(all[0]?.id).toBeGreaterThan(all[1]?.id as number)
    const page = await eventsOf(client, '?limit=2')
    expect(page).toEqual(all.slice(0, 2))
    const next = await eventsOf(client, `?limit=2&before=${page[1]?.id}`)
    expect(next).toEqual(all.slice(2))
  })

  it('answers 401 to an anonymous request and 400 to a bad limit or before', async () => {
    expect((await new Client().get('/auth/events')).status).toBe(401)
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    for (const query of ['?limit=0', '?limit=abc', '?limit=201', '?before=-1', '?before=1.5']) {
      expect((await client.get(`/auth/events${query}`)).status).toBe(400)
    }
  })
})
