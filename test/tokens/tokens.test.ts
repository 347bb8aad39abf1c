import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { CLI_ACTOR } from '../../src/accounts'
import { tokenKvKey } from '../../src/tokens/key'
import { tokenSigner } from '../../src/tokens/record'
import type { TokenRow } from '../../src/tokens/repository'
import { TokenStore } from '../../src/tokens/store'
import { sha256Hex } from '../../src/utils/crypto'
import type { Echo } from '../gateway/helpers'
import { gatewayApp, loggedIn } from '../gateway/helpers'
import { appFetch, Client, createUser, testAccounts, workerFetch } from '../helpers'

interface Created {
  token: { id: string; name: string; created: string; expires: string | null; last_used: null }
  key: string
}

/** Signs a new user in and makes a token for them through the API. */
async function withToken(
  fetcher: ConstructorParameters<typeof Client>[0] = workerFetch,
  body: Record<string, unknown> = { name: 'ci' },
) {
  const { client, user } = await loggedIn(fetcher)
  const response = await client.post('/auth/tokens', { json: body })
  expect(response.status).toBe(201)
  const created = (await response.json()) as Created
  return { client, user, ...created }
}

/** A cookie-less request with `Authorization: <scheme> <key>`. */
function tokenRequest(
  key: string,
  path = '/auth/me',
  init: RequestInit & { scheme?: string; via?: (r: Request) => Promise<Response> } = {},
) {
  const { scheme = 'Token', via = workerFetch, ...rest } = init
  const headers = new Headers(rest.headers)
  headers.set('Authorization', `${scheme} ${key}`)
  return via(new Request(`http://localhost${path}`, { ...rest, headers }))
}

function store() {
  return new TokenStore(env.SESSIONS, tokenSigner([env.SECRET_KEY as string]))
}

async function detailOf(response: Response): Promise<string> {
  return ((await response.json()) as { detail: string }).detail
}

describe('POST /auth/tokens', () => {
  it('answers 201 with the token and its key, shown once and stored only as its SHA-256', async () => {
    const { key, token } = await withToken(workerFetch, { name: 'deploy bot' })
    // sgt_ + 40 characters of [A-Za-z0-9]: 238 bits.
    expect(key).toMatch(/^sgt_[A-Za-z0-9]{40}$/)
    expect(token).toMatchObject({ name: 'deploy bot', expires: null, last_used: null })
    expect(typeof token.id).toBe('string')
    const kvKey = `token:${await sha256Hex(key)}`
    const stored = await env.SESSIONS.get(kvKey)
    expect(stored).not.toBeNull()
    expect(stored).not.toContain(key)
    const row = await env.DB.prepare('SELECT * FROM api_tokens WHERE id = ?1')
      .bind(token.id)
      .first<TokenRow>()
    expect(row?.kv_key).toBe(kvKey)
    expect(JSON.stringify(row)).not.toContain(key.slice(4))
  })

  it('answers 400 for a missing or blank name and a bad expires_in', async () => {
    const { client } = await loggedIn(workerFetch)
    expect((await client.post('/auth/tokens', { json: {} })).status).toBe(400)
    expect((await client.post('/auth/tokens', { json: { name: '  ' } })).status).toBe(400)
    for (const expires_in of [0, -5, 1.5, '60', 10 ** 12]) {
      const response = await client.post('/auth/tokens', { json: { name: 'x', expires_in } })
      expect(response.status).toBe(400)
    }
  })

  it('answers 401 with WWW-Authenticate: Token when anonymous', async () => {
    const response = await new Client().post('/auth/tokens', { json: { name: 'x' } })
    expect(response.status).toBe(401)
    expect(response.headers.get('WWW-Authenticate')).toBe('Token')
  })

  it('records token_created and token_revoked without the key', async () => {
    const { client, key, token } = await withToken()
    expect((await client.request('DELETE', `/auth/tokens/${token.id}`)).status).toBe(204)
    const { events } = (await (await client.get('/auth/events')).json()) as {
      events: { type: string; detail: Record<string, unknown> }[]
    }
    const types = events.map((event) => event.type)
    expect(types).toContain('token_created')
    expect(types).toContain('token_revoked')
    expect(JSON.stringify(events)).not.toContain(key)
  })
})

