/**
 * Single sign-on through a real HTTP identity provider on loopback (test/sso/provider.ts): the
 * round trip (state bound to the browser, PKCE, ID token checks), the sign-in pipeline (link,
 * sign-up, domains, groups, a second factor), identities, and back-channel logout.
 */
import { env } from 'cloudflare:workers'
import { generateKeyPair, importJWK, type JWK, SignJWT } from 'jose'
import { describe, expect, inject, it } from 'vitest'
import { loadConfig } from '../../src/config'
import type { Env } from '../../src/env'
import { ImproperlyConfigured } from '../../src/errors'
import { appFetch, Client, createUser, uniqueName } from '../helpers'
import { clockedApp, enableTotp, TestClock, totpCode } from '../mfa/helpers'

const issuer = inject('ssoIssuer')
const CLIENT_SECRET = 'test-client-secret'

const PROVIDERS = [
  {
    id: 'idp',
    name: 'Test IdP',
    issuer,
    client_id: 'gateway',
    signup: true,
    link_by_email: true,
    groups_claim: 'groups',
  },
  { id: 'closed', name: 'Closed IdP', issuer, client_id: 'gateway' },
  {
    id: 'corp',
    name: 'Corp',
    issuer,
    client_id: 'public-gateway',
    signup: true,
    allowed_domains: ['corp.example'],
  },
  {
    id: 'gh',
    name: 'GitHub',
    type: 'github',
    issuer: `${issuer}/gh`,
    api_url: `${issuer}/ghapi`,
    client_id: 'gh-client',
    signup: true,
  },
  {
    id: 'gh-orgs',
    name: 'GitHub (organisations)',
    type: 'github',
    issuer: `${issuer}/gh`,
    api_url: `${issuer}/ghapi`,
    client_id: 'gh-client',
    signup: true,
    groups_claim: 'orgs',
    scopes: ['read:user', 'user:email', 'read:org'],
  },
  // Nothing listens on port 9 of loopback: the provider is down.
  { id: 'down', name: 'Down', issuer: 'http://127.0.0.1:9', client_id: 'gateway' },
]

const SETTINGS: Partial<Env> = {
  SSO_PROVIDERS: JSON.stringify(PROVIDERS),
  SSO_CLIENT_SECRET_IDP: CLIENT_SECRET,
  SSO_CLIENT_SECRET_CLOSED: CLIENT_SECRET,
  SSO_CLIENT_SECRET_GH: CLIENT_SECRET,
  SSO_CLIENT_SECRET_GH_ORGS: CLIENT_SECRET,
}

const fetcher = appFetch(SETTINGS)

interface Round {
  /** The claims of the user who signs in at the provider (`sub` included). */
  as?: Record<string, unknown>
  mode?: string
  error?: string
  next?: string
  /** Start with `POST /auth/sso/{id}/connect` and this password, as a signed-in user. */
  connectWith?: string
}

/**
 * Signs in through `provider`: the gateway's redirect, the provider's authorization endpoint
 * (told who signs in), then the callback in the same client. Returns the callback's response.
 */
async function viaProvider(client: Client, provider: string, round: Round = {}): Promise<Response> {
  const next = round.next ?? '/after'
  const start =
    round.connectWith === undefined
      ? await client.get(`/auth/sso/${provider}/login?next=${encodeURIComponent(next)}`)
      : await client.post(`/auth/sso/${provider}/connect`, {
          json: { password: round.connectWith, next },
        })
  expect(start.status).toBe(302)
  const authorize = new URL(start.headers.get('Location') ?? '')
  authorize.searchParams.set('as', JSON.stringify(round.as ?? {}))
  if (round.mode) authorize.searchParams.set('mode', round.mode)
  if (round.error) authorize.searchParams.set('error', round.error)
  const answer = await fetch(authorize, { redirect: 'manual' })
  const callback = new URL(answer.headers.get('Location') ?? '')
  return client.get(callback.pathname + callback.search)
}

