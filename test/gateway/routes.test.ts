/**
 * ROUTES through the app, in front of the two real test origins: first match wins, each route to
 * its origin, access levels, groups (changed through the accounts service on live sessions),
 * multi-factor routes and MFA_PATHS, what a path no route takes answers, and readings that reach
 * different origins; `/auth/verify` applies the same table.
 */
import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { CLI_ACTOR } from '../../src/accounts'
import { createApp } from '../../src/app'
import { loadConfig } from '../../src/config'
import type { Env } from '../../src/env'
import { Client, hashers, testAccounts } from '../helpers'
import { type Echo, gatewayApp, loggedIn, originUrl, secondOriginUrl, setAmr } from './helpers'

/** An app with this route table (ORIGIN_URL: the first test origin). */
function routesApp(routes: object[], settings: Partial<Env> = {}) {
  return gatewayApp({ ROUTES: JSON.stringify(routes), ...settings })
}

async function detail(response: Response): Promise<string> {
  return ((await response.json()) as { detail: string }).detail
}

/** The origin's echo, once the response is a 200 from it. */
async function echo(response: Response): Promise<Echo & { origin: string }> {
  expect(response.status).toBe(200)
  return (await response.json()) as Echo & { origin: string }
}

const JSON_ACCEPT = { headers: { Accept: 'application/json' } }

/** A table with two APIs on two origins, an ops-only admin and a public health page. */
function table() {
  return [
    { path: '/health', access: 'public' },
    { path: '/billing/**', origin: secondOriginUrl() },
    { path: '/catalog/**', methods: ['GET'], access: 'public' },
    { path: '/catalog/**', access: 'staff' },
    { path: '/admin/**', access: 'staff', groups: ['ops', 'sre'] },
    { path: '/root/**', access: 'superuser' },
    { path: '/vault/**', mfa: true },
  ]
}

describe('ROUTES: where requests go', () => {
  it('sends each route to its origin, ORIGIN_URL by default', async () => {
    const { fetcher } = await routesApp(table())
    const { client } = await loggedIn(fetcher)
    expect((await echo(await client.get('/billing/invoices/7'))).origin).toBe('second')
    const health = await echo(await new Client(fetcher).get('/health'))
    expect(health.origin).toBe('test')
  })

  it('makes each assertion out to the origin it is sent to', async () => {
    const { fetcher } = await routesApp([...table(), { path: '/app/**' }])
    const { client } = await loggedIn(fetcher)
    const billing = await echo(await client.get('/billing/x'))
    const app = await echo(await client.get('/app/x'))
    expect(decodeJwt(billing.headers['x-auth-assertion'] ?? '').aud).toBe(secondOriginUrl())
    expect(decodeJwt(app.headers['x-auth-assertion'] ?? '').aud).toBe(originUrl())
  })

  it('answers 404 "Not found." to a path no route takes, anonymous or not, before the origin', async () => {
    const { fetcher } = await routesApp(table())
    for (const client of [new Client(fetcher), (await loggedIn(fetcher)).client]) {
      for (const path of ['/elsewhere', '/health/x', '/Health']) {
        const response = await client.get(path, JSON_ACCEPT)
        expect(response.status, path).toBe(404)
        expect(response.headers.get('X-Origin')).toBeNull()
        expect(await detail(response)).toBe('Not found.')
      }
    }
  })

  it('answers 400 "Bad request path." when readings of a path reach different origins', async () => {
    const { fetcher } = await routesApp([...table(), { path: '/app/**' }])
    const { client } = await loggedIn(fetcher)
    for (const path of ['/app/..;/billing/x', '/billing/..;/app/x', '/billing/x/..%2F..%2Fapp']) {
      const response = await client.get(path)
      expect(response.status, path).toBe(400)
      expect(response.headers.get('X-Origin')).toBeNull()
      expect(await detail(response)).toBe('Bad request path.')
    }
  })

  it('takes the first route matching the method: GET public, the rest staff', async () => {
    const { fetcher } = await routesApp(table())
    const anonymous = new Client(fetcher)
    expect((await anonymous.get('/catalog/items')).status).toBe(200)
    expect((await anonymous.request('HEAD', '/catalog/items')).status).toBe(200)
    expect((await anonymous.post('/catalog/items', { json: {} })).status).toBe(401)
    const { client } = await loggedIn(fetcher)
    expect((await client.post('/catalog/items', { json: {} })).status).toBe(403)
    const { client: staff } = await loggedIn(fetcher, { is_staff: true })
    expect((await echo(await staff.post('/catalog/items', { json: { a: 1 } }))).method).toBe('POST')
  })

  it('answers 404 to a method no route takes', async () => {
    const { fetcher } = await routesApp([{ path: '/read/**', methods: ['GET'], access: 'public' }])
    const response = await new Client(fetcher).request('DELETE', '/read/x')
    expect(response.status).toBe(404)
  })
})

