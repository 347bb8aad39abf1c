/**
 * The identity assertion as the origin receives it, verified with jose against the JWKS the app
 * itself serves; and the JWKS endpoint.
 */
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  jwtVerify,
} from 'jose'
import { describe, expect, it } from 'vitest'
import { appFetch, Client } from '../helpers'
import { type Echo, gatewayApp, loggedIn, originUrl, privateJwk } from './helpers'

type Fetcher = (request: Request) => Promise<Response>

async function jwksOf(fetcher: Fetcher) {
  const response = await new Client(fetcher).get('/.well-known/jwks.json')
  return createLocalJWKSet(await response.json())
}

async function assertionFrom(client: Client, path = '/api/me'): Promise<string> {
  const seen = (await (await client.get(path)).json()) as Echo
  return seen.headers['x-auth-assertion'] as string
}

describe('GET /.well-known/jwks.json', () => {
  it('publishes the public keys, cacheable, without session work', async () => {
    const { fetcher, key } = await gatewayApp()
    const response = await new Client(fetcher).get('/.well-known/jwks.json', {
      headers: { Cookie: 'sessionid=abcdefghijklmnopqrstuvwxyz0123456789' },
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('Cache-Control')).toBe('public, max-age=300')
    expect(response.headers.get('Vary')).toBeNull()
    expect(response.headers.getSetCookie()).toEqual([])
    const { keys } = (await response.json()) as { keys: Record<string, string>[] }
    const { x, y, kid } = key
    expect(keys).toEqual([{ kty: 'EC', crv: 'P-256', x, y, kid, alg: 'ES256', use: 'sig' }])
    expect(JSON.stringify(keys)).not.toContain('"d"')
  })

  it('lists the current and previous keys, and signs with the first', async () => {
    const current = await privateJwk('current')
    const previous = await privateJwk('previous')
    const fetcher = appFetch({
      ORIGIN_URL: originUrl(),
      ASSERTION_KEYS: JSON.stringify([current, previous]),
    })
    const { keys } = (await (await new Client(fetcher).get('/.well-known/jwks.json')).json()) as {
      keys: { kid: string }[]
    }
    expect(keys.map((key) => key.kid)).toEqual(['current', 'previous'])
    const { client } = await loggedIn(fetcher)
    expect(decodeProtectedHeader(await assertionFrom(client)).kid).toBe('current')
  })

  it('answers 405 to other methods', async () => {
    const { fetcher } = await gatewayApp()
    const response = await new Client(fetcher).post('/.well-known/jwks.json')
    expect(response.status).toBe(405)
    expect(response.headers.get('Allow')).toBe('GET, HEAD, OPTIONS')
  })
})

describe('X-Auth-Assertion', () => {
  it('is an ES256 JWT with kid and every claim, valid for 60 s', async () => {
    const started = Date.now()
    const { fetcher, key } = await gatewayApp()
    const { client, user } = await loggedIn(fetcher, {
      email: 'ada@example.com',
      is_staff: true,
    })
    const token = await assertionFrom(client)
    const { payload, protectedHeader } = await jwtVerify(token, await jwksOf(fetcher), {
      issuer: 'sessiongate',
      audience: originUrl(),
      algorithms: ['ES256'],
    })
    expect(protectedHeader).toEqual({
      alg: 'ES256',
      kid: key.kid,
      typ: 'JWT',
    })
    expect(payload).toEqual({
      iss: 'sessiongate',
      aud: originUrl(),
      sub: String(user.id),
      preferred_username: user.username,
      email: 'ada@example.com',
      email_verified: false,
      is_staff: true,
      is_superuser: false,
      groups: [],
      amr: ['pwd'],
      client_ip: 'unknown',
      iat: expect.any(Number),
      exp: (payload.iat as number) + 60,
      jti: expect.stringMatching(/^[A-Za-z0-9]{22}$/),
    })
    expect(payload.iat).toBeGreaterThanOrEqual(Math.floor(started / 1000))
    expect(payload.iat).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000))
  })

  it('carries the client address: behind a trusted proxy, its right-most X-Forwarded-For', async () => {
    const secret = 'trusted-proxy-secret-0123456789-abcdefghij'
    const { fetcher } = await gatewayApp({ TRUSTED_PROXY_SECRET: secret })
    const { client } = await loggedIn(fetcher)
    const claimsFor = async (headers: Record<string, string>) => {
      const echo = (await (await client.get('/api/me', { headers })).json()) as Echo
      const token = echo.headers['x-auth-assertion'] as string
      return { forwarded: echo.headers['x-forwarded-for'], payload: decodeJwt(token) }
    }
    const proxied = await claimsFor({
      'CF-Connecting-IP': '127.0.0.1',
      'X-Forwarded-For': '10.0.0.9, 198.51.100.23',
      'X-Trusted-Proxy-Secret': secret,
    })
    expect(proxied.payload.client_ip).toBe('198.51.100.23')
    expect(proxied.forwarded).toBe('198.51.100.23')
    const spoofed = await claimsFor({
      'CF-Connecting-IP': '127.0.0.1',
      'X-Forwarded-For': '198.51.100.23',
      'X-Trusted-Proxy-Secret': 'wrong-secret-0123456789-abcdefghijklmnopq',
    })
    expect(spoofed.payload.client_ip).toBe('127.0.0.1')
    expect(spoofed.forwarded).toBe('127.0.0.1')
  })

  it('is refused by a verifier once its 60 s have passed', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const token = await assertionFrom(client)
    const { payload } = await jwtVerify(token, await jwksOf(fetcher))
    const later = new Date(((payload as JWTPayload).exp as number) * 1000 + 1000)
    await expect(jwtVerify(token, await jwksOf(fetcher), { currentDate: later })).rejects.toThrow(
      /exp/,
    )
  })

  it('uses ASSERTION_ISSUER and ASSERTION_AUDIENCE when set', async () => {
    const { fetcher } = await gatewayApp({
      ASSERTION_ISSUER: 'https://gw.example.com',
      ASSERTION_AUDIENCE: 'orders-api',
    })
    const { client } = await loggedIn(fetcher)
    const { payload } = await jwtVerify(await assertionFrom(client), await jwksOf(fetcher), {
      issuer: 'https://gw.example.com',
      audience: 'orders-api',
    })
    expect(payload.aud).toBe('orders-api')
  })

  it('fails verification against another gateway’s keys', async () => {
    const { fetcher } = await gatewayApp()
    const { fetcher: other } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    await expect(jwtVerify(await assertionFrom(client), await jwksOf(other))).rejects.toThrow()
  })

  it('is reused within 30 s for the same session, and differs between sessions', async () => {
    let now = Date.now()
    const { fetcher } = await gatewayApp({}, () => now)
    const { client } = await loggedIn(fetcher)
    const first = await assertionFrom(client)
    expect(await assertionFrom(client)).toBe(first)
    const { client: other } = await loggedIn(fetcher)
    expect(await assertionFrom(other)).not.toBe(first)
    now += 31_000
    expect(await assertionFrom(client)).not.toBe(first)
  })

  it('carries a non-ASCII username in UTF-8, and percent-encoded in X-Auth-Username', async () => {
    const { fetcher } = await gatewayApp()
    const username = `Даша${crypto.randomUUID().slice(0, 6)}`
    const { client } = await loggedIn(fetcher, { username })
    const seen = (await (await client.get('/api/me')).json()) as Echo
    expect(decodeURIComponent(seen.headers['x-auth-username'] as string)).toBe(username)
    const { payload } = await jwtVerify(
      seen.headers['x-auth-assertion'] as string,
      await jwksOf(fetcher),
    )
    expect(payload.preferred_username).toBe(username)
  })

  it('measures the proxy’s overhead over a direct origin hit (logged, not asserted)', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const rounds = 100
    await client.get('/api/me')
    let started = performance.now()
    for (let i = 0; i < rounds; i++) await (await fetch(`${originUrl()}/api/me`)).arrayBuffer()
    const direct = (performance.now() - started) / rounds
    started = performance.now()
    for (let i = 0; i < rounds; i++) await (await client.get('/api/me')).arrayBuffer()
    const proxied = (performance.now() - started) / rounds
    console.log(
      `proxy: direct ${direct.toFixed(2)} ms, through the gateway ${proxied.toFixed(2)} ms ` +
        '(session read from local KV included)',
    )
    expect(proxied).toBeGreaterThan(0)
  })
})