type Claims = Record<string, unknown> & { sub: string; email: string; sid?: string }

function person(extra: Record<string, unknown> = {}): Claims {
  const name = uniqueName('sso')
  return {
    sub: `sub-${name}`,
    email: `${name}@example.com`,
    email_verified: true,
    preferred_username: name,
    given_name: 'Ada',
    family_name: 'Lovelace',
    ...extra,
  }
}

interface Me {
  user: Record<string, unknown> & { id: number; email: string; groups: string[] }
  amr: string[]
}

async function me(client: Client) {
  const response = await client.get('/auth/me')
  return { status: response.status, body: (await response.json()) as Me }
}

interface Identities {
  identities: { id: string; provider: string; subject: string; email: string }[]
}

async function identitiesOf(client: Client): Promise<Identities> {
  return (await (await client.get('/auth/identities')).json()) as Identities
}

describe('GET /auth/sso/{id}/login', () => {
  it('redirects to the authorization endpoint with code, PKCE S256, state and nonce', async () => {
    const client = new Client(fetcher)
    const response = await client.get('/auth/sso/idp/login?next=/x')
    expect(response.status).toBe(302)
    const url = new URL(response.headers.get('Location') ?? '')
    expect(url.origin + url.pathname).toBe(`${issuer}/authorize`)
    const query = Object.fromEntries(url.searchParams)
    expect(query).toMatchObject({
      response_type: 'code',
      client_id: 'gateway',
      code_challenge_method: 'S256',
      redirect_uri: 'http://localhost/auth/sso/idp/callback',
      scope: 'openid email profile',
    })
    expect(query.state?.length).toBeGreaterThanOrEqual(32)
    expect(query.nonce?.length).toBeGreaterThanOrEqual(32)
    expect(query.code_challenge).toMatch(/^[\w-]{43}$/)
    const cookie = response.headers.getSetCookie().find((line) => line.startsWith('sso_state='))
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Lax/)
  })

  it('answers 404 for a provider that is not configured', async () => {
    const response = await new Client(fetcher).get('/auth/sso/nope/login')
    expect(response.status).toBe(404)
  })

  it('shows the sign-in page with 502 when the provider cannot be reached', async () => {
    const response = await new Client(fetcher).get('/auth/sso/down/login?next=/x')
    expect(response.status).toBe(502)
    expect(await response.text()).toContain('could not be reached')
  })

  it('shows a button per provider on the sign-in page', async () => {
    const page = await (await new Client(fetcher).get('/auth/login?next=/here')).text()
    for (const provider of PROVIDERS) {
      expect(page).toContain(`/auth/sso/${provider.id}/login?next=%2Fhere`)
      expect(page).toContain(`Sign in with ${provider.name}`)
    }
  })
})

