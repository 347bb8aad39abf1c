/**
 * CORS_ALLOWED_ORIGINS through the app: a browser app on a listed origin signs in and calls the
 * /auth API and the proxied API with credentials, its preflights answered at the gateway; every
 * answer it gets (401s, 403s and other errors included) carries the CORS headers; other origins
 * get none, and cannot sign in cross-site.
 */
import { describe, expect, it } from 'vitest'
import { CORS_ALLOW_HEADERS } from '../../src/cors'
import { gatewayApp, loggedIn } from '../gateway/helpers'
import { appFetch, Client, createUser } from '../helpers'

const APP = 'https://app.example.com'
const EVIL = 'https://evil.example.com'

/** What a browser sends with a cross-site fetch from `origin`. */
function from(origin: string, headers: Record<string, string> = {}) {
  return { Origin: origin, 'Sec-Fetch-Site': 'cross-site', Accept: 'application/json', ...headers }
}

function corsHeaders(response: Response) {
  return {
    origin: response.headers.get('Access-Control-Allow-Origin'),
    credentials: response.headers.get('Access-Control-Allow-Credentials'),
  }
}

const ALLOWED = { origin: APP, credentials: 'true' }
const NONE = { origin: null, credentials: null }

function corsApp() {
  return gatewayApp({ CORS_ALLOWED_ORIGINS: APP, STAFF_PATHS: '/admin/**' })
}

describe('preflight requests', () => {
  it('answers 204 to a listed origin without a session, allowing X-CSRFToken and Content-Type', async () => {
    const { fetcher } = await corsApp()
    for (const path of ['/auth/login', '/api/items', '/admin/users']) {
      const response = await new Client(fetcher).request('OPTIONS', path, {
        headers: from(APP, {
          'Access-Control-Request-Method': 'PATCH',
          'Access-Control-Request-Headers': 'content-type,x-csrftoken',
        }),
      })
      expect(response.status, path).toBe(204)
      expect(corsHeaders(response)).toEqual(ALLOWED)
      const allowHeaders = response.headers.get('Access-Control-Allow-Headers') ?? ''
      expect(allowHeaders).toContain('X-CSRFToken')
      expect(allowHeaders).toContain('Content-Type')
      expect(response.headers.get('Access-Control-Allow-Methods')).toContain('PATCH')
      expect(response.headers.get('Vary')).toContain('Origin')
      expect(response.headers.get('X-Origin')).toBeNull()
      expect(response.headers.getSetCookie()).toEqual([])
    }
  })

  it('allows the method asked for, as asked, but never TRACE', async () => {
    const { fetcher } = await corsApp()
    const ask = async (method: string) => {
      const response = await new Client(fetcher).request('OPTIONS', '/api/x', {
        headers: from(APP, { 'Access-Control-Request-Method': method }),
      })
      return response.headers.get('Access-Control-Allow-Methods')?.split(', ') ?? []
    }
    expect(await ask('patch')).toContain('patch')
    expect(await ask('PROPFIND')).toContain('PROPFIND')
    expect(await ask('TRACE')).not.toContain('TRACE')
  })

  it('gives another origin no CORS headers: its preflight is an ordinary request', async () => {
    const { fetcher } = await corsApp()
    const proxied = await new Client(fetcher).request('OPTIONS', '/api/items', {
      headers: from(EVIL, { 'Access-Control-Request-Method': 'POST' }),
    })
    expect(proxied.status).toBe(401)
    expect(corsHeaders(proxied)).toEqual(NONE)
    expect(proxied.headers.get('Access-Control-Allow-Headers')).toBeNull()
    const auth = await new Client(fetcher).request('OPTIONS', '/auth/login', {
      headers: from(EVIL, { 'Access-Control-Request-Method': 'POST' }),
    })
    expect(corsHeaders(auth)).toEqual(NONE)
  })

  it('lists the headers django-cors-headers allows', () => {
    expect(CORS_ALLOW_HEADERS).toEqual(
      expect.arrayContaining(['Content-Type', 'X-CSRFToken', 'Authorization']),
    )
  })
})