describe('Authorization: Token', () => {
  it('authenticates /auth/me with Token or Bearer, amr ["token"], and sets no cookie', async () => {
    const { key, user } = await withToken()
    for (const scheme of ['Token', 'Bearer']) {
      const response = await tokenRequest(key, '/auth/me', { scheme })
      expect(response.status).toBe(200)
      const body = (await response.json()) as { user: { username: string }; amr: string[] }
      expect(body.user.username).toBe(user.username)
      expect(body.amr).toEqual(['token'])
      expect(response.headers.getSetCookie()).toEqual([])
    }
  })

  it('answers 401 "Invalid token." with WWW-Authenticate: Token for unknown or malformed keys', async () => {
    const unknown = `sgt_${'A'.repeat(40)}`
    for (const header of [
      `Token ${unknown}`,
      `Bearer ${unknown}`,
      'Token',
      'Token a b',
      'Token nope',
      // Two headers joined: the token is not the Basic credential's, and not the origin's.
      `Basic dXNlcjpwYXNz, Token ${unknown}`,
      `Basic dXNlcjpwYXNz, Bearer ${unknown}`,
    ]) {
      const response = await workerFetch(
        new Request('http://localhost/auth/me', { headers: { Authorization: header } }),
      )
      expect(response.status).toBe(401)
      expect(response.headers.get('WWW-Authenticate')).toBe('Token')
      expect(await detailOf(response)).toBe('Invalid token.')
    }
  })

  it('leaves other Authorization schemes alone (anonymous 401 with the Token challenge)', async () => {
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x']) {
      const response = await workerFetch(
        new Request('http://localhost/auth/me', { headers: { Authorization: header } }),
      )
      expect(response.status).toBe(401)
      expect(response.headers.get('WWW-Authenticate')).toBe('Token')
      expect(await detailOf(response)).toBe('Authentication credentials were not provided.')
    }
  })

  it('needs no CSRF token and no trusted Origin for unsafe requests', async () => {
    const { key } = await withToken()
    const response = await tokenRequest(key, '/auth/tokens', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Origin: 'https://evil.example',
        'Sec-Fetch-Site': 'cross-site',
      },
      body: JSON.stringify({ name: 'second' }),
    })
    expect(response.status).toBe(201)
  })

  it('answers 403 on endpoints that act on the browser session', async () => {
    const { key, user } = await withToken()
    const response = await tokenRequest(key, '/auth/password', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ old_password: user.password, new_password: 'violet-kettle-orbit-42' }),
    })
    expect(response.status).toBe(403)
  })

  it('lists tokens without keys, and a revoked token answers 401 at once', async () => {
    const { client, key, token } = await withToken()
    const list = (await (await client.get('/auth/tokens')).json()) as { tokens: { id: string }[] }
    expect(list.tokens.map((t) => t.id)).toEqual([token.id])
    expect(JSON.stringify(list)).not.toContain(key)
    expect((await client.request('DELETE', `/auth/tokens/${token.id}`)).status).toBe(204)
    expect((await tokenRequest(key)).status).toBe(401)
    expect((await client.request('DELETE', `/auth/tokens/${token.id}`)).status).toBe(404)
  })

  it("answers 404 for another user's token id", async () => {
    const { token } = await withToken()
    const { client } = await loggedIn(workerFetch)
    expect((await client.request('DELETE', `/auth/tokens/${token.id}`)).status).toBe(404)
  })

  it('stops authenticating once expires_in has passed', async () => {
    let now = Date.now()
    const fetcher = appFetch({}, () => now)
    const { key } = await withToken(fetcher, { name: 'short', expires_in: 120 })
    expect((await tokenRequest(key, '/auth/me', { via: fetcher })).status).toBe(200)
    now += 121_000
    const response = await tokenRequest(key, '/auth/me', { via: fetcher })
    expect(response.status).toBe(401)
    expect(await detailOf(response)).toBe('Invalid token.')
  })

  it('updates last_used in the background, at most once per 5 minutes', async () => {
    let now = Date.now()
    const fetcher = appFetch({}, () => now)
    const { key, token } = await withToken(fetcher)
    const lastUsed = () =>
      env.DB.prepare('SELECT last_used FROM api_tokens WHERE id = ?1')
        .bind(token.id)
        .first<number | null>('last_used')
    await tokenRequest(key, '/auth/me', { via: fetcher })
    const first = await lastUsed()
    expect(first).toBe(now)
    now += 60_000
    await tokenRequest(key, '/auth/me', { via: fetcher })
    expect(await lastUsed()).toBe(first)
    now += 5 * 60_000
    await tokenRequest(key, '/auth/me', { via: fetcher })
    expect(await lastUsed()).toBe(now)
  })
})

