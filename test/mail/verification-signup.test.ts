import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { appFetch, Client, createUser, uniqueName, workerFetch } from '../helpers'
import { inbox, linkIn, mailApp, uniqueEmail } from './helpers'

const PASSWORD = 'a sign-up passphrase 99'
const SENT = { detail: 'Verification e-mail sent.' }

/** The verification key mailed last to `email`. */
async function verificationKey(email: string): Promise<string> {
  const link = linkIn((await inbox(email)).at(-1), '/auth/email/verify')
  return link.searchParams.get('key') ?? ''
}

async function eventCount(userId: number, type: string): Promise<number> {
  const row = await env.DB.prepare(
    'SELECT count(*) AS n FROM auth_events WHERE user_id = ?1 AND type = ?2',
  )
    .bind(userId, type)
    .first<{ n: number }>()
  return row?.n ?? 0
}

afterEach(() => {
  vi.useRealTimers()
})

describe('POST /auth/register', () => {
  it('answers 403 while sign-up is closed (the default)', async () => {
    const response = await new Client(workerFetch).post('/auth/register', {
      json: { username: uniqueName(), email: uniqueEmail(), password: PASSWORD },
    })
    expect(response.status).toBe(403)
    expect(await response.json()).toEqual({ detail: 'Sign-up is closed.' })
  })

  it('creates the user and signs them in, with a signup event', async () => {
    const client = new Client(mailApp({ SIGNUP: 'open' }))
    const username = uniqueName('new')
    const email = uniqueEmail('signup')
    const response = await client.post('/auth/register', {
      json: { username, email, password: PASSWORD },
    })
    expect(response.status).toBe(201)
    const { user } = (await response.json()) as { user: { id: number; username: string } }
    expect(user).toMatchObject({ username, email, email_verified: false })
    const me = await client.get('/auth/me')
    expect(me.status).toBe(200)
    expect(await eventCount(user.id, 'signup')).toBe(1)
    // No verification e-mail unless EMAIL_VERIFICATION asks for one.
    expect(await inbox(email)).toHaveLength(0)
  })

  it("answers 400 with Django's and allauth's messages", async () => {
    const client = new Client(mailApp({ SIGNUP: 'open' }))
    const taken = await createUser({ email: uniqueEmail('taken') })
    const takenEmail = (await env.DB.prepare('SELECT email FROM users WHERE id = ?1')
      .bind(taken.id)
      .first<{ email: string }>()) as { email: string }
    const cases: [Record<string, unknown>, string][] = [
      [
        { username: taken.username, email: uniqueEmail(), password: PASSWORD },
        'A user with that username already exists.',
      ],
      [
        { username: uniqueName(), email: takenEmail.email.toUpperCase(), password: PASSWORD },
        'A user with that e-mail address already exists.',
      ],
      [
        { username: uniqueName(), email: uniqueEmail(), password: 'short' },
        'This password is too short. It must contain at least 8 characters.',
      ],
      [
        { username: 'bad name!', email: uniqueEmail(), password: PASSWORD },
        'Enter a valid username.',
      ],
      [
        { username: uniqueName(), email: 'nope', password: PASSWORD },
        'Enter a valid email address.',
      ],
      [{ email: uniqueEmail(), password: PASSWORD }, 'This field is required.'],
    ]
    for (const [json, message] of cases) {
      const response = await client.post('/auth/register', { json })
      expect(response.status).toBe(400)
      expect(((await response.json()) as { detail: string }).detail).toContain(message)
    }
  })

  it('answers 429 past the limit of sign-ups from one network', async () => {
    const client = new Client(mailApp({ SIGNUP: 'open', LOGIN_FAILURE_IP_LIMIT: '1' }))
    const statuses: number[] = []
    for (let i = 0; i < 2; i++) {
      const response = await client.post('/auth/register', {
        json: { username: uniqueName(), email: uniqueEmail(), password: PASSWORD },
        headers: { 'CF-Connecting-IP': '203.0.113.200' },
      })
      statuses.push(response.status)
    }
    expect(statuses).toEqual([201, 429])
  })

  it('with mandatory verification: sends the link and does not sign in', async () => {
    const client = new Client(mailApp({ SIGNUP: 'open', EMAIL_VERIFICATION: 'mandatory' }))
    const username = uniqueName('mand')
    const email = uniqueEmail('mandatory')
    const response = await client.post('/auth/register', {
      json: { username, email, password: PASSWORD },
    })
    expect(response.status).toBe(201)
    expect(await response.json()).toEqual(SENT)
    expect((await client.get('/auth/me')).status).toBe(401)
    expect(await verificationKey(email)).not.toBe('')
  })
})

