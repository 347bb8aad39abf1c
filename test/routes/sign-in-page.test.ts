/**
 * The HTML sign-in page and the form flow of /auth/login and /auth/logout (`next`), and the whole
 * browser journey through the gateway: protected page → sign-in → back to the page.
 */
import { describe, expect, it } from 'vitest'
import { type Echo, gatewayApp, loggedIn } from '../gateway/helpers'
import { appFetch, Client, createUser, setCookie } from '../helpers'

/** The value of a hidden input in a rendered page. */
function hidden(html: string, name: string): string {
  const match = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(html)
  if (!match) throw new Error(`no hidden ${name} in ${html}`)
  return match[1] as string
}

/** Decodes the HTML escapes Hono's JSX writes in attribute values. */
function htmlDecode(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

/** Loads the sign-in page and posts its form as a browser would. */
async function signIn(client: Client, fields: Record<string, string>, next = '/dashboard') {
  const page = await client.get(`/auth/login?next=${encodeURIComponent(next)}`)
  const html = await page.text()
  return client.post('/auth/login', {
    form: {
      csrfmiddlewaretoken: hidden(html, 'csrfmiddlewaretoken'),
      next: htmlDecode(hidden(html, 'next')),
      ...fields,
    },
    headers: { Origin: 'http://localhost', Accept: 'text/html' },
    csrf: false,
  })
}

describe('GET /auth/login', () => {
  it('renders an accessible sign-in form with the CSRF token and next', async () => {
    const client = new Client()
    const response = await client.get('/auth/login?next=%2Freports%3Fy%3D1')
    expect(response.status).toBe(200)
    expect(response.headers.get('Content-Type')).toMatch(/^text\/html/)
    expect(response.headers.get('Cache-Control')).toBe('no-store')
    expect(response.headers.get('Content-Security-Policy')).toContain("frame-ancestors 'none'")
    expect(setCookie(response, 'csrftoken')).toBeDefined()
    const html = await response.text()
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(html).toContain('<html lang="en">')
    expect(html).toContain('<label for="username">Username</label>')
    expect(html).toContain('<label for="password">Password</label>')
    expect(html).toMatch(/<input id="username"[^>]* autofocus/)
    expect(html).toMatch(/<input id="password"[^>]* type="password"/)
    expect(html).toContain('<form method="post" action="/auth/login">')
    expect(hidden(html, 'csrfmiddlewaretoken')).toMatch(/^[a-zA-Z0-9]{64}$/)
    expect(hidden(html, 'next')).toBe('/reports?y=1')
    expect(html).not.toContain('role="alert"')
    // One script, the Worker's own file: nothing inline.
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="/auth/sign-in.js" defer="">'])
    expect(html).toContain('</script></head>')
  })

  it('escapes a hostile next instead of rendering it', async () => {
    const html = await (
      await new Client().get(
        `/auth/login?next=${encodeURIComponent('"><script>alert(1)</script>')}`,
      )
    ).text()
    expect(html).not.toContain('<script>')
    expect(hidden(html, 'next')).toContain('&quot;&gt;&lt;script&gt;')
  })

  it('shows a signed-in visitor who they are and a sign-out form', async () => {
    const user = await createUser({ email: 'who@example.com' })
    const client = new Client()
    await client.login(user.username, user.password)
    const html = await (await client.get('/auth/login?next=/x')).text()
    expect(html).toContain(`<strong>${user.username}</strong>`)
    expect(html).toContain('<form method="post" action="/auth/logout">')
    expect(hidden(html, 'next')).toBe('/auth/login')
    expect(hidden(html, 'csrfmiddlewaretoken')).toMatch(/^[a-zA-Z0-9]{64}$/)
    expect(html).toContain('<a href="/x">Continue</a>')
  })
})

describe('POST /auth/login as a form with next', () => {
  it('logs in and redirects (302) to a same-origin next', async () => {
    const user = await createUser()
    const client = new Client()
    const response = await signIn(client, { username: user.username, password: user.password })
    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe('/dashboard')
    expect(setCookie(response, 'sessionid')).toMatch(/^sessionid=[a-z0-9]{32,}/)
    expect((await client.get('/auth/me')).status).toBe(200)
  })

  it.each([
    '//evil.example/x',
    'https://evil.example/',
    '/\\evil.example',
    '/\t/evil.example',
    'javascript:alert(1)',
  ])('redirects to / instead of the unsafe next %j', async (next) => {
    const user = await createUser()
    const response = await signIn(
      new Client(),
      { username: user.username, password: user.password },
      next,
    )
    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe('/')
  })

  it('shows the form again (400) with the error, the same next and the username', async () => {
    const user = await createUser()
    const client = new Client()
    const response = await signIn(client, { username: user.username, password: 'wrong' }, '/r?a=1')
    expect(response.status).toBe(400)
    expect(response.headers.get('Content-Type')).toMatch(/^text\/html/)
    const html = await response.text()
    expect(html).toContain(
      '<p id="login-error" class="error" role="alert">Unable to log in with provided credentials.</p>',
    )
    expect(html).toMatch(
      /<input id="username"[^>]* aria-invalid="true" aria-describedby="login-error"/,
    )
    expect(hidden(html, 'next')).toBe('/r?a=1')
    expect(html).toContain(`value="${user.username}"`)
    expect(client.cookies.has('sessionid')).toBe(false)
  })

  it('shows the form again (400) when a field is missing', async () => {
    const response = await signIn(new Client(), { username: 'someone' })
    expect(response.status).toBe(400)
    expect(await response.text()).toContain('role="alert">Enter your username and password.</p>')
  })

  it('shows the form again (429) with Retry-After when throttled', async () => {
    const fetcher = appFetch({ LOGIN_FAILURE_LIMIT: '1' })
    const user = await createUser()
    const client = new Client(fetcher)
    expect((await signIn(client, { username: user.username, password: 'bad' })).status).toBe(400)
    const response = await signIn(client, { username: user.username, password: user.password })
    expect(response.status).toBe(429)
    expect(response.headers.get('Retry-After')).toMatch(/^\d+$/)
    expect(await response.text()).toContain('Request was throttled.')
  })

  it('accepts a multipart form', async () => {
    const user = await createUser()
    const client = new Client()
    const page = await (await client.get('/auth/login')).text()
    const body = new FormData()
    body.set('csrfmiddlewaretoken', hidden(page, 'csrfmiddlewaretoken'))
    body.set('next', '/after')
    body.set('username', user.username)
    body.set('password', user.password)
    const response = await client.post('/auth/login', { body, csrf: false })
    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe('/after')
  })

  it('keeps answering JSON to a JSON login and to a form login without next', async () => {
    const user = await createUser()
    const json = await new Client().post('/auth/login', {
      json: { username: user.username, password: user.password, next: '/x' },
    })
    expect(json.status).toBe(200)
    expect(((await json.json()) as { user: { id: number } }).user.id).toBe(user.id)
    const form = await new Client().post('/auth/login', {
      form: { username: user.username, password: user.password },
    })
    expect(form.status).toBe(200)
    expect(form.headers.get('Content-Type')).toMatch(/^application\/json/)
  })
})

describe('POST /auth/logout as a form with next', () => {
  it('logs out and redirects (302) to the safe next', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const page = await (await client.get('/auth/login')).text()
    const response = await client.post('/auth/logout', {
      form: { csrfmiddlewaretoken: hidden(page, 'csrfmiddlewaretoken'), next: '/auth/login' },
      csrf: false,
    })
    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe('/auth/login')
    expect((await client.get('/auth/me')).status).toBe(401)
  })

  it('redirects to / for an unsafe next', async () => {
    const response = await new Client().post('/auth/logout', {
      form: { next: '//evil.example' },
    })
    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe('/')
  })

  it('answers 403 and keeps the session when the form has no CSRF token', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const response = await client.post('/auth/logout', { form: { next: '/' }, csrf: false })
    expect(response.status).toBe(403)
    expect((await client.get('/auth/me')).status).toBe(200)
  })
})