describe('token records in KV', () => {
  it('refuses a record copied under another key', async () => {
    const { key } = await withToken()
    const other = `sgt_${'B'.repeat(40)}`
    const text = await env.SESSIONS.get(await tokenKvKey(key))
    await env.SESSIONS.put(await tokenKvKey(other), text as string)
    expect((await tokenRequest(other)).status).toBe(401)
  })

  it('refuses a record whose expiry, user or snapshot was edited', async () => {
    let now = Date.now()
    const fetcher = appFetch({}, () => now)
    const { key } = await withToken(fetcher, { name: 'short', expires_in: 120 })
    const kvKey = await tokenKvKey(key)
    const text = (await env.SESSIONS.get(kvKey)) as string
    const record = JSON.parse(text) as { expiresAt: number; user: { is_staff: boolean } }
    for (const edited of [
      text.replace(
        `"expiresAt":${record.expiresAt}`,
        `"expiresAt":${record.expiresAt + 86_400_000}`,
      ),
      text.replace('"is_staff":false', '"is_staff":true'),
    ]) {
      expect(edited).not.toBe(text)
      await env.SESSIONS.put(kvKey, edited)
      expect((await tokenRequest(key, '/auth/me', { via: fetcher })).status).toBe(401)
    }
    // The sealed original still works until its own expiry, and not after.
    await env.SESSIONS.put(kvKey, text)
    expect((await tokenRequest(key, '/auth/me', { via: fetcher })).status).toBe(200)
    now += 121_000
    expect((await tokenRequest(key, '/auth/me', { via: fetcher })).status).toBe(401)
  })

  it('keeps the record sealed to its user: the store refuses one for another user', async () => {
    const { key, user } = await withToken()
    const kvKey = await tokenKvKey(key)
    const record = await store().load(kvKey)
    expect(record?.userId).toBe(user.id)
    const text = (await env.SESSIONS.get(kvKey)) as string
    await env.SESSIONS.put(kvKey, text.replace(`"userId":${user.id}`, `"userId":${user.id + 1}`))
    expect(await store().load(kvKey)).toBeNull()
  })
})

describe('tokens and changes to their user', () => {
  it('ends tokens when the user is deactivated or deleted', async () => {
    const accounts = testAccounts()
    for (const change of ['deactivate', 'delete'] as const) {
      const { key, user } = await withToken()
      const row = await accounts.users.getById(user.id)
      if (!row) throw new Error('no user')
      if (change === 'deactivate') await accounts.setFlags(row, { is_active: false }, CLI_ACTOR)
      else await accounts.delete(row, CLI_ACTOR)
      const response = await tokenRequest(key)
      expect(response.status).toBe(401)
      expect(await detailOf(response)).toBe('Invalid token.')
      expect(await env.SESSIONS.get(await tokenKvKey(key))).toBeNull()
    }
  })

  it('keeps tokens across a password change, as DRF does', async () => {
    const { client, key, user } = await withToken()
    const response = await client.post('/auth/password', {
      json: { old_password: user.password, new_password: 'violet-kettle-orbit-42' },
    })
    expect(response.status).toBe(200)
    expect((await tokenRequest(key)).status).toBe(200)
  })

  it('rewrites the snapshot on flag and group changes', async () => {
    const accounts = testAccounts()
    const { key, user } = await withToken()
    const row = await accounts.users.getById(user.id)
    if (!row) throw new Error('no user')
    await accounts.setFlags(row, { is_staff: true }, CLI_ACTOR)
    const after = await accounts.users.getById(user.id)
    if (!after) throw new Error('no user')
    await accounts.setGroup(after, 'editors', true, CLI_ACTOR)
    const me = (await (await tokenRequest(key)).json()) as {
      user: { is_staff: boolean; groups: string[] }
    }
    expect(me.user.is_staff).toBe(true)
    expect(me.user.groups).toEqual(['editors'])
  })

  it('refuses a token for an inactive user', async () => {
    const user = await createUser({ is_active: false })
    const accounts = testAccounts()
    await expect(
      accounts.createToken(user, { name: 'x', expiresIn: null }, CLI_ACTOR),
    ).rejects.toMatchObject({ status: 401 })
  })
})

describe('tokens at the gateway', () => {
  it('sends the identity headers with amr ["token"] and never the Authorization header', async () => {
    const { fetcher } = await gatewayApp()
    const { key, user } = await withToken(fetcher)
    const response = await tokenRequest(key, '/api/thing', { via: fetcher })
    expect(response.status).toBe(200)
    const echo = (await response.json()) as Echo
    expect(echo.headers['x-auth-user-id']).toBe(String(user.id))
    expect(echo.headers.authorization).toBeUndefined()
    const claims = decodeJwt(echo.headers['x-auth-assertion'] as string)
    expect(claims.amr).toEqual(['token'])
  })

  it('passes a Bearer credential that is not a gateway token on to the origin', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/open/**' })
    const response = await fetcher(
      new Request('http://localhost/open/x', { headers: { Authorization: 'Bearer origin-jwt' } }),
    )
    const echo = (await response.json()) as Echo
    expect(echo.headers.authorization).toBe('Bearer origin-jwt')
  })

  it('answers 401 with WWW-Authenticate: Token for an anonymous proxied request', async () => {
    const { fetcher } = await gatewayApp()
    const response = await fetcher(new Request('http://localhost/api/thing'))
    expect(response.status).toBe(401)
    expect(response.headers.get('WWW-Authenticate')).toBe('Token')
  })
})
