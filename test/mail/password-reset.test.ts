import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, inject, it, vi } from 'vitest'
import { encodeUid, makeToken } from '../../src/mail/tokens'
import { Client, createUser, hashers, workerFetch } from '../helpers'
import { inbox, linkIn, mailApp, RELAY_TOKEN, uniqueEmail } from './helpers'

const SENT = { detail: 'Password reset e-mail has been sent.' }
const INVALID = { detail: 'Invalid or expired password reset link.' }
const NEW_PASSWORD = 'a brand new passphrase 42'

/** A user with an address, and a client of an app that mails through the relay. */
async function setUp(fields: Parameters<typeof createUser>[0] = {}, settings = {}) {
  const email = uniqueEmail('reset')
  const user = await createUser({ email, ...fields })
  const client = new Client(mailApp(settings))
  return { email, user, client }
}

/** Asks for a reset and returns the link mailed to `email`. */
async function resetLink(client: Client, email: string): Promise<URL> {
  const response = await client.post('/auth/password/reset', { json: { email } })
  expect(response.status).toBe(200)
  return linkIn((await inbox(email)).at(-1), '/auth/password/reset/confirm')
}

function confirm(client: Client, link: URL, password = NEW_PASSWORD) {
  return client.post('/auth/password/reset/confirm', {
    json: {
      uid: link.searchParams.get('uid'),
      token: link.searchParams.get('token'),
      new_password: password,
    },
  })
}

afterEach(() => {
  vi.useRealTimers()
})

describe('POST /auth/password/reset', () => {
  it('answers 503 outside DEBUG when no e-mail backend is configured', async () => {
    const client = new Client(workerFetch)
    const response = await client.post('/auth/password/reset', { json: { email: 'a@example.com' } })
    expect(response.status).toBe(503)
    expect(await response.json()).toEqual({ detail: 'E-mail delivery is not configured.' })
  })

  it('mails a link through the http relay, with the bearer token and EMAIL_FROM', async () => {
    const { email, user, client } = await setUp()
    const response = await client.post('/auth/password/reset', { json: { email } })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual(SENT)
    const [message] = await inbox(email)
    expect(message?.authorization).toBe(`Bearer ${RELAY_TOKEN}`)
    expect(message?.from).toBe('webmaster@localhost')
    expect(message?.text).toContain(user.username)
    expect(message?.html).toContain('<a href="http://localhost/auth/password/reset/confirm?')
    const link = linkIn(message, '/auth/password/reset/confirm')
    expect(link.origin).toBe('http://localhost')
    expect(link.searchParams.get('uid')).toBe(encodeUid(user.id))
    expect(link.searchParams.get('token')).toMatch(/^[0-9a-z]+-[0-9a-f]{32}$/)
  })

  it('matches the address case-insensitively', async () => {
    const { email, client } = await setUp()
    await resetLink(client, email.toUpperCase())
    expect(await inbox(email)).toHaveLength(1)
  })

  it('answers the same for an unknown address, which gets a notice without a link', async () => {
    const { client } = await setUp()
    const stranger = uniqueEmail('stranger')
    const response = await client.post('/auth/password/reset', { json: { email: stranger } })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual(SENT)
    const [notice] = await inbox(stranger)
    expect(notice?.text).not.toContain('/auth/password/reset/confirm')
  })

  it('sends no link to an inactive user or one without a usable password', async () => {
    const inactive = await setUp({ is_active: false })
    await inactive.client.post('/auth/password/reset', { json: { email: inactive.email } })
    const unusable = uniqueEmail('unusable')
    await env.DB.prepare(
      'INSERT INTO users (password, username, email, date_joined) VALUES (?1, ?2, ?3, ?4)',
    )
      .bind(hashers.makeUnusablePassword(), `u_${Date.now()}`, unusable, new Date().toISOString())
      .run()
    await inactive.client.post('/auth/password/reset', { json: { email: unusable } })
    for (const address of [inactive.email, unusable]) {
      const [message] = await inbox(address)
      expect(message?.text).not.toContain('/auth/password/reset/confirm')
    }
  })

  it('mails a link to a user an identity provider signed up, so they can add a password', async () => {
    const { email, user, client } = await setUp()
    await env.DB.batch([
      env.DB.prepare('UPDATE users SET password = ?1 WHERE id = ?2').bind(
        hashers.makeUnusablePassword(),
        user.id,
      ),
      env.DB.prepare(
        `INSERT INTO user_identities (id, user_id, provider, subject, email, created_at)
         VALUES (?1, ?2, 'idp', ?1, ?3, ?4)`,
      ).bind(`ident-${user.id}`, user.id, email, new Date().toISOString()),
    ])
    const link = await resetLink(client, email)
    expect((await confirm(client, link)).status).toBe(200)
    await new Client(mailApp()).login(user.username, NEW_PASSWORD)
  })

  it('answers 503 alike, known address or not, when the relay fails', async () => {
    const { email } = await setUp()
    const failing = new Client(mailApp({ EMAIL_HTTP_URL: `${inject('mailRelayUrl')}/fail` }))
    const known = await failing.post('/auth/password/reset', { json: { email } })
    const unknown = await failing.post('/auth/password/reset', {
      json: { email: uniqueEmail('nobody') },
    })
    expect(known.status).toBe(503)
    expect(unknown.status).toBe(503)
    expect(await known.json()).toEqual(await unknown.json())
  })

  it('answers 400 for a missing or invalid e-mail', async () => {
    const { client } = await setUp()
    for (const json of [{}, { email: '' }, { email: 'not an address' }, { email: 42 }]) {
      const response = await client.post('/auth/password/reset', { json })
      expect(response.status).toBe(400)
      expect(((await response.json()) as { detail: unknown }).detail).toBeTypeOf('string')
    }
  })

  it('answers 429 past the limit for one address, from any network', async () => {
    const { email, client } = await setUp({}, { LOGIN_FAILURE_LIMIT: '2' })
    const statuses: number[] = []
    for (const ip of ['203.0.113.1', '198.51.100.7', '192.0.2.9']) {
      const response = await client.post('/auth/password/reset', {
        json: { email },
        headers: { 'CF-Connecting-IP': ip },
      })
      statuses.push(response.status)
    }
    expect(statuses).toEqual([200, 200, 429])
    expect(await inbox(email)).toHaveLength(2)
  })

  it('answers 429 past the limit for one network, whatever the address', async () => {
    const client = new Client(mailApp({ LOGIN_FAILURE_IP_LIMIT: '2' }))
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) {
      const response = await client.post('/auth/password/reset', {
        json: { email: uniqueEmail('many') },
        headers: { 'CF-Connecting-IP': '203.0.113.77' },
      })
      statuses.push(response.status)
    }
    expect(statuses).toEqual([200, 200, 429])
  })

  it('starts links with SITE_URL, and never with a client-sent X-Forwarded-Host', async () => {
    const { email, client } = await setUp({}, { SITE_URL: 'https://accounts.example.com' })
    await client.post('/auth/password/reset', {
      json: { email },
      headers: { 'X-Forwarded-Host': 'evil.example' },
    })
    expect(linkIn((await inbox(email))[0], '/auth/password/reset/confirm').origin).toBe(
      'https://accounts.example.com',
    )
    const plain = await setUp()
    await plain.client.post('/auth/password/reset', {
      json: { email: plain.email },
      headers: { 'X-Forwarded-Host': 'evil.example' },
    })
    expect(linkIn((await inbox(plain.email))[0], '/auth/password/reset/confirm').host).toBe(
      'localhost',
    )
  })
})