describe('POST /auth/register with other settings', () => {
  it('with optional verification: signs in and sends the link too', async () => {
    const client = new Client(mailApp({ SIGNUP: 'open', EMAIL_VERIFICATION: 'optional' }))
    const email = uniqueEmail('optional')
    const response = await client.post('/auth/register', {
      json: { username: uniqueName('opt'), email, password: PASSWORD },
    })
    expect(response.status).toBe(201)
    expect((await client.get('/auth/me')).status).toBe(200)
    expect(await verificationKey(email)).not.toBe('')
  })

  it('takes a blank e-mail only when verification is off', async () => {
    const off = new Client(mailApp({ SIGNUP: 'open' }))
    const blank = { username: uniqueName('blank'), email: '', password: PASSWORD }
    expect((await off.post('/auth/register', { json: blank })).status).toBe(201)
    const on = new Client(mailApp({ SIGNUP: 'open', EMAIL_VERIFICATION: 'optional' }))
    const refused = await on.post('/auth/register', {
      json: { ...blank, username: uniqueName('blank') },
    })
    expect(refused.status).toBe(400)
  })

  it('answers 503 with mandatory verification and no e-mail backend, creating no one', async () => {
    const username = uniqueName('nomail')
    const client = new Client(appFetch({ SIGNUP: 'open', EMAIL_VERIFICATION: 'mandatory' }))
    const response = await client.post('/auth/register', {
      json: { username, email: uniqueEmail(), password: PASSWORD },
    })
    expect(response.status).toBe(503)
    expect(await response.json()).toEqual({ detail: 'E-mail delivery is not configured.' })
    const row = await env.DB.prepare('SELECT id FROM users WHERE username = ?1')
      .bind(username)
      .first()
    expect(row).toBeNull()
  })
})

describe('mandatory e-mail verification', () => {
  const settings = { SIGNUP: 'open', EMAIL_VERIFICATION: 'mandatory' }

  it('refuses the right password until the e-mail is verified; a wrong one answers as always', async () => {
    const email = uniqueEmail('unverified')
    const user = await createUser({ email })
    const client = new Client(mailApp(settings))
    const right = await client.post('/auth/login', {
      json: { username: user.username, password: user.password },
    })
    expect(right.status).toBe(400)
    expect(await right.json()).toEqual({ detail: 'E-mail is not verified.' })
    const wrong = await client.post('/auth/login', {
      json: { username: user.username, password: 'not the password at all' },
    })
    expect(wrong.status).toBe(400)
    expect(await wrong.json()).toEqual({ detail: 'Unable to log in with provided credentials.' })

    expect((await client.post('/auth/email/verify/resend', { json: { email } })).status).toBe(200)
    const verified = await client.post('/auth/email/verify', {
      json: { key: await verificationKey(email) },
    })
    expect(verified.status).toBe(200)
    expect(await verified.json()).toEqual({ detail: 'E-mail verified.' })
    await client.login(user.username, user.password)
    expect(await eventCount(user.id, 'email_verified')).toBe(1)
  })
})

