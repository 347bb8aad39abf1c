/**
 * TOTP and recovery codes through the JSON API: set-up, the second step of a sign-in, single use,
 * the limits on wrong codes, and removal, on an app whose clock the tests move.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { Client, createUser } from '../helpers'
import { clockedApp, enableTotp, passwordLogin, signedInUser, TestClock, totpCode } from './helpers'

/** A user with TOTP on, signed out: the clock, the app, the user, the secret, the codes. */
async function userWithTotp(overrides = {}) {
  const clock = new TestClock()
  const fetcher = clockedApp(clock, overrides)
  const { user, client } = await signedInUser(fetcher)
  const { secret, codes } = await enableTotp(client, user.password, clock)
  return { clock, fetcher, user, secret, codes }
}

/** A fresh client past the password step for `user`. */
async function pastPassword(
  fetcher: ReturnType<typeof clockedApp>,
  user: { username: string; password: string },
) {
  const client = new Client(fetcher)
  const login = await passwordLogin(client, user.username, user.password)
  expect(login).toEqual({
    status: 200,
    body: { mfa_required: true, methods: ['totp', 'recovery_code'] },
  })
  return client
}

async function events(userId: number, type: string) {
  const { results } = await env.DB.prepare(
    'SELECT type, detail FROM auth_events WHERE user_id = ?1 AND type = ?2 ORDER BY id',
  )
    .bind(userId, type)
    .all<{ type: string; detail: string }>()
  return results.map((row) => JSON.parse(row.detail) as Record<string, unknown>)
}

describe('GET /auth/mfa', () => {
  it('answers 401 when anonymous', async () => {
    const response = await new Client().get('/auth/mfa')
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual({
      detail: 'Authentication credentials were not provided.',
    })
  })

  it('shows no factors for a new user', async () => {
    const { client } = await signedInUser(clockedApp(new TestClock()))
    const response = await client.get('/auth/mfa')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      totp: false,
      recovery_codes: { total: 0, unused: 0 },
      passkeys: [],
    })
  })
})

