import { describe, expect, it } from 'vitest'
import { maskSecret, unmaskToken } from '../../src/csrf'
import { appFetch, Client, createUser, setCookie } from '../helpers'

async function loggedIn(client = new Client()) {
  const user = await createUser()
  await client.login(user.username, user.password)
  return client
}

async function detail(response: Response) {
  return ((await response.json()) as { detail: string }).detail
}

describe('GET /auth/csrf', () => {
  it('returns a masked token and sets a script-readable csrftoken cookie for a year', async () => {
    const client = new Client()
    const response = await client.get('/auth/csrf')
    expect(response.status).toBe(200)
    const { csrfToken } = (await response.json()) as { csrfToken: string }
    expect(csrfToken).toMatch(/^[a-zA-Z0-9]{64}$/)
    const cookie = setCookie(response, 'csrftoken') as string
    expect(cookie).toMatch(/^csrftoken=[a-zA-Z0-9]{32};/)
    expect(cookie).not.toContain('HttpOnly')
    expect(cookie).toContain('SameSite=Lax')
    expect(cookie).toContain('Max-Age=31449600')
    expect(unmaskToken(csrfToken)).toBe(client.cookies.get('csrftoken'))
    expect(response.headers.get('Cache-Control')).toBe('no-store')
  })

  it('keeps the secret of an existing cookie', async () => {
    const client = new Client()
    await client.get('/auth/csrf')
    const secret = client.cookies.get('csrftoken')
    await client.get('/auth/csrf')
    expect(client.cookies.get('csrftoken')).toBe(secret)
  })

  it('rotates the secret at login', async () => {
    const client = new Client()
    await client.get('/auth/csrf')
    const before = client.cookies.get('csrftoken')
    await loggedIn(client)
    expect(client.cookies.get('csrftoken')).toMatch(/^[a-zA-Z0-9]{32}$/)
    expect(client.cookies.get('csrftoken')).not.toBe(before)
  })
})

describe('the origin check', () => {
  it('answers 403 to an unsafe request the browser marks cross-site, naming a null origin', async () => {
    const user = await createUser()
    const response = await new Client().post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: { 'Sec-Fetch-Site': 'cross-site' },
    })
    expect(response.status).toBe(403)
    expect(await detail(response)).toBe(
      'CSRF Failed: Origin checking failed - null does not match any trusted origins.',
    )
  })

  it('answers 403 to a foreign Origin, on login too', async () => {
    const user = await createUser()
    const response = await new Client().post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: { Origin: 'https://evil.example' },
    })
    expect(response.status).toBe(403)
    expect(await detail(response)).toBe(
      'CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins.',
    )
  })

  it('accepts the request’s own origin and CSRF_TRUSTED_ORIGINS', async () => {
    const user = await createUser()
    const json = { username: user.username, password: user.password }
    const own = await new Client().post('/auth/login', {
      json,
      headers: { Origin: 'http://localhost', 'Sec-Fetch-Site': 'same-origin' },
    })
    expect(own.status).toBe(200)
    const trusted = new Client(appFetch({ CSRF_TRUSTED_ORIGINS: 'https://*.example.com' }))
    const response = await trusted.post('/auth/login', {
      json,
      headers: { Origin: 'https://app.example.com' },
    })
    expect(response.status).toBe(200)
  })

  it('answers 403 to the request’s own Origin when the browser says cross-site', async () => {
    const user = await createUser()
    const response = await new Client().post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: { Origin: 'http://localhost', 'Sec-Fetch-Site': 'cross-site' },
    })
    expect(response.status).toBe(403)
    expect(await detail(response)).toBe(
      'CSRF Failed: Origin checking failed - http://localhost does not match any trusted origins.',
    )
  })

  it('accepts a cross-site request from an origin trusted by name (200)', async () => {
    const user = await createUser()
    const trusted = new Client(appFetch({ CSRF_TRUSTED_ORIGINS: 'https://app.example.net' }))
    const response = await trusted.post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: { Origin: 'https://app.example.net', 'Sec-Fetch-Site': 'cross-site' },
    })
    expect(response.status).toBe(200)
  })

  it('never blocks safe methods, even cross-site', async () => {
    const response = await new Client().get('/auth/csrf', {
      headers: { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://evil.example' },
    })
    expect(response.status).toBe(200)
  })
})

