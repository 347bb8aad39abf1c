/**
 * Passkeys through the JSON API, with credentials made by a software authenticator in the test
 * (ES256 and RS256, `none` attestation): registration, signing in alone, completing a pending
 * second step, and every way an answer can fail to verify.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { appFetch, Client, createUser } from '../helpers'
import {
  type Algorithm,
  type CreationOptions,
  type RequestOptions,
  SoftwareAuthenticator,
} from './authenticator'
import { clockedApp, enableTotp, passwordLogin, TestClock, totpCode } from './helpers'

/** The origin the test client speaks from (its requests go to http://localhost). */
const ORIGIN = 'http://localhost'

async function registrationOptions(client: Client, password: string): Promise<CreationOptions> {
  const response = await client.post('/auth/passkeys/register/options', { json: { password } })
  expect(response.status).toBe(200)
  return (await response.json()) as CreationOptions
}

/** Registers a new credential of `algorithm` for the signed-in user of `client`. */
async function registerPasskey(
  client: Client,
  password: string,
  algorithm: Algorithm = 'ES256',
  name = 'Laptop',
) {
  const authenticator = await SoftwareAuthenticator.create(algorithm)
  const options = await registrationOptions(client, password)
  const response = await client.post('/auth/passkeys/register', {
    json: { name, credential: await authenticator.register(options, ORIGIN) },
  })
  expect(response.status).toBe(201)
  const { passkey } = (await response.json()) as { passkey: { id: string } }
  return { authenticator, passkey }
}

async function loginOptions(client: Client): Promise<RequestOptions> {
  const response = await client.post('/auth/passkeys/login/options')
  expect(response.status).toBe(200)
  return (await response.json()) as RequestOptions
}