describe('TOTP set-up', () => {
  it('answers 200 with a base32 secret and an otpauth URL, not active until confirmed', async () => {
    const clock = new TestClock()
    const { user, client } = await signedInUser(clockedApp(clock))
    const response = await client.post('/auth/mfa/totp', { json: { password: user.password } })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { secret: string; otpauth_url: string }
    expect(body.secret).toMatch(/^[A-Z2-7]{32}$/)
    expect(body.otpauth_url).toBe(
      `otpauth://totp/localhost:${user.username}?issuer=localhost&algorithm=SHA1&secret=${body.secret}&period=30&digits=6`,
    )
    expect(((await (await client.get('/auth/mfa')).json()) as { totp: boolean }).totp).toBe(false)
    // Not active: the password alone still signs in.
    expect(
      (await passwordLogin(new Client(clockedApp(clock)), user.username, user.password)).body,
    ).toHaveProperty('user')
  })

  it('answers 400 Incorrect password. to a wrong, blank or missing password', async () => {
    const { client } = await signedInUser(clockedApp(new TestClock()))
    for (const json of [{ password: 'not it' }, { password: '' }, {}, { password: 42 }]) {
      const response = await client.post('/auth/mfa/totp', { json })
      expect(response.status).toBe(400)
      expect(((await response.json()) as { detail: string }).detail).toBe('Incorrect password.')
    }
  })

  it('counts wrong passwords against the sign-in throttle (429)', async () => {
    const { client } = await signedInUser(clockedApp(new TestClock(), { LOGIN_FAILURE_LIMIT: '2' }))
    expect((await client.post('/auth/mfa/totp', { json: { password: 'a' } })).status).toBe(400)
    expect((await client.post('/auth/mfa/totp', { json: { password: 'b' } })).status).toBe(400)
    expect((await client.post('/auth/mfa/totp', { json: { password: 'c' } })).status).toBe(429)
  })

  it('confirms with a code from the app: TOTP active, 10 recovery codes, an mfa_enabled event', async () => {
    const clock = new TestClock()
    const { user, client } = await signedInUser(clockedApp(clock))
    const { secret } = (await (
      await client.post('/auth/mfa/totp', { json: { password: user.password } })
    ).json()) as { secret: string }
    const wrong = await client.post('/auth/mfa/totp/confirm', { json: { code: '000000' } })
    expect(wrong.status).toBe(400)
    expect(await wrong.json()).toEqual({ detail: 'Incorrect code.' })

    const response = await client.post('/auth/mfa/totp/confirm', {
      json: { code: totpCode(secret, clock.time) },
    })
    expect(response.status).toBe(200)
    const { recovery_codes: codes } = (await response.json()) as { recovery_codes: string[] }
    expect(codes).toHaveLength(10)
    expect(new Set(codes).size).toBe(10)
    expect(await (await client.get('/auth/mfa')).json()).toEqual({
      totp: true,
      recovery_codes: { total: 10, unused: 10 },
      passkeys: [],
    })
    expect(await events(user.id, 'mfa_enabled')).toEqual([{ method: 'totp' }])
    // The session that turned it on stays signed in.
    expect((await client.get('/auth/me')).status).toBe(200)
  })

  it('answers 400 to set-up or confirmation when TOTP is already active, and to a confirmation never started', async () => {
    const clock = new TestClock()
    const { user, client } = await signedInUser(clockedApp(clock))
    const early = await client.post('/auth/mfa/totp/confirm', { json: { code: '123456' } })
    expect(early.status).toBe(400)
    const { secret } = await enableTotp(client, user.password, clock)
    const again = await client.post('/auth/mfa/totp', { json: { password: user.password } })
    expect(again.status).toBe(400)
    expect(await again.json()).toEqual({ detail: 'TOTP is already active.' })
    const confirm = await client.post('/auth/mfa/totp/confirm', {
      json: { code: totpCode(secret, clock.time) },
    })
    expect(confirm.status).toBe(400)
  })

  it('stores the secret sealed and the recovery codes only as SHA-256 hashes', async () => {
    const { user, secret, codes } = await userWithTotp()
    const totp = await env.DB.prepare('SELECT secret FROM mfa_totp WHERE user_id = ?1')
      .bind(user.id)
      .first<{ secret: string }>()
    expect(totp?.secret).toMatch(/^v1\./)
    expect(totp?.secret).not.toContain(secret)
    const { results } = await env.DB.prepare(
      'SELECT code_hash FROM mfa_recovery_codes WHERE user_id = ?1',
    )
      .bind(user.id)
      .all<{ code_hash: string }>()
    expect(results).toHaveLength(10)
    const stored = JSON.stringify(results)
    for (const code of codes) {
      expect(stored).not.toContain(code)
      expect(stored).not.toContain(code.replace(/-/g, ''))
    }
    for (const row of results) expect(row.code_hash).toMatch(/^[0-9a-f]{64}$/)
  })
})