describe('a browser app on a listed origin', () => {
  it('signs in cross-site, then calls the /auth API and the origin with credentials', async () => {
    const { fetcher } = await corsApp()
    const user = await createUser()
    const client = new Client(fetcher)
    const csrf = await client.get('/auth/csrf', { headers: from(APP) })
    expect(corsHeaders(csrf)).toEqual(ALLOWED)
    const login = await client.post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: from(APP),
    })
    expect(login.status).toBe(200)
    expect(corsHeaders(login)).toEqual(ALLOWED)
    const me = await client.get('/auth/me', { headers: from(APP) })
    expect(me.status).toBe(200)
    expect(corsHeaders(me)).toEqual(ALLOWED)
    expect(me.headers.get('Vary')).toMatch(/Origin/)
    const proxied = await client.get('/api/items', { headers: from(APP) })
    expect(proxied.status).toBe(200)
    expect(corsHeaders(proxied)).toEqual(ALLOWED)
    // An unsafe call from the app still needs the token: it reads the new one (rotated at
    // sign-in) from /auth/csrf, as it cannot read the gateway's cookie.
    const { csrfToken } = (await (
      await client.get('/auth/csrf', { headers: from(APP) })
    ).json()) as {
      csrfToken: string
    }
    const withoutToken = await client.post('/api/items', {
      json: {},
      csrf: false,
      headers: from(APP),
    })
    expect(withoutToken.status).toBe(403)
    expect(corsHeaders(withoutToken)).toEqual(ALLOWED)
    const withToken = await client.post('/api/items', {
      json: {},
      headers: from(APP, { 'X-CSRFToken': csrfToken }),
    })
    expect(withToken.status).toBe(200)
  })

  it('can read its 401s, 403s and other errors', async () => {
    const { fetcher } = await corsApp()
    const anonymous = await new Client(fetcher).get('/api/items', { headers: from(APP) })
    expect(anonymous.status).toBe(401)
    expect(corsHeaders(anonymous)).toEqual(ALLOWED)
    const { client } = await loggedIn(fetcher)
    const forbidden = await client.get('/admin/users', { headers: from(APP) })
    expect(forbidden.status).toBe(403)
    expect(corsHeaders(forbidden)).toEqual(ALLOWED)
    const badPath = await client.get('/api/%zz', { headers: from(APP) })
    expect(badPath.status).toBe(400)
    expect(corsHeaders(badPath)).toEqual(ALLOWED)
    const wrongMethod = await client.request('PUT', '/auth/me', { headers: from(APP) })
    expect(wrongMethod.status).toBe(405)
    expect(corsHeaders(wrongMethod)).toEqual(ALLOWED)
  })

  it('gets the gateway’s CORS headers, never the origin’s own', async () => {
    const { fetcher } = await corsApp()
    const { client } = await loggedIn(fetcher)
    const listed = await client.get('/cors', { headers: from(APP) })
    expect(corsHeaders(listed)).toEqual(ALLOWED)
    const other = await client.get('/cors', { headers: from(EVIL) })
    expect(other.status).toBe(200)
    expect(corsHeaders(other)).toEqual(NONE)
  })
})

describe('other origins', () => {
  it('get no CORS headers on any answer, and cannot sign in cross-site (403)', async () => {
    const { fetcher } = await corsApp()
    const user = await createUser()
    const client = new Client(fetcher)
    const login = await client.post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: from(EVIL),
    })
    expect(login.status).toBe(403)
    expect(corsHeaders(login)).toEqual(NONE)
    const csrf = await client.get('/auth/csrf', { headers: from(EVIL) })
    expect(corsHeaders(csrf)).toEqual(NONE)
    // Vary: Origin all the same, so a cache never hands them the listed origin's answer.
    expect(csrf.headers.get('Vary')).toContain('Origin')
  })

  it('are not told anything without CORS_ALLOWED_ORIGINS, and the origin’s headers pass', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const me = await client.get('/auth/me', { headers: from(APP) })
    expect(corsHeaders(me)).toEqual(NONE)
    const preflight = await new Client(appFetch()).request('OPTIONS', '/auth/login', {
      headers: from(APP, { 'Access-Control-Request-Method': 'POST' }),
    })
    expect(corsHeaders(preflight)).toEqual(NONE)
    const origin = await client.get('/cors', { headers: from(EVIL) })
    expect(origin.headers.get('Access-Control-Allow-Origin')).toBe(EVIL)
  })
})