describe('the token check for session-authenticated requests', () => {
  it('answers 403 "CSRF cookie not set." without the cookie', async () => {
    const client = await loggedIn()
    client.cookies.delete('csrftoken')
    const response = await client.request('PATCH', '/auth/session', { json: { data: { a: 1 } } })
    expect(response.status).toBe(403)
    expect(await detail(response)).toBe('CSRF Failed: CSRF cookie not set.')
  })

  it('answers 403 "CSRF token missing." without the header', async () => {
    const client = await loggedIn()
    const response = await client.request('PATCH', '/auth/session', {
      json: { data: { a: 1 } },
      csrf: false,
    })
    expect(response.status).toBe(403)
    expect(await detail(response)).toBe('CSRF Failed: CSRF token missing.')
  })

  it('answers 403 "CSRF token incorrect." for a wrong or malformed token', async () => {
    const client = await loggedIn()
    for (const token of ['a'.repeat(32), 'b'.repeat(64), 'not-a-token']) {
      const response = await client.request('PATCH', '/auth/session', {
        json: { data: { a: 1 } },
        headers: { 'X-CSRFToken': token },
      })
      expect(response.status).toBe(403)
      expect(await detail(response)).toBe('CSRF Failed: CSRF token incorrect.')
    }
  })

  it('accepts the token masked or unmasked, in the header or the form field', async () => {
    const client = await loggedIn()
    const secret = client.cookies.get('csrftoken') as string
    const masked = await client.request('PATCH', '/auth/session', {
      json: { data: { a: 1 } },
      headers: { 'X-CSRFToken': maskSecret(secret) },
    })
    expect(masked.status).toBe(200)
    const plain = await client.request('PATCH', '/auth/session', { json: { data: { a: 2 } } })
    expect(plain.status).toBe(200)
    const form = await client.post('/auth/logout', {
      form: { csrfmiddlewaretoken: maskSecret(secret) },
      csrf: false,
    })
    expect(form.status).toBe(200)
  })

  it('requires no token from an anonymous request (DRF enforces CSRF only for session auth)', async () => {
    const response = await new Client().post('/auth/logout', { csrf: false })
    expect(response.status).toBe(200)
  })

  it('requires the token for logout when logged in, and keeps the session on failure', async () => {
    const client = await loggedIn()
    const refused = await client.post('/auth/logout', { csrf: false })
    expect(refused.status).toBe(403)
    expect((await client.get('/auth/me')).status).toBe(200)
  })
})

describe('behind a TLS-terminating proxy', () => {
  const behindProxy = {
    SECURE_PROXY_SSL_HEADER: 'X-Forwarded-Proto',
    USE_X_FORWARDED_HOST: 'true',
  }
  const proxied = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'app.example.com' }

  it('signs in with the origin the browser sees when the proxy headers are trusted (200, Secure)', async () => {
    const user = await createUser()
    const client = new Client(appFetch(behindProxy), 'http://10.0.0.5:8787')
    const response = await client.post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: { ...proxied, Origin: 'https://app.example.com' },
    })
    expect(response.status).toBe(200)
    expect(setCookie(response, 'sessionid')).toContain('Secure')
  })

  it('ignores the proxy headers unless told to trust them (403 naming the origin)', async () => {
    const user = await createUser()
    const client = new Client(appFetch(), 'http://10.0.0.5:8787')
    const response = await client.post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: { ...proxied, Origin: 'https://app.example.com' },
    })
    expect(response.status).toBe(403)
    expect(await detail(response)).toBe(
      'CSRF Failed: Origin checking failed - https://app.example.com does not match any trusted origins.',
    )
  })
})