describe('signing in with TOTP', () => {
  it('answers mfa_required to the right password and does not sign in: /auth/me stays 401', async () => {
    const { fetcher, user } = await userWithTotp()
    const client = await pastPassword(fetcher, user)
    expect(client.cookies.get('sessionid')).toMatch(/^[a-z0-9]{32,}$/)
    expect((await client.get('/auth/me')).status).toBe(401)
    expect((await client.get('/auth/sessions')).status).toBe(401)
    // The pending step is not application data.
    expect(await (await client.get('/auth/session')).json()).toEqual({ data: {} })
  })

  it('still answers 400 to a wrong password, with no hint of a second factor', async () => {
    const { fetcher, user } = await userWithTotp()
    const login = await passwordLogin(new Client(fetcher), user.username, 'wrong')
    expect(login).toEqual({
      status: 400,
      body: { detail: 'Unable to log in with provided credentials.' },
    })
  })

  it('completes with a code: 200 with the user, key cycled, amr pwd+otp+mfa', async () => {
    const { clock, fetcher, user, secret } = await userWithTotp()
    const client = await pastPassword(fetcher, user)
    const pendingKey = client.cookies.get('sessionid')
    const response = await client.post('/auth/login/mfa', {
      json: { code: totpCode(secret, clock.time) },
    })
    expect(response.status).toBe(200)
    expect(((await response.json()) as { user: { id: number } }).user.id).toBe(user.id)
    expect(client.cookies.get('sessionid')).not.toBe(pendingKey)
    const me = await client.get('/auth/me')
    expect(me.status).toBe(200)
    expect(((await me.json()) as { amr: string[] }).amr).toEqual(['pwd', 'otp', 'mfa'])
    // The set-up's own sign-in came first.
    expect(await events(user.id, 'login')).toEqual([
      { method: 'password' },
      { method: 'password+totp' },
    ])
  })

  it('refuses a code once accepted, and a code of an earlier step after it', async () => {
    const { clock, fetcher, user, secret } = await userWithTotp()
    const code = totpCode(secret, clock.time)
    const first = await pastPassword(fetcher, user)
    expect((await first.post('/auth/login/mfa', { json: { code } })).status).toBe(200)
    const second = await pastPassword(fetcher, user)
    const replay = await second.post('/auth/login/mfa', { json: { code } })
    expect(replay.status).toBe(400)
    expect(await replay.json()).toEqual({ detail: 'Incorrect code.' })
    const earlier = await second.post('/auth/login/mfa', {
      json: { code: totpCode(secret, clock.time, -1) },
    })
    expect(earlier.status).toBe(400)
    clock.advance(30)
    const next = await second.post('/auth/login/mfa', {
      json: { code: totpCode(secret, clock.time) },
    })
    expect(next.status).toBe(200)
  })

  it('accepts a code one step behind or ahead of the clock, not two', async () => {
    const { clock, fetcher, user, secret } = await userWithTotp()
    const client = await pastPassword(fetcher, user)
    const far = await client.post('/auth/login/mfa', {
      json: { code: totpCode(secret, clock.time, 2) },
    })
    expect(far.status).toBe(400)
    const ahead = await client.post('/auth/login/mfa', {
      json: { code: totpCode(secret, clock.time, 1) },
    })
    expect(ahead.status).toBe(200)
  })

  it('completes with a recovery code once; the same code is refused after', async () => {
    const { fetcher, user, codes } = await userWithTotp()
    const code = codes[3] as string
    const first = await pastPassword(fetcher, user)
    const used = await first.post('/auth/login/mfa', { json: { code: code.toUpperCase() } })
    expect(used.status).toBe(200)
    const me = (await (await first.get('/auth/me')).json()) as { amr: string[] }
    expect(me.amr).toEqual(['pwd', 'otp', 'mfa'])
    expect((await (await first.get('/auth/mfa')).json()) as object).toMatchObject({
      recovery_codes: { total: 10, unused: 9 },
    })
    const second = await pastPassword(fetcher, user)
    const again = await second.post('/auth/login/mfa', { json: { code } })
    expect(again.status).toBe(400)
    expect(await again.json()).toEqual({ detail: 'Incorrect code.' })
    expect((await events(user.id, 'login')).at(-1)).toEqual({ method: 'password+recovery_code' })
  })

  it('answers 400 No sign-in is waiting for a second factor. without a pending step', async () => {
    const anonymous = await new Client().post('/auth/login/mfa', { json: { code: '123456' } })
    expect(anonymous.status).toBe(400)
    expect(await anonymous.json()).toEqual({
      detail: 'No sign-in is waiting for a second factor.',
    })
    const { client } = await signedInUser(clockedApp(new TestClock()))
    const signedIn = await client.post('/auth/login/mfa', { json: { code: '123456' } })
    expect(signedIn.status).toBe(400)
    expect(await signedIn.json()).toEqual({ detail: 'No sign-in is waiting for a second factor.' })
  })

  it('answers 400 on a missing code', async () => {
    const { fetcher, user } = await userWithTotp()
    const client = await pastPassword(fetcher, user)
    expect((await client.post('/auth/login/mfa', { json: {} })).status).toBe(400)
  })

  it('drops the pending step at the fifth wrong code with a 429', async () => {
    const { clock, fetcher, user, secret } = await userWithTotp()
    const client = await pastPassword(fetcher, user)
    for (let attempt = 1; attempt <= 4; attempt++) {
      const wrong = await client.post('/auth/login/mfa', { json: { code: '000000' } })
      expect(wrong.status).toBe(400)
    }
    const fifth = await client.post('/auth/login/mfa', { json: { code: '000000' } })
    expect(fifth.status).toBe(429)
    expect(fifth.headers.get('Retry-After')).toMatch(/^\d+$/)
    expect(((await fifth.json()) as { detail: string }).detail).toMatch(
      /^Request was throttled\. Expected available in \d+ seconds\.$/,
    )
    const right = await client.post('/auth/login/mfa', {
      json: { code: totpCode(secret, clock.time) },
    })
    expect(right.status).toBe(400)
    expect(await right.json()).toEqual({ detail: 'No sign-in is waiting for a second factor.' })
    expect((await client.get('/auth/me')).status).toBe(401)
    expect(await events(user.id, 'mfa_failed')).toHaveLength(5)
    // Starting again works.
    const again = await pastPassword(fetcher, user)
    expect(
      (await again.post('/auth/login/mfa', { json: { code: totpCode(secret, clock.time) } }))
        .status,
    ).toBe(200)
  })

  it('counts wrong codes per user across sessions and addresses: 429 past MFA_FAILURE_LIMIT, the right code too', async () => {
    const { clock, fetcher, user, secret } = await userWithTotp({ MFA_FAILURE_LIMIT: '3' })
    for (const ip of ['198.51.100.1', '198.51.100.2', '203.0.113.3']) {
      const client = await pastPassword(fetcher, user)
      const wrong = await client.post('/auth/login/mfa', {
        json: { code: '000000' },
        headers: { 'CF-Connecting-IP': ip },
      })
      expect(wrong.status).toBe(400)
    }
    const client = await pastPassword(fetcher, user)
    const right = await client.post('/auth/login/mfa', {
      json: { code: totpCode(secret, clock.time) },
      headers: { 'CF-Connecting-IP': '192.0.2.9' },
    })
    expect(right.status).toBe(429)
    expect((await client.get('/auth/me')).status).toBe(401)
    // The window passes.
    clock.advance(901)
    const later = await pastPassword(fetcher, user)
    expect(
      (await later.post('/auth/login/mfa', { json: { code: totpCode(secret, clock.time) } }))
        .status,
    ).toBe(200)
  })

  it('drops the pending step after 300 s', async () => {
    const { clock, fetcher, user, secret } = await userWithTotp()
    const client = await pastPassword(fetcher, user)
    clock.advance(301)
    const late = await client.post('/auth/login/mfa', {
      json: { code: totpCode(secret, clock.time) },
    })
    expect(late.status).toBe(400)
    expect(await late.json()).toEqual({ detail: 'No sign-in is waiting for a second factor.' })
  })

  it('completes only in the browser session that passed the password', async () => {
    const { clock, fetcher, user, secret } = await userWithTotp()
    await pastPassword(fetcher, user)
    const other = new Client(fetcher)
    const response = await other.post('/auth/login/mfa', {
      json: { code: totpCode(secret, clock.time) },
    })
    expect(response.status).toBe(400)
  })

  it("flushes a different user's session at the password step", async () => {
    const { fetcher, user } = await userWithTotp()
    const { client } = await signedInUser(fetcher)
    const login = await passwordLogin(client, user.username, user.password)
    expect(login.body).toEqual({ mfa_required: true, methods: ['totp', 'recovery_code'] })
    expect((await client.get('/auth/me')).status).toBe(401)
  })
})