describe('the browser journey through the gateway', () => {
  it('goes from a protected page to sign-in and back, then out again', async () => {
    const { fetcher } = await gatewayApp()
    const user = await createUser({ email: 'journey@example.com' })
    const client = new Client(fetcher)
    const html = { Accept: 'text/html' }

    const protectedPage = await client.get('/app/orders?open=1', { headers: html })
    expect(protectedPage.status).toBe(302)
    const location = protectedPage.headers.get('Location') as string
    const next = new URL(location, 'http://localhost').searchParams.get('next') as string
    expect(next).toBe('/app/orders?open=1')

    const signedIn = await signIn(
      client,
      { username: user.username, password: user.password },
      next,
    )
    expect(signedIn.headers.get('Location')).toBe('/app/orders?open=1')

    const landed = await client.get('/app/orders?open=1', { headers: html })
    const seen = (await landed.json()) as Echo
    expect(seen.url).toBe('/app/orders?open=1')
    expect(seen.headers['x-auth-username']).toBe(user.username)

    const page = await (await client.get('/auth/login')).text()
    const out = await client.post('/auth/logout', {
      form: { csrfmiddlewaretoken: hidden(page, 'csrfmiddlewaretoken'), next: '/auth/login' },
      csrf: false,
    })
    expect(out.headers.get('Location')).toBe('/auth/login')
    expect((await client.get('/app/orders', { headers: html })).status).toBe(302)
  })

  it('leaves the session cookie out of the origin’s view after a form sign-in', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const seen = (await (await client.get('/x')).json()) as Echo
    expect(seen.headers.cookie ?? '').not.toContain('sessionid')
  })
})
