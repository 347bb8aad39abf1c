/**
 * `GET /auth/verify`: forward-auth for nginx `auth_request`, Traefik ForwardAuth and Caddy
 * `forward_auth`, with the policy applied to the original URI.
 */
import { createLocalJWKSet, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { appFetch, Client } from '../helpers'
import { gatewayApp, loggedIn, privateJwk } from './helpers'

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

  it('answers 400 "Bad request path." to an original URI that is not a path', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    for (const uri of ['*', 'admin', '']) {
      const response = await client.get('/auth/verify', { headers: { 'X-Original-URI': uri } })
      expect(response.status, uri).toBe(400)
      expect(((await response.json()) as { detail: string }).detail).toBe('Bad request path.')
      expect(response.headers.get('X-Auth-Assertion')).toBeNull()
    }
  })

  it('answers 400 to a URI header sent twice, whatever the order (joined by a comma)', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS: '/admin/**', PUBLIC_PATHS: '/public/**' })
    for (const values of [
      ['/public/x', '/admin/users'],
      ['/admin/users', '/public/x'],
      ['/public/x?next=1', '/admin'],
    ]) {
      for (const name of ['X-Original-URI', 'X-Forwarded-Uri']) {
        const headers = new Headers()
        for (const value of values) headers.append(name, value)
        const response = await fetcher(new Request('http://localhost/auth/verify', { headers }))
        expect(response.status, `${name}: ${values}`).toBe(400)
        expect(response.headers.get('X-Auth-User-Id')).toBeNull()
      }
    }
  })

  it('answers 400 to a raw comma anywhere in the URI, and reads an escaped one (200)', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/public/**' })
    const client = new Client(fetcher)
    for (const uri of ['/public/a,b', '/public/x?ids=1,2']) {
      const response = await client.get('/auth/verify', { headers: { 'X-Forwarded-Uri': uri } })
      expect(response.status, uri).toBe(400)
    }
    const escaped = await client.get('/auth/verify', {
      headers: { 'X-Forwarded-Uri': '/public/a%2Cb?ids=1%2C2' },
    })
    expect(escaped.status).toBe(200)
  })

  it.each([
    ['/admin;jsessionid=x/users', 'path parameters'],
    ['/public/..;/admin', '`..;`'],
    ['/public/../admin', 'a raw dot segment'],
    ['/public\\..\\admin', 'backslashes'],
    ['/ADMIN', 'upper case'],
    ['/admin./', 'a trailing dot'],
    ['/admin%20/x', 'a trailing space'],
    ['/%EF%BD%81dmin', 'a fullwidth letter'],
    ['//admin', 'a doubled slash'],
  ])('answers 403 to a non-staff user on the original URI %s (%s)', async (uri) => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS: '/admin/**', PUBLIC_PATHS: '/public/**' })
    const { client } = await loggedIn(fetcher)
    for (const name of ['X-Original-URI', 'X-Forwarded-Uri']) {
      const response = await client.get('/auth/verify', { headers: { [name]: uri } })
      expect(response.status, name).toBe(403)
    }
  })

  it.each([
    ['/%2561dmin', 'double encoding'],
    ['/admin%00', 'an escaped NUL'],
    ['/%C0%AE%C0%AE/admin', 'overlong UTF-8'],
    ['/a%zz', 'a malformed escape'],
    ['/public/.../admin', 'a dots-only segment'],
  ])('answers 400 to the original URI %s (%s), anonymous or not', async (uri) => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS: '/admin/**', PUBLIC_PATHS: '/public/**' })
    const { client } = await loggedIn(fetcher, { is_staff: true })
    for (const requester of [client, new Client(fetcher)]) {
      const response = await requester.get('/auth/verify', { headers: { 'X-Original-URI': uri } })
      expect(response.status).toBe(400)
      expect(((await response.json()) as { detail: string }).detail).toBe('Bad request path.')
    }
  })

  it('answers 401 to an anonymous request stepping out of a public prefix with `..;`', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/public/**' })
    const response = await new Client(fetcher).get('/auth/verify', {
      headers: { 'X-Original-URI': '/public/..;/app' },
    })
    expect(response.status).toBe(401)
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