describe('changing TOTP and recovery codes', () => {
  it('removes TOTP with the password (204), ends the other sessions, and 404 once gone', async () => {
    const { clock, fetcher, user, secret } = await userWithTotp()
    const one = await pastPassword(fetcher, user)
    expect(
      (await one.post('/auth/login/mfa', { json: { code: totpCode(secret, clock.time) } })).status,
    ).toBe(200)
    clock.advance(30)
    const two = await pastPassword(fetcher, user)
    expect(
      (await two.post('/auth/login/mfa', { json: { code: totpCode(secret, clock.time) } })).status,
    ).toBe(200)

    const wrong = await one.request('DELETE', '/auth/mfa/totp', { json: { password: 'nope' } })
    expect(wrong.status).toBe(400)
    expect(await wrong.json()).toEqual({ detail: 'Incorrect password.' })
    const removed = await one.request('DELETE', '/auth/mfa/totp', {
      json: { password: user.password },
    })
    expect(removed.status).toBe(204)
    expect((await one.get('/auth/me')).status).toBe(200)
    expect((await two.get('/auth/me')).status).toBe(401)
    // The recovery codes went with the last factor, and the password alone signs in again.
    expect(await (await one.get('/auth/mfa')).json()).toEqual({
      totp: false,
      recovery_codes: { total: 0, unused: 0 },
      passkeys: [],
    })
    expect(
      (await passwordLogin(new Client(fetcher), user.username, user.password)).body,
    ).toHaveProperty('user')
    expect(await events(user.id, 'mfa_disabled')).toEqual([{ method: 'totp' }])

    const gone = await one.request('DELETE', '/auth/mfa/totp', {
      json: { password: user.password },
    })
    expect(gone.status).toBe(404)
  })

  it('answers 401 to factor changes when anonymous', async () => {
    const client = new Client()
    for (const [method, path] of [
      ['POST', '/auth/mfa/totp'],
      ['POST', '/auth/mfa/totp/confirm'],
      ['DELETE', '/auth/mfa/totp'],
      ['POST', '/auth/mfa/recovery-codes'],
      ['POST', '/auth/passkeys/register/options'],
      ['POST', '/auth/passkeys/register'],
      ['DELETE', '/auth/passkeys/abc'],
    ] as const) {
      const response = await client.request(method, path, { json: { password: 'x', code: '1' } })
      expect(response.status, `${method} ${path}`).toBe(401)
    }
  })

  it('makes a new set of recovery codes with the password; the old set stops working', async () => {
    const { fetcher, user, codes } = await userWithTotp()
    const client = new Client(fetcher)
    const login = await pastPassword(fetcher, user)
    expect((await login.post('/auth/login/mfa', { json: { code: codes[0] } })).status).toBe(200)
    const wrong = await login.post('/auth/mfa/recovery-codes', { json: { password: 'x' } })
    expect(wrong.status).toBe(400)
    const response = await login.post('/auth/mfa/recovery-codes', {
      json: { password: user.password },
    })
    expect(response.status).toBe(200)
    const fresh = ((await response.json()) as { recovery_codes: string[] }).recovery_codes
    expect(fresh).toHaveLength(10)
    expect(fresh).not.toContain(codes[1])
    expect(await (await login.get('/auth/mfa')).json()).toMatchObject({
      recovery_codes: { total: 10, unused: 10 },
    })
    const old = await pastPassword(fetcher, user)
    expect((await old.post('/auth/login/mfa', { json: { code: codes[1] } })).status).toBe(400)
    expect((await old.post('/auth/login/mfa', { json: { code: fresh[0] } })).status).toBe(200)
    expect(client.cookies.size).toBe(0)
  })

  it('answers 400 to new recovery codes when no factor is active', async () => {
    const { user, client } = await signedInUser(clockedApp(new TestClock()))
    const response = await client.post('/auth/mfa/recovery-codes', {
      json: { password: user.password },
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ detail: 'No second factor is active.' })
  })

  it('asks no password of a user without a usable one', async () => {
    const clock = new TestClock()
    const fetcher = clockedApp(clock)
    const user = await createUser()
    const client = new Client(fetcher)
    await client.login(user.username, user.password)
    await env.DB.prepare("UPDATE users SET password = '!unusable' WHERE id = ?1")
      .bind(user.id)
      .run()
    const response = await client.post('/auth/mfa/totp', { json: {} })
    expect(response.status).toBe(200)
  })
})