describe('ROUTES: who may pass', () => {
  it('answers 401 to anonymous visitors and 403 to users without the flag', async () => {
    const { fetcher } = await routesApp(table())
    expect((await new Client(fetcher).get('/root/x', JSON_ACCEPT)).status).toBe(401)
    const { client: staff } = await loggedIn(fetcher, { is_staff: true })
    const refused = await staff.get('/root/x')
    expect(refused.status).toBe(403)
    expect(await detail(refused)).toBe('You do not have permission to perform this action.')
    const { client: root } = await loggedIn(fetcher, { is_superuser: true })
    expect((await root.get('/root/x')).status).toBe(200)
  })

  it('redirects an anonymous browser navigation to the sign-in page, as without ROUTES', async () => {
    const { fetcher } = await routesApp(table())
    const response = await new Client(fetcher).get('/billing/x', {
      headers: { Accept: 'text/html' },
    })
    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe('/auth/login?next=%2Fbilling%2Fx')
  })

  it('needs one of the groups, on top of the flag', async () => {
    const { fetcher } = await routesApp(table())
    const accounts = testAccounts()
    const { client, user } = await loggedIn(fetcher, { is_staff: true })
    expect((await client.get('/admin/x')).status).toBe(403)
    const row = await accounts.users.getById(user.id)
    if (!row) throw new Error('no user')
    await accounts.setGroup(row, 'sre', true, CLI_ACTOR)
    expect((await client.get('/admin/x')).status).toBe(200)
    const { client: notStaff, user: other } = await loggedIn(fetcher)
    const otherRow = await accounts.users.getById(other.id)
    if (!otherRow) throw new Error('no user')
    await accounts.setGroup(otherRow, 'ops', true, CLI_ACTOR)
    expect((await notStaff.get('/admin/x')).status).toBe(403)
  })

  it('sees a group change on the live session at once, both ways, and in the assertion', async () => {
    const { fetcher } = await routesApp([{ path: '/reports/**', groups: ['finance'] }])
    const accounts = testAccounts()
    const { client, user } = await loggedIn(fetcher)
    expect((await client.get('/reports/q1')).status).toBe(403)
    const before = await accounts.users.getById(user.id)
    if (!before) throw new Error('no user')
    const added = await accounts.setGroup(before, 'finance', true, CLI_ACTOR)
    expect(added.rewritten).toBe(1)
    const seen = await echo(await client.get('/reports/q1'))
    expect(decodeJwt(seen.headers['x-auth-assertion'] ?? '').groups).toEqual(['finance'])
    const me = (await (await client.get('/auth/me')).json()) as { user: { groups: string[] } }
    expect(me.user.groups).toEqual(['finance'])
    await accounts.setGroup(added.user ?? before, 'finance', false, CLI_ACTOR)
    expect((await client.get('/reports/q1')).status).toBe(403)
  })

  it('needs a multi-factor sign-in on an mfa route: 401, then 403, then 200', async () => {
    const { fetcher } = await routesApp(table())
    expect((await new Client(fetcher).get('/vault/x', JSON_ACCEPT)).status).toBe(401)
    const { client } = await loggedIn(fetcher)
    const refused = await client.get('/vault/x')
    expect(refused.status).toBe(403)
    expect(await detail(refused)).toBe('Multi-factor authentication required.')
    await setAmr(client, ['pwd', 'otp', 'mfa'])
    const seen = await echo(await client.get('/vault/x'))
    expect(decodeJwt(seen.headers['x-auth-assertion'] ?? '').amr).toEqual(['pwd', 'otp', 'mfa'])
  })

  it('answers 403 without the flag before asking for a second factor', async () => {
    const { fetcher } = await routesApp([{ path: '/keys/**', access: 'staff', mfa: true }])
    const { client } = await loggedIn(fetcher)
    const response = await client.get('/keys/1')
    expect(await detail(response)).toBe('You do not have permission to perform this action.')
  })
})