describe('GET /auth/sso/{id}/callback', () => {
  it('signs up a new user, signed in with the key cycled, and redirects to next', async () => {
    const client = new Client(fetcher)
    const claims = person({ groups: ['staff-readers', 'ops'] })
    const response = await viaProvider(client, 'idp', { as: claims, next: '/dashboard?tab=1' })
    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe('/dashboard?tab=1')
    const { status, body } = await me(client)
    expect(status).toBe(200)
    expect(body.user).toMatchObject({
      username: claims.preferred_username,
      email: claims.email,
      first_name: 'Ada',
      last_name: 'Lovelace',
      email_verified: true,
      groups: ['ops', 'staff-readers'],
    })
    expect(body.amr).toEqual(['fed'])
    const stored = await env.DB.prepare('SELECT password FROM users WHERE id = ?1')
      .bind(body.user.id)
      .first<string>('password')
    expect(stored?.startsWith('!')).toBe(true)
    const identities = await identitiesOf(client)
    expect(identities.identities).toEqual([
      expect.objectContaining({ provider: 'idp', subject: claims.sub, email: claims.email }),
    ])
  })

  it('signs the same identity in as the same user, and sets the groups again', async () => {
    const claims = person({ groups: ['a', 'b'] })
    const first = new Client(fetcher)
    await viaProvider(first, 'idp', { as: claims })
    const id = (await me(first)).body.user.id
    const second = new Client(fetcher)
    expect(
      (await viaProvider(second, 'idp', { as: { ...claims, groups: ['b', 'c'] } })).status,
    ).toBe(302)
    const again = await me(second)
    expect(again.body.user.id).toBe(id)
    expect(again.body.user.groups).toEqual(['b', 'c'])
    // The first session's snapshot follows at once (write-through).
    expect((await me(first)).body.user.groups).toEqual(['b', 'c'])
  })

  it('refuses a callback without the state cookie (another browser): 400 page', async () => {
    const client = new Client(fetcher)
    const start = await client.get('/auth/sso/idp/login')
    const authorize = new URL(start.headers.get('Location') ?? '')
    authorize.searchParams.set('as', JSON.stringify(person()))
    const answer = await fetch(authorize, { redirect: 'manual' })
    const callback = new URL(answer.headers.get('Location') ?? '')
    const stranger = new Client(fetcher)
    const response = await stranger.get(callback.pathname + callback.search)
    expect(response.status).toBe(400)
    expect(response.headers.get('Content-Type')).toMatch(/text\/html/)
    expect(await response.text()).toContain('missing or expired state')
    expect((await me(stranger)).status).toBe(401)
  })

  it('refuses a callback whose state does not match the cookie', async () => {
    const client = new Client(fetcher)
    await client.get('/auth/sso/idp/login')
    const response = await client.get('/auth/sso/idp/callback?code=abc&state=forged')
    expect(response.status).toBe(400)
    expect((await me(client)).status).toBe(401)
  })

  it('shows the error a provider sends back (400), never a 500', async () => {
    const client = new Client(fetcher)
    const response = await viaProvider(client, 'idp', { error: 'access_denied' })
    expect(response.status).toBe(400)
    expect(await response.text()).toContain('access_denied')
    expect((await me(client)).status).toBe(401)
  })

  for (const mode of ['bad-signature', 'wrong-aud', 'wrong-iss', 'wrong-nonce', 'expired']) {
    it(`refuses an ID token that fails validation (${mode}): 400 page`, async () => {
      const client = new Client(fetcher)
      const response = await viaProvider(client, 'idp', { as: person(), mode })
      expect(response.status).toBe(400)
      expect(response.headers.get('Content-Type')).toMatch(/text\/html/)
      expect((await me(client)).status).toBe(401)
    })
  }

  it('refuses a code used with a wrong PKCE verifier (a state cookie of another login)', async () => {
    const client = new Client(fetcher)
    const start = await client.get('/auth/sso/idp/login')
    const first = new URL(start.headers.get('Location') ?? '')
    // A second start replaces the cookie: its verifier does not match the first code.
    await client.get('/auth/sso/idp/login')
    first.searchParams.set('as', JSON.stringify(person()))
    const answer = await fetch(first, { redirect: 'manual' })
    const callback = new URL(answer.headers.get('Location') ?? '')
    const response = await client.get(callback.pathname + callback.search)
    expect(response.status).toBe(400)
    expect((await me(client)).status).toBe(401)
  })

  it('answers 403 with the reason when there is no account and sign-up is off', async () => {
    const client = new Client(fetcher)
    const response = await viaProvider(client, 'closed', { as: person() })
    expect(response.status).toBe(403)
    expect(await response.text()).toContain('sign-up is closed')
  })

  it('links an existing user by a verified e-mail when the entry says link_by_email', async () => {
    const email = `${uniqueName('linked')}@example.com`
    const user = await createUser({ email, email_verified: true })
    const client = new Client(fetcher)
    expect((await viaProvider(client, 'idp', { as: person({ email }) })).status).toBe(302)
    expect((await me(client)).body.user.id).toBe(user.id)
  })

  it('does not link to an account whose own e-mail is not verified (it may not be its owner)', async () => {
    const email = `${uniqueName('squatted')}@example.com`
    await createUser({ email })
    const client = new Client(fetcher)
    expect((await viaProvider(client, 'idp', { as: person({ email }) })).status).toBe(403)
    expect((await me(client)).status).toBe(401)
  })

  it('does not link by an e-mail the provider did not verify', async () => {
    const email = `${uniqueName('unverified')}@example.com`
    await createUser({ email })
    const client = new Client(fetcher)
    const response = await viaProvider(client, 'idp', {
      as: person({ email, email_verified: false }),
    })
    expect(response.status).toBe(403)
    expect((await me(client)).status).toBe(401)
  })

  it('answers 403 for an e-mail domain outside allowed_domains (a public client)', async () => {
    const client = new Client(fetcher)
    const refused = await viaProvider(client, 'corp', { as: person() })
    expect(refused.status).toBe(403)
    expect(await refused.text()).toContain('e-mail domain')
    const name = uniqueName('corp')
    const allowed = await viaProvider(client, 'corp', {
      as: person({ email: `${name}@corp.example` }),
    })
    expect(allowed.status).toBe(302)
    expect((await me(client)).body.user.email).toBe(`${name}@corp.example`)
  })

  it('answers 400 for an inactive user', async () => {
    const email = `${uniqueName('inactive')}@example.com`
    await createUser({ email, is_active: false, email_verified: true })
    const client = new Client(fetcher)
    const response = await viaProvider(client, 'idp', { as: person({ email }) })
    expect(response.status).toBe(400)
    expect((await me(client)).status).toBe(401)
  })

  it('asks a user who has a second factor for it, then signs in (amr fed, otp, mfa)', async () => {
    const clock = new TestClock()
    const app = clockedApp(clock, SETTINGS)
    const email = `${uniqueName('mfa')}@example.com`
    const user = await createUser({ email, email_verified: true })
    const setup = new Client(app)
    await setup.login(user.username, user.password)
    const { secret } = await enableTotp(setup, user.password, clock)
    const client = new Client(app)
    const response = await viaProvider(client, 'idp', { as: person({ email, sid: 'sid-mfa' }) })
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('Two-step verification')
    expect((await me(client)).status).toBe(401)
    const code = await client.post('/auth/login/mfa', {
      json: { code: totpCode(secret, clock.time) },
    })
    expect(code.status).toBe(200)
    const { body } = await me(client)
    expect(body.user.id).toBe(user.id)
    expect(body.amr).toEqual(expect.arrayContaining(['fed', 'otp', 'mfa']))
    // The provider's session came through the second step: its logout ends this session.
    const logout = await postLogoutToken(await logoutToken({ sid: 'sid-mfa' }))
    expect(logout.status).toBe(200)
    expect((await me(client)).status).toBe(401)
  })

  it('signs in through GitHub: its user id is the subject, its primary verified e-mail', async () => {
    const client = new Client(fetcher)
    const login = uniqueName('octo')
    const response = await viaProvider(client, 'gh', {
      as: {
        id: 4242000 + Math.floor(Math.random() * 1000),
        login,
        name: 'Mona Lisa Octocat',
        emails: [
          { email: `${login}@old.example`, primary: false, verified: true },
          { email: `${login}@example.com`, primary: true, verified: true },
        ],
      },
    })
    expect(response.status).toBe(302)
    const { body } = await me(client)
    expect(body.user).toMatchObject({
      username: login,
      email: `${login}@example.com`,
      email_verified: true,
      first_name: 'Mona',
      last_name: 'Lisa Octocat',
    })
    const identities = await identitiesOf(client)
    expect(identities.identities).toEqual([
      expect.objectContaining({ provider: 'gh', subject: expect.stringMatching(/^\d+$/) }),
    ])
  })
})