describe('POST /auth/password/reset/confirm', () => {
  it('sets the password, ends every session, does not sign in, and records password_reset', async () => {
    const { email, user, client } = await setUp()
    const signedIn = new Client(mailApp())
    await signedIn.login(user.username, user.password)
    expect((await signedIn.get('/auth/me')).status).toBe(200)
    const link = await resetLink(client, email)
    const response = await confirm(client, link)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      detail: 'Password has been reset with the new password.',
    })
    expect((await client.get('/auth/me')).status).toBe(401)
    expect((await signedIn.get('/auth/me')).status).toBe(401)
    const old = await new Client(mailApp()).post('/auth/login', {
      json: { username: user.username, password: user.password },
    })
    expect(old.status).toBe(400)
    await new Client(mailApp()).login(user.username, NEW_PASSWORD)
    const event = await env.DB.prepare(
      "SELECT count(*) AS n FROM auth_events WHERE user_id = ?1 AND type = 'password_reset'",
    )
      .bind(user.id)
      .first<{ n: number }>()
    expect(event?.n).toBe(1)
  })

  it('takes a link once: it dies with the password it replaced', async () => {
    const { email, client } = await setUp()
    const link = await resetLink(client, email)
    expect((await confirm(client, link)).status).toBe(200)
    const again = await confirm(client, link, 'yet another passphrase 43')
    expect(again.status).toBe(400)
    expect(await again.json()).toEqual(INVALID)
  })

  it('refuses a link once the user has logged in since', async () => {
    const { email, user, client } = await setUp()
    const link = await resetLink(client, email)
    // last_login is kept to the second: a login in the same second as the token changes nothing.
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 2_000)
    await new Client(mailApp()).login(user.username, user.password)
    const response = await confirm(client, link)
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual(INVALID)
  })

  it('refuses a link after PASSWORD_RESET_TIMEOUT seconds', async () => {
    const { email, client } = await setUp({}, { PASSWORD_RESET_TIMEOUT: '3600' })
    const link = await resetLink(client, email)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 3_602_000)
    const response = await confirm(client, link)
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual(INVALID)
  })

  it('accepts a link made as Django makes it, with the shared SECRET_KEY', async () => {
    const { user, client } = await setUp()
    const row = await env.DB.prepare('SELECT * FROM users WHERE id = ?1').bind(user.id).first()
    const token = await makeToken(row as never, env.SECRET_KEY as string, Date.now())
    const link = new URL(`http://localhost/?uid=${encodeUid(user.id)}&token=${token}`)
    expect((await confirm(client, link)).status).toBe(200)
  })

  it('answers 400 for a bad uid or token, and leaves the password alone', async () => {
    const { email, user, client } = await setUp()
    const link = await resetLink(client, email)
    const token = link.searchParams.get('token') ?? ''
    for (const [uid, bad] of [
      // The last hex digit changed (to 0, or to 1 when it was 0).
      [encodeUid(user.id), `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`],
      [encodeUid(user.id + 1000), token],
      ['!!', token],
      [null, token],
      [encodeUid(user.id), 42],
    ]) {
      const response = await client.post('/auth/password/reset/confirm', {
        json: { uid, token: bad, new_password: NEW_PASSWORD },
      })
      expect(response.status).toBe(400)
      expect(await response.json()).toEqual(INVALID)
    }
    await new Client(mailApp()).login(user.username, user.password)
  })

  it("answers 400 with the validators' messages, and the link still works", async () => {
    const { email, client } = await setUp()
    const link = await resetLink(client, email)
    const weak = await confirm(client, link, 'short')
    expect(weak.status).toBe(400)
    const body = (await weak.json()) as { detail: string; errors: { new_password: string[] } }
    expect(body.errors.new_password).toContain(
      'This password is too short. It must contain at least 8 characters.',
    )
    expect((await confirm(client, link)).status).toBe(200)
  })
})