describe('MFA_PATHS', () => {
  it('needs mfa in the session amr on matching proxied paths, every spelling', async () => {
    const { fetcher } = await gatewayApp({ MFA_PATHS: '/keys/**', PUBLIC_PATHS: '/open/**' })
    const { client } = await loggedIn(fetcher)
    expect((await echo(await client.get('/api/x'))).url).toBe('/api/x')
    for (const path of ['/keys/1', '/KEYS/1', '/keys;x/1', '/open/..;/keys/1']) {
      const response = await client.get(path)
      expect(response.status, path).toBe(403)
      expect(await detail(response)).toBe('Multi-factor authentication required.')
    }
    await setAmr(client, ['hwk', 'mfa'])
    expect((await client.get('/keys/1')).status).toBe(200)
  })

  it('answers 401 to an anonymous visitor, even on a public path under MFA_PATHS', async () => {
    const { fetcher } = await gatewayApp({ MFA_PATHS: '/open/vault/**', PUBLIC_PATHS: '/open/**' })
    const anonymous = new Client(fetcher)
    expect((await anonymous.get('/open/vault/x', JSON_ACCEPT)).status).toBe(401)
    expect((await anonymous.get('/open/x')).status).toBe(200)
  })

  it('applies to /auth/verify too', async () => {
    const { fetcher } = await gatewayApp({ MFA_PATHS: '/keys/**' })
    const { client } = await loggedIn(fetcher)
    const headers = { 'X-Original-URI': '/keys/1' }
    const refused = await client.get('/auth/verify', { headers })
    expect(refused.status).toBe(403)
    expect(await detail(refused)).toBe('Multi-factor authentication required.')
    await setAmr(client, ['pwd', 'otp', 'mfa'])
    expect((await client.get('/auth/verify', { headers })).status).toBe(200)
  })
})

describe('ROUTES and /auth/verify', () => {
  it('applies the same table to the URI, with the method the proxy passes on', async () => {
    const { fetcher } = await routesApp(table())
    const anonymous = new Client(fetcher)
    const ask = (client: Client, headers: Record<string, string>) =>
      client.get('/auth/verify', { headers })
    expect((await ask(anonymous, { 'X-Forwarded-Uri': '/health' })).status).toBe(200)
    expect((await ask(anonymous, { 'X-Forwarded-Uri': '/nowhere' })).status).toBe(404)
    const get = { 'X-Forwarded-Uri': '/catalog/a', 'X-Forwarded-Method': 'GET' }
    expect((await ask(anonymous, get)).status).toBe(200)
    const post = { 'X-Original-URI': '/catalog/a', 'X-Original-Method': 'POST' }
    expect((await ask(anonymous, post)).status).toBe(401)
    // Unknown method: the answer must hold for any, so a user is needed.
    expect((await ask(anonymous, { 'X-Original-URI': '/catalog/a' })).status).toBe(401)
    // Two methods (a header from the client passed on): the stricter.
    const { client } = await loggedIn(fetcher)
    const both = { ...get, 'X-Original-Method': 'DELETE' }
    expect((await ask(client, both)).status).toBe(403)
    const bad = { 'X-Forwarded-Uri': '/health', 'X-Forwarded-Method': 'G E T' }
    expect((await ask(anonymous, bad)).status).toBe(400)
  })

  it('answers 400 when readings of the URI reach different origins', async () => {
    const { fetcher } = await routesApp([...table(), { path: '/app/**' }])
    const { client } = await loggedIn(fetcher)
    const response = await client.get('/auth/verify', {
      headers: { 'X-Original-URI': '/app/..;/billing/x' },
    })
    expect(response.status).toBe(400)
  })

  it('makes the assertion out to the route’s origin', async () => {
    const { fetcher } = await routesApp(table())
    const { client } = await loggedIn(fetcher)
    const response = await client.get('/auth/verify', {
      headers: { 'X-Original-URI': '/billing/x' },
    })
    expect(decodeJwt(response.headers.get('X-Auth-Assertion') ?? '').aud).toBe(secondOriginUrl())
  })
})

describe('ROUTES at start-up', () => {
  it('refuses ROUTES beside PUBLIC_PATHS at start-up, naming ROUTES', () => {
    const bindings = { ...env, ROUTES: '[{"path": "/**"}]', PUBLIC_PATHS: '/x' } as Env
    expect(() => createApp(loadConfig(bindings), { hashers })).toThrow(
      'Improperly configured: ROUTES cannot be set together with PUBLIC_PATHS: put those paths in the route table.',
    )
  })

  it('needs ASSERTION_KEYS for a route origin, as for ORIGIN_URL', () => {
    const routes = JSON.stringify([{ path: '/**', origin: 'http://127.0.0.1:9' }])
    const bindings = { ...env, ROUTES: routes } as Env
    expect(() => createApp(loadConfig(bindings), { hashers })).toThrow(/ASSERTION_KEYS/)
  })

  it('proxies nothing for routes without an origin (forward-auth only): 404', async () => {
    const { fetcher } = await routesApp([{ path: '/**', access: 'public' }], { ORIGIN_URL: '' })
    expect((await new Client(fetcher).get('/x')).status).toBe(404)
    const verified = await new Client(fetcher).get('/auth/verify', {
      headers: { 'X-Original-URI': '/x' },
    })
    expect(verified.status).toBe(200)
  })
})