describe('POST /auth/email/verify', () => {
  it('takes a key once', async () => {
    const email = uniqueEmail('once')
    await createUser({ email })
    const client = new Client(mailApp())
    await client.post('/auth/email/verify/resend', { json: { email } })
    const key = await verificationKey(email)
    expect((await client.post('/auth/email/verify', { json: { key } })).status).toBe(200)
    const again = await client.post('/auth/email/verify', { json: { key } })
    expect(again.status).toBe(400)
    expect(await again.json()).toEqual({ detail: 'Invalid or expired verification link.' })
  })

  it('refuses a key after three days', async () => {
    const email = uniqueEmail('late')
    await createUser({ email })
    const client = new Client(mailApp())
    await client.post('/auth/email/verify/resend', { json: { email } })
    const key = await verificationKey(email)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + (3 * 86_400 + 2) * 1000)
    const response = await client.post('/auth/email/verify', { json: { key } })
    expect(response.status).toBe(400)
  })

  it('refuses made-up keys and a password reset token', async () => {
    const client = new Client(mailApp())
    for (const key of ['', 'nonsense', 'MQ:abc-def', 'x'.repeat(300)]) {
      const response = await client.post('/auth/email/verify', { json: { key } })
      expect(response.status).toBe(400)
    }
    const email = uniqueEmail('crossed')
    await createUser({ email })
    await client.post('/auth/password/reset', { json: { email } })
    const link = linkIn((await inbox(email))[0], '/auth/password/reset/confirm')
    const key = `${link.searchParams.get('uid')}:${link.searchParams.get('token')}`
    expect((await client.post('/auth/email/verify', { json: { key } })).status).toBe(400)
  })

  it("rewrites the live session's snapshot at once", async () => {
    const email = uniqueEmail('live')
    const user = await createUser({ email })
    const client = new Client(mailApp())
    await client.login(user.username, user.password)
    await client.post('/auth/email/verify/resend', { json: { email } })
    await new Client(mailApp()).post('/auth/email/verify', {
      json: { key: await verificationKey(email) },
    })
    const me = (await (await client.get('/auth/me')).json()) as {
      user: { email_verified: boolean }
    }
    expect(me.user.email_verified).toBe(true)
  })

  it('shows a page whose button posts the key; the GET verifies nothing', async () => {
    const email = uniqueEmail('page')
    const user = await createUser({ email })
    const client = new Client(mailApp())
    await client.post('/auth/email/verify/resend', { json: { email } })
    const link = linkIn((await inbox(email))[0], '/auth/email/verify')
    const page = await client.get(link.pathname + link.search)
    expect(page.status).toBe(200)
    expect(page.headers.get('Content-Security-Policy')).toContain("default-src 'none'")
    const html = await page.text()
    expect(html).toContain('method="post" action="/auth/email/verify"')
    expect(await eventCount(user.id, 'email_verified')).toBe(0)
    const done = await client.post('/auth/email/verify', {
      form: {
        csrfmiddlewaretoken: client.cookies.get('csrftoken') ?? '',
        next: '/auth/login',
        key: link.searchParams.get('key') ?? '',
      },
    })
    expect(done.status).toBe(200)
    expect(await done.text()).toContain('confirmed')
    expect(await eventCount(user.id, 'email_verified')).toBe(1)
  })
})

describe('POST /auth/email/verify/resend', () => {
  it('answers the same whether or not an account matches', async () => {
    const client = new Client(mailApp())
    const email = uniqueEmail('known')
    await createUser({ email })
    const known = await client.post('/auth/email/verify/resend', { json: { email } })
    const unknown = await client.post('/auth/email/verify/resend', {
      json: { email: uniqueEmail('unknown') },
    })
    expect(known.status).toBe(200)
    expect(unknown.status).toBe(200)
    expect(await known.json()).toEqual(SENT)
    expect(await unknown.json()).toEqual(SENT)
  })

  it('answers 429 past the limit for one address', async () => {
    const client = new Client(mailApp({ LOGIN_FAILURE_LIMIT: '1' }))
    const email = uniqueEmail('flood')
    const first = await client.post('/auth/email/verify/resend', { json: { email } })
    const second = await client.post('/auth/email/verify/resend', { json: { email } })
    expect([first.status, second.status]).toEqual([200, 429])
  })
})