describe('the password reset pages', () => {
  it('links "Forgot password?" from the sign-in page', async () => {
    const page = await (await new Client(mailApp()).get('/auth/login')).text()
    expect(page).toContain('<a href="/auth/password/reset">Forgot password?</a>')
  })

  it('serves the request form under the strict CSP, without any script', async () => {
    const response = await new Client(mailApp()).get('/auth/password/reset')
    expect(response.status).toBe(200)
    expect(response.headers.get('Content-Security-Policy')).toContain("default-src 'none'")
    expect(response.headers.get('Content-Security-Policy')).not.toContain('script-src')
    expect(response.headers.get('X-Frame-Options')).toBe('DENY')
    const html = await response.text()
    expect(html).toContain('action="/auth/password/reset"')
    expect(html).not.toContain('<script')
  })

  it('goes through the forms: request, link, new password, done', async () => {
    const { email, user, client } = await setUp()
    await client.get('/auth/password/reset')
    const csrf = client.cookies.get('csrftoken') ?? ''
    const sent = await client.post('/auth/password/reset', {
      form: { csrfmiddlewaretoken: csrf, next: '/auth/login', email },
    })
    expect(sent.status).toBe(200)
    expect(await sent.text()).toContain('Check your inbox')
    const link = linkIn((await inbox(email))[0], '/auth/password/reset/confirm')
    const form = await client.get(link.pathname + link.search)
    expect(form.status).toBe(200)
    expect(await form.text()).toContain('name="new_password"')
    const fields = {
      csrfmiddlewaretoken: csrf,
      next: '/auth/login',
      uid: link.searchParams.get('uid') ?? '',
      token: link.searchParams.get('token') ?? '',
      new_password: NEW_PASSWORD,
    }
    const differ = await client.post('/auth/password/reset/confirm', {
      form: { ...fields, new_password2: 'something else entirely' },
    })
    expect(differ.status).toBe(400)
    expect(await differ.text()).toContain('didn’t match')
    const done = await client.post('/auth/password/reset/confirm', {
      form: { ...fields, new_password2: NEW_PASSWORD },
    })
    expect(done.status).toBe(200)
    expect(await done.text()).toContain('Password reset complete')
    await new Client(mailApp()).login(user.username, NEW_PASSWORD)
    const used = await client.get(link.pathname + link.search)
    expect(used.status).toBe(400)
    expect(await used.text()).toContain('Invalid or expired password reset link.')
  })
})
