/**
 * `GET /auth/verify`: forward-auth for nginx `auth_request`, Traefik ForwardAuth and Caddy
 * `forward_auth`, with the policy applied to the original URI.
 */
import { createLocalJWKSet, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { gatewayApp, loggedIn, privateJwk } from './gateway-helpers'
import { appFetch, Client } from './helpers'

describe('GET /auth/verify', () => {
  it('answers 401 JSON, not cacheable, to an anonymous request', async () => {
    const { fetcher } = await gatewayApp()
    const response = await new Client(fetcher).get('/auth/verify')
    expect(response.status).toBe(401)
    expect(response.headers.get('Cache-Control')).toBe('no-store')
    expect(((await response.json()) as { detail: string }).detail).toBe(
      'Authentication credentials were not provided.',
    )
  })

  it('answers 200 with the identity headers and no-store for a logged-in user', async () => {
    const { fetcher } = await gatewayApp()
    const { client, user } = await loggedIn(fetcher)
    const response = await client.get('/auth/verify')
    expect(response.status).toBe(200)
    expect(response.headers.get('Cache-Control')).toBe('no-store')
    expect(response.headers.get('X-Auth-User-Id')).toBe(String(user.id))
    expect(response.headers.get('X-Auth-Username')).toBe(user.username)
    const jwks = (await (await client.get('/.well-known/jwks.json')).json()) as never
    const { payload } = await jwtVerify(
      response.headers.get('X-Auth-Assertion') as string,
      createLocalJWKSet(jwks),
      { algorithms: ['ES256'] },
    )
    expect(payload.sub).toBe(String(user.id))
  })

  it('answers 403 on a STAFF_PATHS X-Original-URI (nginx) for a non-staff user', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS: '/admin/**' })
    const { client } = await loggedIn(fetcher)
    const refused = await client.get('/auth/verify', {
      headers: { 'X-Original-URI': '/admin/users?page=2' },
    })
    expect(refused.status).toBe(403)
    expect(refused.headers.get('X-Auth-Assertion')).toBeNull()
    const allowed = await client.get('/auth/verify', { headers: { 'X-Original-URI': '/app' } })
    expect(allowed.status).toBe(200)
  })

  it('applies the policy to X-Forwarded-Uri (Traefik, Caddy), staff allowed', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS: '/admin/**' })
    const { client } = await loggedIn(fetcher)
    const headers = { 'X-Forwarded-Uri': '/%61dmin/' }
    expect((await client.get('/auth/verify', { headers })).status).toBe(403)
    const { client: staff } = await loggedIn(fetcher, { is_staff: true })
    expect((await staff.get('/auth/verify', { headers })).status).toBe(200)
  })

  it('answers 200 without identity to an anonymous request for a public URI', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/static/**' })
    const response = await new Client(fetcher).get('/auth/verify', {
      headers: { 'X-Original-URI': '/static/app.css' },
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('X-Auth-User-Id')).toBeNull()
    expect(response.headers.get('X-Auth-Assertion')).toBeNull()
  })

  it('takes the stricter of X-Original-URI and X-Forwarded-Uri, so a client cannot relax it', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS: '/admin/**', PUBLIC_PATHS: '/public/**' })
    const { client } = await loggedIn(fetcher)
    const spoofed = await client.get('/auth/verify', {
      headers: { 'X-Forwarded-Uri': '/admin/users', 'X-Original-URI': '/public/x' },
    })
    expect(spoofed.status).toBe(403)
    const anonymous = await new Client(fetcher).get('/auth/verify', {
      headers: { 'X-Original-URI': '/app', 'X-Forwarded-Uri': '/public/x' },
    })
    expect(anonymous.status).toBe(401)
  })

  it('fails closed (403) on an original URI that is not a path', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const response = await client.get('/auth/verify', { headers: { 'X-Original-URI': '*' } })
    expect(response.status).toBe(403)
  })

  it('works without ORIGIN_URL (forward-auth only), the audience defaulting to the issuer', async () => {
    const key = await privateJwk()
    const fetcher = appFetch({ ORIGIN_URL: '', ASSERTION_KEYS: JSON.stringify(key) })
    const { client } = await loggedIn(fetcher)
    const response = await client.get('/auth/verify')
    expect(response.status).toBe(200)
    const jwks = (await (await client.get('/.well-known/jwks.json')).json()) as never
    const { payload } = await jwtVerify(
      response.headers.get('X-Auth-Assertion') as string,
      createLocalJWKSet(jwks),
      { issuer: 'sessiongate', audience: 'sessiongate' },
    )
    expect(payload.iss).toBe('sessiongate')
  })

  it('answers 500 naming ASSERTION_KEYS when it must sign without keys', async () => {
    const fetcher = appFetch({ ORIGIN_URL: '' })
    const { client } = await loggedIn(fetcher)
    const response = await client.get('/auth/verify')
    expect(response.status).toBe(500)
    expect(await response.text()).toContain('ASSERTION_KEYS')
  })

  it('answers 405 to a POST', async () => {
    const { fetcher } = await gatewayApp()
    const response = await new Client(fetcher).post('/auth/verify')
    expect(response.status).toBe(405)
  })
})