async function passkeyLogin(client: Client, credential: Record<string, unknown>) {
  const response = await client.post('/auth/passkeys/login', { json: { credential } })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

async function signedIn(fetcher = appFetch()) {
  const user = await createUser()
  const client = new Client(fetcher)
  await client.login(user.username, user.password)
  return { user, client }
}

const FAILED = { detail: 'Passkey sign-in failed.' }

describe('passkey registration', () => {
  it('answers creation options: the challenge in base64url, a user handle that is not the user id, ES256 and RS256', async () => {
    const { user, client } = await signedIn()
    const options = await registrationOptions(client, user.password)
    expect(options.challenge).toMatch(/^[A-Za-z0-9_-]{32,}$/)
    expect(options.rp).toEqual({ name: 'localhost', id: 'localhost' })
    expect(options.user.name).toBe(user.username)
    expect(options.user.id).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(options.user.id).not.toBe(String(user.id))
    expect(atob(options.user.id.replace(/-/g, '+').replace(/_/g, '/'))).not.toBe(String(user.id))
    expect(options.pubKeyCredParams.map((param) => param.alg)).toEqual([-7, -257])
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required' })
    // The same handle every time.
    expect((await registrationOptions(client, user.password)).user.id).toBe(options.user.id)
  })

  it('answers 400 Incorrect password. without the right password', async () => {
    const { client } = await signedIn()
    for (const json of [{}, { password: 'wrong' }]) {
      const response = await client.post('/auth/passkeys/register/options', { json })
      expect(response.status).toBe(400)
      expect(await response.json()).toEqual({ detail: 'Incorrect password.' })
    }
  })

  it.each(['ES256', 'RS256'] as const)(
    'registers an %s passkey (201), listed by GET /auth/mfa',
    async (algorithm) => {
      const { user, client } = await signedIn()
      const { passkey } = await registerPasskey(client, user.password, algorithm, '  My key  ')
      expect(passkey).toEqual({
        id: expect.stringMatching(/^[a-z0-9]{22}$/),
        name: 'My key',
        created: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        last_used: null,
      })
      const status = (await (await client.get('/auth/mfa')).json()) as { passkeys: unknown[] }
      expect(status.passkeys).toEqual([passkey])
      const event = await env.DB.prepare(
        "SELECT detail FROM auth_events WHERE user_id = ?1 AND type = 'passkey_added'",
      )
        .bind(user.id)
        .first<{ detail: string }>()
      expect(JSON.parse(event?.detail ?? '{}')).toEqual({ passkey: passkey.id, name: 'My key' })
    },
  )

  it('excludes the user’s passkeys from new creation options', async () => {
    const { user, client } = await signedIn()
    const { authenticator } = await registerPasskey(client, user.password)
    const options = await registrationOptions(client, user.password)
    expect(options.excludeCredentials?.map((credential) => credential.id)).toEqual([
      authenticator.id,
    ])
  })

  it('answers 400 Passkey registration failed. to what does not verify', async () => {
    const { user, client } = await signedIn()
    const authenticator = await SoftwareAuthenticator.create()
    const cases: [string, (options: CreationOptions) => Promise<unknown>][] = [
      ['another origin', (o) => authenticator.register(o, 'https://evil.example')],
      ['another RP ID', (o) => authenticator.register(o, ORIGIN, { rpId: 'evil.example' })],
      ['another challenge', (o) => authenticator.register(o, ORIGIN, { challenge: 'AAAA' })],
      ['an assertion type', (o) => authenticator.register(o, ORIGIN, { type: 'webauthn.get' })],
      ['no credential', async () => undefined],
      ['a string', async () => 'credential'],
      [
        'garbage',
        async () => ({ id: 'x', response: { attestationObject: '!!', clientDataJSON: 'e30' } }),
      ],
    ]
    for (const [what, make] of cases) {
      const options = await registrationOptions(client, user.password)
      const response = await client.post('/auth/passkeys/register', {
        json: { name: 'x', credential: await make(options) },
      })
      expect(response.status, what).toBe(400)
      expect(await response.json(), what).toEqual({ detail: 'Passkey registration failed.' })
    }
  })

  it('refuses a challenge used once, and a registration without options', async () => {
    const { user, client } = await signedIn()
    const authenticator = await SoftwareAuthenticator.create()
    const options = await registrationOptions(client, user.password)
    const credential = await authenticator.register(options, ORIGIN)
    expect(
      (await client.post('/auth/passkeys/register', { json: { name: 'a', credential } })).status,
    ).toBe(201)
    const again = await client.post('/auth/passkeys/register', { json: { name: 'a', credential } })
    expect(again.status).toBe(400)
    const other = await signedIn()
    const fresh = await SoftwareAuthenticator.create()
    const without = await other.client.post('/auth/passkeys/register', {
      json: { name: 'a', credential: await fresh.register(options, ORIGIN) },
    })
    expect(without.status).toBe(400)
  })

  it('refuses a challenge older than 300 s', async () => {
    const clock = new TestClock()
    const { user, client } = await signedIn(clockedApp(clock))
    const authenticator = await SoftwareAuthenticator.create()
    const options = await registrationOptions(client, user.password)
    clock.advance(301)
    const response = await client.post('/auth/passkeys/register', {
      json: { name: 'late', credential: await authenticator.register(options, ORIGIN) },
    })
    expect(response.status).toBe(400)
  })

  it('accepts an origin listed in WEBAUTHN_ORIGINS, and the RP ID of WEBAUTHN_RP_ID', async () => {
    const fetcher = appFetch({
      WEBAUTHN_RP_ID: 'localhost',
      WEBAUTHN_ORIGINS: 'https://app.localhost:8443',
    })
    const { user, client } = await signedIn(fetcher)
    const authenticator = await SoftwareAuthenticator.create()
    const options = await registrationOptions(client, user.password)
    expect(options.rp.id).toBe('localhost')
    const response = await client.post('/auth/passkeys/register', {
      json: {
        name: 'a',
        credential: await authenticator.register(options, 'https://app.localhost:8443'),
      },
    })
    expect(response.status).toBe(201)
  })
})

describe('signing in with a passkey alone', () => {
  it.each(['ES256', 'RS256'] as const)(
    'signs in with a verified %s passkey: key cycled, amr hwk+mfa',
    async (algorithm) => {
      const { user, client } = await signedIn()
      const { authenticator, passkey } = await registerPasskey(client, user.password, algorithm)
      const fresh = new Client()
      const options = await loginOptions(fresh)
      expect(options.allowCredentials ?? []).toEqual([])
      expect(options.challenge).toMatch(/^[A-Za-z0-9_-]{32,}$/)
      const before = fresh.cookies.get('sessionid')
      const login = await passkeyLogin(fresh, await authenticator.assert(options, ORIGIN))
      expect(login.status).toBe(200)
      expect((login.body.user as { id: number }).id).toBe(user.id)
      expect(fresh.cookies.get('sessionid')).not.toBe(before)
      const me = (await (await fresh.get('/auth/me')).json()) as { amr: string[] }
      expect(me.amr).toEqual(['hwk', 'mfa'])
      const listed = (await (await fresh.get('/auth/mfa')).json()) as {
        passkeys: { id: string; last_used: string | null }[]
      }
      expect(listed.passkeys[0]?.id).toBe(passkey.id)
      expect(listed.passkeys[0]?.last_used).not.toBeNull()
    },
  )

  it('answers 400 Passkey sign-in failed. to what does not verify', async () => {
    const { user, client } = await signedIn()
    const { authenticator } = await registerPasskey(client, user.password)
    const stranger = await SoftwareAuthenticator.create()
    stranger.userHandle = authenticator.userHandle
    const cases: [string, (options: RequestOptions) => Promise<unknown>][] = [
      ['no user verification', (o) => authenticator.assert(o, ORIGIN, { uv: false })],
      ['another origin', (o) => authenticator.assert(o, 'https://evil.example')],
      ['another RP ID', (o) => authenticator.assert(o, ORIGIN, { rpId: 'evil.example' })],
      ['another challenge', (o) => authenticator.assert(o, ORIGIN, { challenge: 'AAAA' })],
      ['a bad signature', (o) => authenticator.assert(o, ORIGIN, { tamper: true })],
      ['no user handle', (o) => authenticator.assert(o, ORIGIN, { userHandle: null })],
      ['another user handle', (o) => authenticator.assert(o, ORIGIN, { userHandle: 'AAAA' })],
      ['an unknown credential', (o) => stranger.assert(o, ORIGIN)],
      ['nothing', async () => undefined],
      ['garbage', async () => ({ id: authenticator.id, response: { signature: 1 } })],
    ]
    for (const [what, make] of cases) {
      const fresh = new Client()
      const login = await passkeyLogin(
        fresh,
        (await make(await loginOptions(fresh))) as Record<string, unknown>,
      )
      expect(login, what).toEqual({ status: 400, body: FAILED })
      expect((await fresh.get('/auth/me')).status, what).toBe(401)
    }
    const { results } = await env.DB.prepare(
      "SELECT detail FROM auth_events WHERE type = 'login_failed' AND detail LIKE '%passkey%'",
    ).all()
    expect(results.length).toBeGreaterThanOrEqual(cases.length)
  })

  it('uses a challenge once: a replayed assertion fails', async () => {
    const { user, client } = await signedIn()
    const { authenticator } = await registerPasskey(client, user.password)
    const fresh = new Client()
    const credential = await authenticator.assert(await loginOptions(fresh), ORIGIN)
    expect((await passkeyLogin(fresh, credential)).status).toBe(200)
    await fresh.post('/auth/logout')
    expect(await passkeyLogin(fresh, credential)).toEqual({ status: 400, body: FAILED })
    const other = new Client()
    expect(await passkeyLogin(other, credential)).toEqual({ status: 400, body: FAILED })
  })

  it('refuses a signature counter that went backwards (a cloned authenticator)', async () => {
    const { user, client } = await signedIn()
    const authenticator = await SoftwareAuthenticator.create('ES256', { signCount: 5 })
    const options = await registrationOptions(client, user.password)
    const made = await client.post('/auth/passkeys/register', {
      json: { name: 'counting', credential: await authenticator.register(options, ORIGIN) },
    })
    expect(made.status).toBe(201)
    const first = new Client()
    expect(
      (await passkeyLogin(first, await authenticator.assert(await loginOptions(first), ORIGIN)))
        .status,
    ).toBe(200)
    authenticator.signCount = 3
    const clone = new Client()
    expect(
      await passkeyLogin(clone, await authenticator.assert(await loginOptions(clone), ORIGIN)),
    ).toEqual({
      status: 400,
      body: FAILED,
    })
  })

  it('refuses an inactive user', async () => {
    const { user, client } = await signedIn()
    const { authenticator } = await registerPasskey(client, user.password)
    await env.DB.prepare('UPDATE users SET is_active = 0 WHERE id = ?1').bind(user.id).run()
    const fresh = new Client()
    const login = await passkeyLogin(
      fresh,
      await authenticator.assert(await loginOptions(fresh), ORIGIN),
    )
    expect(login.status).toBe(400)
    expect((await fresh.get('/auth/me')).status).toBe(401)
  })
})

describe('a passkey as the second factor', () => {
  it('asks a passkey user for a second step after the password, and a passkey completes it', async () => {
    const { user, client } = await signedIn()
    const { authenticator } = await registerPasskey(client, user.password)
    const fresh = new Client()
    const login = await passwordLogin(fresh, user.username, user.password)
    expect(login).toEqual({ status: 200, body: { mfa_required: true, methods: ['passkey'] } })
    expect((await fresh.get('/auth/me')).status).toBe(401)
    const options = await loginOptions(fresh)
    expect(options.allowCredentials?.map((credential) => credential.id)).toEqual([authenticator.id])
    // A second factor need not verify the user: the password did.
    const done = await passkeyLogin(
      fresh,
      await authenticator.assert(options, ORIGIN, { uv: false }),
    )
    expect(done.status).toBe(200)
    const me = (await (await fresh.get('/auth/me')).json()) as { amr: string[] }
    expect(me.amr).toEqual(['pwd', 'hwk', 'mfa'])
  })

  it("refuses another user's passkey at the pending step, and counts it as a wrong answer", async () => {
    const first = await signedIn()
    await registerPasskey(first.client, first.user.password)
    const second = await signedIn()
    const { authenticator: theirs } = await registerPasskey(second.client, second.user.password)
    const fresh = new Client()
    await passwordLogin(fresh, first.user.username, first.user.password)
    for (let attempt = 1; attempt <= 4; attempt++) {
      const login = await passkeyLogin(
        fresh,
        await theirs.assert(await loginOptions(fresh), ORIGIN),
      )
      expect(login).toEqual({ status: 400, body: FAILED })
    }
    const fifth = await passkeyLogin(fresh, await theirs.assert(await loginOptions(fresh), ORIGIN))
    expect(fifth.status).toBe(429)
    expect((await fresh.get('/auth/me')).status).toBe(401)
  })

  it('offers every method a user has, and any of them completes the step', async () => {
    const clock = new TestClock()
    const fetcher = clockedApp(clock)
    const { user, client } = await signedIn(fetcher)
    const { secret } = await enableTotp(client, user.password, clock)
    const { authenticator } = await registerPasskey(client, user.password)
    const fresh = new Client(fetcher)
    const login = await passwordLogin(fresh, user.username, user.password)
    expect(login.body).toEqual({
      mfa_required: true,
      methods: ['totp', 'recovery_code', 'passkey'],
    })
    const wrong = await fresh.post('/auth/login/mfa', { json: { code: '000000' } })
    expect(wrong.status).toBe(400)
    const done = await passkeyLogin(
      fresh,
      await authenticator.assert(await loginOptions(fresh), ORIGIN),
    )
    expect(done.status).toBe(200)
    expect(totpCode(secret, clock.time)).toMatch(/^\d{6}$/)
  })
})

describe('removing a passkey', () => {
  it('removes it with the password (204), ends the other sessions, and it signs in no more', async () => {
    const { user, client } = await signedIn()
    const { authenticator, passkey } = await registerPasskey(client, user.password)
    const other = new Client()
    expect(
      (await passkeyLogin(other, await authenticator.assert(await loginOptions(other), ORIGIN)))
        .status,
    ).toBe(200)

    const wrong = await client.request('DELETE', `/auth/passkeys/${passkey.id}`, {
      json: { password: 'nope' },
    })
    expect(wrong.status).toBe(400)
    const removed = await client.request('DELETE', `/auth/passkeys/${passkey.id}`, {
      json: { password: user.password },
    })
    expect(removed.status).toBe(204)
    expect((await client.get('/auth/me')).status).toBe(200)
    expect((await other.get('/auth/me')).status).toBe(401)
    const fresh = new Client()
    expect(
      await passkeyLogin(fresh, await authenticator.assert(await loginOptions(fresh), ORIGIN)),
    ).toEqual({
      status: 400,
      body: FAILED,
    })
    expect((await passwordLogin(new Client(), user.username, user.password)).body).toHaveProperty(
      'user',
    )
  })

  it("answers 404 for an id that is not the user's", async () => {
    const first = await signedIn()
    const { passkey } = await registerPasskey(first.client, first.user.password)
    const second = await signedIn()
    for (const id of [passkey.id, 'unknown']) {
      const response = await second.client.request('DELETE', `/auth/passkeys/${id}`, {
        json: { password: second.user.password },
      })
      expect(response.status).toBe(404)
    }
  })
})
