import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { Env } from '../../src/env'
import { RecentRevocations } from '../../src/session/cache'
import { kvKeyFor } from '../../src/session/key'
import { type Echo, gatewayApp, loggedIn } from '../gateway/helpers'
import { appFetch, Client, setCookie } from '../helpers'

const CACHE = 'sessionid_cache'

/** A gateway app with the session cache on, and a client signed in through it. */
async function cachedGateway(overrides: Partial<Env> = {}, now?: () => number) {
  const { fetcher } = await gatewayApp({ SESSION_CACHE_SECONDS: '30', ...overrides }, now)
  const { client, user } = await loggedIn(fetcher, overrides.STAFF_PATHS ? { is_staff: true } : {})
  return { fetcher, client, user }
}

/** Deletes the client's session record from KV, as a revocation elsewhere would. */
async function dropRecord(client: Client): Promise<void> {
  await env.SESSIONS.delete(await kvKeyFor(client.cookies.get('sessionid') as string))
}

describe('SESSION_CACHE_SECONDS', () => {
  it('is off by default: no copy is issued', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    expect(client.cookies.has(CACHE)).toBe(false)
    const response = await client.get('/api/thing')
    expect(setCookie(response, CACHE)).toBeUndefined()
  })

  it('issues an HttpOnly copy at sign-in that lives the configured seconds', async () => {
    const { fetcher } = await gatewayApp({ SESSION_CACHE_SECONDS: '30' })
    const { client } = await loggedIn(fetcher)
    expect(client.cookies.has(CACHE)).toBe(true)
    const response = await new Client(fetcher).post('/auth/login', {
      json: { username: 'nobody-here', password: 'x' },
    })
    expect(setCookie(response, CACHE)).toBeUndefined()
  })

  it('lets a safe request to an ordinary route skip the KV read while the copy lives', async () => {
    let now = Date.now()
    const { client, user } = await cachedGateway({}, () => now)
    now += 1
    await dropRecord(client)
    // No record in KV, yet the copy authenticates: the request did not read KV.
    const response = await client.get('/api/thing')
    expect(response.status).toBe(200)
    expect(((await response.json()) as Echo).headers['x-auth-user-id']).toBe(String(user.id))
    now += 31_000
    const later = await client.get('/api/thing')
    expect(later.status).toBe(401)
    expect(client.cookies.has(CACHE)).toBe(false)
  })

  it('never sends the copy to the origin', async () => {
    const { client } = await cachedGateway()
    const echo = (await (await client.get('/api/thing')).json()) as Echo
    expect(echo.headers.cookie ?? '').not.toContain(CACHE)
  })

  it('always reads KV for unsafe methods', async () => {
    const { client } = await cachedGateway()
    await dropRecord(client)
    expect((await client.post('/api/thing', { json: {} })).status).toBe(401)
  })

  it('always reads KV for /auth/* endpoints', async () => {
    const { client } = await cachedGateway()
    await dropRecord(client)
    expect((await client.get('/auth/me')).status).toBe(401)
  })

  it('always reads KV for staff and MFA routes', async () => {
    const staff = await cachedGateway({ STAFF_PATHS: '/admin/**', MFA_PATHS: '/vault/**' })
    await dropRecord(staff.client)
    expect((await staff.client.get('/admin/panel')).status).toBe(401)
    expect((await staff.client.get('/vault/x')).status).toBe(401)
  })

  it('always reads KV for routes gated by groups, so a group change counts at once', async () => {
    const routes = JSON.stringify([
      { path: '/reports/**', groups: ['finance'] },
      { path: '/api/**', access: 'authenticated' },
    ])
    const { client } = await cachedGateway({ ROUTES: routes })
    await dropRecord(client)
    expect((await client.get('/api/thing')).status).toBe(200)
    expect((await client.get('/reports/q1')).status).toBe(401)
  })

  it('clears the copy at logout, and a replayed copy is outdated in this isolate', async () => {
    const { client } = await cachedGateway()
    const copy = client.cookies.get(CACHE) as string
    const key = client.cookies.get('sessionid') as string
    const response = await client.post('/auth/logout')
    expect(setCookie(response, CACHE)).toMatch(/Max-Age=0/)
    expect(client.cookies.has(CACHE)).toBe(false)
    client.cookies.set('sessionid', key)
    client.cookies.set(CACHE, copy)
    expect((await client.get('/api/thing')).status).toBe(401)
  })

  it('is bound to its session cookie: a copy with another session key is not used', async () => {
    const { fetcher, client } = await cachedGateway()
    const other = await loggedIn(fetcher)
    await dropRecord(other.client)
    other.client.cookies.set(CACHE, client.cookies.get(CACHE) as string)
    expect((await other.client.get('/api/thing')).status).toBe(401)
  })

  it('refuses a forged or edited copy', async () => {
    const { client } = await cachedGateway()
    const [payload, seal] = (client.cookies.get(CACHE) as string).split('.')
    const json = atob((payload as string).replace(/-/g, '+').replace(/_/g, '/'))
    const edited = btoa(json.replace('"is_staff":false', '"is_staff":true'))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '')
    await dropRecord(client)
    client.cookies.set(CACHE, `${edited}.${seal}`)
    expect((await client.get('/api/thing')).status).toBe(401)
  })

  it('is outdated by a revocation made in the same isolate (a password change elsewhere)', async () => {
    const { fetcher, client, user } = await cachedGateway()
    const other = new Client(fetcher)
    await other.login(user.username, user.password)
    const changed = await other.post('/auth/password', {
      json: { old_password: user.password, new_password: 'violet-kettle-orbit-42' },
    })
    expect(changed.status).toBe(200)
    expect((await client.get('/api/thing')).status).toBe(401)
  })

  it('dates a copy from its KV read: a revocation while the origin answered outdates it', async () => {
    let now = Date.now()
    const { fetcher, client, user } = await cachedGateway({}, () => now)
    client.cookies.delete(CACHE)
    // The origin takes its time; the gateway read KV before the revocation below.
    const slow = client.get('/slow?ms=1500')
    await new Promise((resolve) => setTimeout(resolve, 300))
    now += 1000
    const other = new Client(fetcher)
    await other.login(user.username, user.password)
    const changed = await other.post('/auth/password', {
      json: { old_password: user.password, new_password: 'violet-kettle-orbit-42' },
    })
    expect(changed.status).toBe(200)
    now += 1000
    const response = await slow
    expect(response.status).toBe(200)
    expect(setCookie(response, CACHE)).toBeDefined()
    // The copy handed out with that answer predates the revocation: it is not honoured.
    expect((await client.get('/api/thing')).status).toBe(401)
  })

  it('issues a fresh copy when a safe request read KV because the copy had expired', async () => {
    let now = Date.now()
    const { client } = await cachedGateway({}, () => now)
    const first = client.cookies.get(CACHE)
    now += 31_000
    const response = await client.get('/api/thing')
    expect(response.status).toBe(200)
    expect(setCookie(response, CACHE)).toMatch(/Max-Age=30/)
    expect(client.cookies.get(CACHE)).not.toBe(first)
  })

  it('has GET /auth/me, which always reads KV, hand out a copy when the client holds none', async () => {
    let now = Date.now()
    const { client } = await cachedGateway({}, () => now)
    const fresh = await client.get('/auth/me')
    expect(fresh.status).toBe(200)
    // The copy from the sign-in is still good for most of its life: nothing new.
    expect(setCookie(fresh, CACHE)).toBeUndefined()
    client.cookies.delete(CACHE)
    const without = await client.get('/auth/me')
    expect(setCookie(without, CACHE)).toMatch(/Max-Age=30/)
    now += 20_000
    const aging = await client.get('/auth/me')
    expect(setCookie(aging, CACHE)).toMatch(/Max-Age=30/)
  })

  it('refuses a setting above 60 or not a number, naming it', () => {
    for (const value of ['61', 'soon', '-1']) {
      expect(() => appFetch({ SESSION_CACHE_SECONDS: value })).toThrow(/SESSION_CACHE_SECONDS/)
    }
  })
})

describe('RecentRevocations', () => {
  it('still outdates a forgotten user’s older copies once the map is full', () => {
    const revocations = new RecentRevocations(2)
    revocations.note(1, 100)
    revocations.note(2, 200)
    revocations.note(3, 300)
    // User 1 is no longer remembered, yet a copy from before its revocation is refused...
    expect(revocations.outdates(1, 50)).toBe(true)
    // ...and one issued after it is not.
    expect(revocations.outdates(1, 150)).toBe(false)
    expect(revocations.outdates(3, 250)).toBe(true)
    expect(revocations.outdates(3, 350)).toBe(false)
  })
})