describe('GitHub organisations as groups', () => {
  it('makes the organisations the groups with groups_claim, asking for read:org', async () => {
    const client = new Client(fetcher)
    const start = await client.get('/auth/sso/gh-orgs/login')
    const scope = new URL(start.headers.get('Location') ?? '').searchParams.get('scope')
    expect(scope).toBe('read:user user:email read:org')
    const login = uniqueName('orgs')
    const response = await viaProvider(client, 'gh-orgs', {
      as: {
        id: 7000000 + Math.floor(Math.random() * 1000),
        login,
        emails: [],
        orgs: ['acme', 'ops'],
      },
    })
    expect(response.status).toBe(302)
    expect((await me(client)).body.user.groups).toEqual(['acme', 'ops'])
  })
})

describe('/auth/identities', () => {
  it('answers 401 to an anonymous visitor', async () => {
    expect((await new Client(fetcher).get('/auth/identities')).status).toBe(401)
  })

  it('refuses to unlink the only way to sign in (400), and unlinks one of two (204)', async () => {
    const client = new Client(fetcher)
    await viaProvider(client, 'idp', { as: person() })
    const listed = await identitiesOf(client)
    const only = listed.identities[0]?.id
    const refused = await client.request('DELETE', `/auth/identities/${only}`)
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { detail: string }).detail).toContain('only way to sign in')
    // Signed in, a second provider's identity is connected to the same account (no password to
    // type: this user has none).
    const login = uniqueName('connect')
    await viaProvider(client, 'gh', {
      as: { id: 9000000 + Math.floor(Math.random() * 1000), login, emails: [] },
      connectWith: '',
    })
    const both = await identitiesOf(client)
    expect(both.identities.map((identity) => identity.provider).sort()).toEqual(['gh', 'idp'])
    const removed = await client.request('DELETE', `/auth/identities/${only}`)
    expect(removed.status).toBe(204)
    expect((await me(client)).status).toBe(200)
    const events = (await (await client.get('/auth/events')).json()) as {
      events: { type: string }[]
    }
    const types = events.events.map((event) => event.type)
    expect(types).toEqual(expect.arrayContaining(['sso_linked', 'sso_unlinked', 'sso_login']))
  })

  it('connects a provider to a signed-in account only after its password, never by a GET', async () => {
    const user = await createUser()
    const client = new Client(fetcher)
    await client.login(user.username, user.password)
    // A session left open is not enough: a plain sign-in is someone else's (signed up here).
    expect((await viaProvider(client, 'idp', { as: person() })).status).toBe(302)
    expect((await me(client)).body.user.id).not.toBe(user.id)
    await client.login(user.username, user.password)
    expect((await identitiesOf(client)).identities).toEqual([])
    const wrong = await client.post('/auth/sso/idp/connect', { json: { password: 'nope' } })
    expect(wrong.status).toBe(400)
    expect(await wrong.json()).toEqual({ detail: 'Incorrect password.' })
    expect(
      (await viaProvider(client, 'idp', { as: person(), connectWith: user.password })).status,
    ).toBe(302)
    const linked = await identitiesOf(client)
    expect(linked.identities.map((identity) => identity.provider)).toEqual(['idp'])
    expect((await me(client)).body.user.id).toBe(user.id)
  })

  it("answers 404 for an identity that is not the user's", async () => {
    const client = new Client(fetcher)
    await viaProvider(client, 'idp', { as: person() })
    expect((await client.request('DELETE', '/auth/identities/nope')).status).toBe(404)
  })
})

