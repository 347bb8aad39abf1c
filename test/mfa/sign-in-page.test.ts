/**
 * The HTML sign-in page's second step: the code form after the password, its errors, the
 * redirect to `next`, the passkey button and the script it runs, under a CSP with no inline
 * script.
 */
import { describe, expect, it } from 'vitest'
import { Client } from '../helpers'
import { type CreationOptions, SoftwareAuthenticator } from './authenticator'
import { clockedApp, enableTotp, signedInUser, TestClock, totpCode } from './helpers'

function hidden(html: string, name: string): string {
  const match = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(html)
  if (!match) throw new Error(`no hidden ${name} in ${html}`)
  return (match[1] as string).replace(/&amp;/g, '&')
}

async function setUp() {
  const clock = new TestClock()
  const fetcher = clockedApp(clock)
  const { user, client } = await signedInUser(fetcher)
  const { secret, codes } = await enableTotp(client, user.password, clock)
  return { clock, fetcher, user, secret, codes }
}

/** Loads the sign-in page, then posts the password form as a browser would. */
async function typePassword(client: Client, username: string, password: string, next = '/reports') {
  const page = await (await client.get(`/auth/login?next=${encodeURIComponent(next)}`)).text()
  return client.post('/auth/login', {
    form: { csrfmiddlewaretoken: hidden(page, 'csrfmiddlewaretoken'), next, username, password },
    headers: { Origin: 'http://localhost' },
    csrf: false,
  })
}

async function typeCode(client: Client, html: string, code: string) {
  return client.post('/auth/login/mfa', {
    form: {
      csrfmiddlewaretoken: hidden(html, 'csrfmiddlewaretoken'),
      next: hidden(html, 'next'),
      code,
    },
    headers: { Origin: 'http://localhost' },
    csrf: false,
  })
}

describe('the sign-in page with a second factor', () => {
  it('shows the code form after the right password, with next kept, and signs in on the code', async () => {
    const { clock, fetcher, user, secret } = await setUp()
    const client = new Client(fetcher)
    const step = await typePassword(client, user.username, user.password)
    expect(step.status).toBe(200)
    expect(step.headers.get('Content-Type')).toMatch(/^text\/html/)
    const html = await step.text()
    expect(html).toContain('<h1>Two-step verification</h1>')
    expect(html).toContain('<form method="post" action="/auth/login/mfa">')
    expect(html).toMatch(/<input id="code" name="code"[^>]* autocomplete="one-time-code"/)
    expect(hidden(html, 'next')).toBe('/reports')
    expect((await client.get('/auth/me')).status).toBe(401)
    // Reloading the page shows the same step.
    expect(await (await client.get('/auth/login?next=/reports')).text()).toContain(
      'Two-step verification',
    )

    const done = await typeCode(client, html, totpCode(secret, clock.time))
    expect(done.status).toBe(302)
    expect(done.headers.get('Location')).toBe('/reports')
    const me = (await (await client.get('/auth/me')).json()) as { amr: string[] }
    expect(me.amr).toEqual(['pwd', 'otp', 'mfa'])
  })

  it('shows the step again (400) for a wrong code, and the sign-in form (429) at the fifth', async () => {
    const { fetcher, user } = await setUp()
    const client = new Client(fetcher)
    const html = await (await typePassword(client, user.username, user.password)).text()
    for (let attempt = 1; attempt <= 4; attempt++) {
      const wrong = await typeCode(client, html, '000000')
      expect(wrong.status).toBe(400)
      const page = await wrong.text()
      expect(page).toContain('<p id="code-error" class="error" role="alert">Incorrect code.</p>')
      expect(page).toMatch(
        /<input id="code"[^>]* aria-invalid="true" aria-describedby="code-error"/,
      )
    }
    const fifth = await typeCode(client, html, '000000')
    expect(fifth.status).toBe(429)
    expect(fifth.headers.get('Retry-After')).toMatch(/^\d+$/)
    const page = await fifth.text()
    expect(page).toContain('<label for="username">Username</label>')
    expect(page).toContain('Request was throttled.')
  })

  it('shows the sign-in form (400) when no sign-in waits for a code', async () => {
    const { fetcher } = await setUp()
    const client = new Client(fetcher)
    const page = await (await client.get('/auth/login')).text()
    const response = await typeCode(client, page, '123456')
    expect(response.status).toBe(400)
    expect(await response.text()).toContain(
      'role="alert">No sign-in is waiting for a second factor.</p>',
    )
  })

  it('takes a recovery code in the same field', async () => {
    const { fetcher, user, codes } = await setUp()
    const client = new Client(fetcher)
    const html = await (await typePassword(client, user.username, user.password, '/x')).text()
    const done = await typeCode(client, html, codes[0] as string)
    expect(done.status).toBe(302)
    expect(done.headers.get('Location')).toBe('/x')
  })

  it('offers "Start again", which drops the pending step', async () => {
    const { fetcher, user } = await setUp()
    const client = new Client(fetcher)
    const html = await (await typePassword(client, user.username, user.password)).text()
    expect(html).toContain('<form method="post" action="/auth/logout">')
    expect(html).toContain('value="/auth/login?next=%2Freports"')
    const restart = await client.post('/auth/logout', {
      form: {
        csrfmiddlewaretoken: hidden(html, 'csrfmiddlewaretoken'),
        next: '/auth/login?next=%2Freports',
      },
      csrf: false,
    })
    expect(restart.status).toBe(302)
    expect(await (await client.get('/auth/login')).text()).toContain('<h1>Sign in</h1>')
  })
})

describe('the passkey button and its script', () => {
  it('puts a hidden passkey button on the sign-in page, its safe next, and only the Worker’s script', async () => {
    const response = await new Client().get('/auth/login?next=//evil.example')
    const csp = response.headers.get('Content-Security-Policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    expect(csp).not.toContain("unsafe-inline'; script")
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/)
    const html = await response.text()
    expect(html).toContain(
      '<button id="passkey" type="button" class="secondary" data-next="/" hidden="">Sign in with a passkey</button>',
    )
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="/auth/sign-in.js" defer="">'])
  })

  it('serves the script as JavaScript, never cached, sniffing off', async () => {
    const response = await new Client().get('/auth/sign-in.js')
    expect(response.status).toBe(200)
    expect(response.headers.get('Content-Type')).toBe('text/javascript; charset=utf-8')
    expect(response.headers.get('X-Content-Type-Options')).toBe('nosniff')
    const script = await response.text()
    expect(script).toContain("'/auth/passkeys/login/options'")
    expect(script).toContain('navigator.credentials.get')
    // It parses as a script.
    expect(() => new Function(script)).not.toThrow()
  })

  it('shows the passkey button at the second step of a passkey user, and no code form', async () => {
    const clock = new TestClock()
    const fetcher = clockedApp(clock)
    const { user, client } = await signedInUser(fetcher)
    const authenticator = await SoftwareAuthenticator.create()
    const options = (await (
      await client.post('/auth/passkeys/register/options', { json: { password: user.password } })
    ).json()) as CreationOptions
    const made = await client.post('/auth/passkeys/register', {
      json: {
        name: 'key',
        credential: await authenticator.register(options, 'http://localhost'),
      },
    })
    expect(made.status).toBe(201)
    const html = await (
      await typePassword(new Client(fetcher), user.username, user.password)
    ).text()
    expect(html).toContain('>Use a passkey</button>')
    expect(html).not.toContain('action="/auth/login/mfa"')
  })
})