const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

/** A logout token as the provider signs it, with `claims` over the defaults. */
async function logoutToken(
  claims: Record<string, unknown>,
  options: { key?: CryptoKey | Uint8Array; kid?: string } = {},
): Promise<string> {
  const jwk = inject('ssoPrivateJwk') as JWK
  const key = options.key ?? (await importJWK(jwk, 'ES256'))
  const now = Math.floor(Date.now() / 1000)
  const payload = {
    iss: issuer,
    aud: 'gateway',
    iat: now,
    jti: crypto.randomUUID(),
    events: { [LOGOUT_EVENT]: {} },
    ...claims,
  }
  for (const [name, value] of Object.entries(payload))
    if (value === undefined) delete (payload as Record<string, unknown>)[name]
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? jwk.kid, typ: 'logout+jwt' })
    .sign(key)
}

function postLogoutToken(token: string, provider = 'idp'): Promise<Response> {
  return fetcher(
    new Request(`http://localhost/auth/sso/${provider}/backchannel-logout`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        // Server to server: another origin, no cookie, no CSRF token, and still no 403.
        Origin: issuer,
      },
      body: new URLSearchParams({ logout_token: token }).toString(),
    }),
  )
}

describe('POST /auth/sso/{id}/backchannel-logout', () => {
  it('ends the sessions of the provider session (sid) at once', async () => {
    const claims = person({ sid: `sid-${uniqueName()}` })
    const client = new Client(fetcher)
    await viaProvider(client, 'idp', { as: claims })
    const other = new Client(fetcher)
    await viaProvider(other, 'idp', { as: { ...claims, sid: 'another-sid' } })
    const response = await postLogoutToken(await logoutToken({ sid: claims.sid }))
    expect(response.status).toBe(200)
    expect((await me(client)).status).toBe(401)
    // The same user's session from another provider session stays.
    expect((await me(other)).status).toBe(200)
  })

  it('ends every session of the subject when the token names only sub', async () => {
    const claims = person()
    const first = new Client(fetcher)
    const second = new Client(fetcher)
    await viaProvider(first, 'idp', { as: claims })
    await viaProvider(second, 'idp', { as: claims })
    const response = await postLogoutToken(await logoutToken({ sub: claims.sub }))
    expect(response.status).toBe(200)
    expect((await me(first)).status).toBe(401)
    expect((await me(second)).status).toBe(401)
  })

  const invalid: [string, (sub: string) => Promise<string>][] = [
    [
      'a signature by another key',
      async (sub) => {
        const { privateKey } = await generateKeyPair('ES256')
        return logoutToken({ sub }, { key: privateKey })
      },
    ],
    ['another audience', (sub) => logoutToken({ sub, aud: 'someone-else' })],
    ['another issuer', (sub) => logoutToken({ sub, iss: 'https://elsewhere.example' })],
    ['no events claim', (sub) => logoutToken({ sub, events: undefined })],
    [
      'an events claim without the logout event',
      (sub) => logoutToken({ sub, events: { other: {} } }),
    ],
    ['neither sub nor sid', () => logoutToken({})],
    ['a nonce', (sub) => logoutToken({ sub, nonce: 'n' })],
    ['an old iat', (sub) => logoutToken({ sub, iat: Math.floor(Date.now() / 1000) - 3600 })],
    ['no iat', (sub) => logoutToken({ sub, iat: undefined })],
    ['not a JWT', async () => 'not-a-jwt'],
  ]
  for (const [name, make] of invalid) {
    it(`answers 400 invalid_request for a token with ${name}, and ends nothing`, async () => {
      const claims = person()
      const client = new Client(fetcher)
      await viaProvider(client, 'idp', { as: claims })
      const response = await postLogoutToken(await make(claims.sub))
      expect(response.status).toBe(400)
      expect(((await response.json()) as { error: string }).error).toBe('invalid_request')
      expect((await me(client)).status).toBe(200)
    })
  }

  it('answers 400 invalid_request, never cached, when logout_token is missing or unreadable', async () => {
    for (const [type, body] of [
      ['application/x-www-form-urlencoded', ''],
      ['text/plain', 'logout_token=x'],
      ['application/json', '{"logout_token":'],
    ]) {
      const response = await fetcher(
        new Request('http://localhost/auth/sso/idp/backchannel-logout', {
          method: 'POST',
          headers: { 'Content-Type': type as string },
          body,
        }),
      )
      expect(response.status).toBe(400)
      expect(response.headers.get('Cache-Control')).toBe('no-store')
      expect(((await response.json()) as { error: string }).error).toBe('invalid_request')
    }
  })
})

describe('SSO_PROVIDERS', () => {
  const base = { SECRET_KEY: env.SECRET_KEY } as Env
  const load = (providers: unknown) =>
    loadConfig({ ...base, SSO_PROVIDERS: JSON.stringify(providers) } as Env)

  it('is a configuration error naming SSO_PROVIDERS for an http issuer off loopback', () => {
    expect(() =>
      load([{ id: 'a', name: 'A', issuer: 'http://idp.example.com', client_id: 'c' }]),
    ).toThrow(ImproperlyConfigured)
    expect(() =>
      load([{ id: 'a', name: 'A', issuer: 'http://idp.example.com', client_id: 'c' }]),
    ).toThrow(/SSO_PROVIDERS/)
  })

  it('accepts https issuers, and http ones on loopback', () => {
    const config = load([
      { id: 'a', name: 'A', issuer: 'https://idp.example.com', client_id: 'c' },
      { id: 'b', name: 'B', issuer: 'http://localhost:9000', client_id: 'c' },
    ])
    expect(config.ssoProviders.map((provider) => provider.id)).toEqual(['a', 'b'])
  })

  it('reads each client secret from SSO_CLIENT_SECRET_<ID>', () => {
    const config = loadConfig({
      ...base,
      SSO_PROVIDERS: JSON.stringify([
        { id: 'my-idp', name: 'A', issuer: 'https://idp.example.com', client_id: 'c' },
        { id: 'gh', name: 'GitHub', type: 'github', client_id: 'c' },
      ]),
      SSO_CLIENT_SECRET_MY_IDP: 's3cret',
    } as Env)
    expect(config.ssoProviders[0]?.clientSecret).toBe('s3cret')
    expect(config.ssoProviders[1]?.clientSecret).toBeNull()
    expect(config.ssoProviders[1]?.issuer.href).toBe('https://github.com/')
  })

  for (const [name, providers] of [
    ['not JSON', '{'],
    ['a missing client_id', [{ id: 'a', name: 'A', issuer: 'https://x.example' }]],
    ['neither issuer nor type', [{ id: 'a', name: 'A', client_id: 'c' }]],
    [
      'an unknown field',
      [{ id: 'a', name: 'A', issuer: 'https://x.example', client_id: 'c', sigup: true }],
    ],
    ['a bad id', [{ id: 'a/b', name: 'A', issuer: 'https://x.example', client_id: 'c' }]],
    [
      'an id twice',
      [
        { id: 'a', name: 'A', issuer: 'https://x.example', client_id: 'c' },
        { id: 'A', name: 'A', issuer: 'https://y.example', client_id: 'c' },
      ],
    ],
  ] as const) {
    it(`is a configuration error for ${name}`, () => {
      const raw = typeof providers === 'string' ? providers : JSON.stringify(providers)
      expect(() => loadConfig({ ...base, SSO_PROVIDERS: raw } as Env)).toThrow(/SSO_PROVIDERS/)
    })
  }

  it('answers every request with the 500 naming SSO_PROVIDERS when it is bad', async () => {
    const bad = appFetchOrError({
      SSO_PROVIDERS: JSON.stringify([
        { id: 'a', name: 'A', issuer: 'http://x.example', client_id: 'c' },
      ]),
    })
    expect(bad).toMatch(/SSO_PROVIDERS/)
  })
})

function appFetchOrError(overrides: Partial<Env>): string {
  try {
    appFetch(overrides)
    return ''
  } catch (error) {
    return String((error as Error).message)
  }
}
