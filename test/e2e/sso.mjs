/**
 * Single sign-on in a real headless Chromium against the real stack (`npm run dev`) and a real
 * OpenID provider, `oidc-provider`, on 127.0.0.1 (its development login and consent pages): the
 * sign-in page's button leads to the provider, whose login and consent lead back, signed up and
 * signed in, to `next` on the origin. Signing out at the provider (RP-initiated logout there)
 * makes it send a back-channel logout token, and the gateway's session ends at once.
 */
import { createServer } from 'node:http'
import { exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'
import { check, freePort, startStack, withTimeout } from './lib.mjs'

const CLIENT_ID = 'sessiongate-e2e'
const CLIENT_SECRET = 'e2e-client-secret-that-is-long-enough'
const LOGIN = 'grace'

/** The provider: one confidential client, back-channel logout with `sid`, PKCE required. */
async function startProvider(issuer, gateway) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${gateway}/auth/sso/e2e/callback`],
        post_logout_redirect_uris: [`${gateway}/auth/login`],
        backchannel_logout_uri: `${gateway}/auth/sso/e2e/backchannel-logout`,
        backchannel_logout_session_required: true,
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'e2e', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: ['e2e-cookie-key-0123456789'] },
    // The profile and e-mail in the ID token itself, not only at the userinfo endpoint.
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'given_name', 'family_name'],
    },
    features: {
      devInteractions: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    pkce: { required: () => true },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          email: `${id}@example.com`,
          email_verified: true,
          preferred_username: id,
          given_name: 'Grace',
          family_name: 'Hopper',
        }),
      }
    },
  })
  // Its own notices (development keys, interactions) are expected here.
  provider.on('server_error', (_ctx, error) => console.error('oidc-provider:', error))
  const server = createServer(provider.callback())
  const port = Number(new URL(issuer).port)
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
  return server
}

/** Runs a same-origin JSON request from the page. */
function pageFetch(page, method, path) {
  return page.evaluate(
    async ([method, path]) => {
      const response = await fetch(path, { method })
      const text = await response.text()
      return { status: response.status, body: text ? JSON.parse(text) : null }
    },
    [method, path],
  )
}

/** @param {import('./lib.mjs').Resources} resources */
export async function ssoTest(resources) {
  const state = await resources.tempDir('sso')
  const issuer = `http://127.0.0.1:${await freePort()}`
  const providers = [
    { id: 'e2e', name: 'E2E Identity', issuer, client_id: CLIENT_ID, signup: true },
  ]
  const { base } = await startStack(resources, state, {
    SSO_PROVIDERS: JSON.stringify(providers),
    SSO_CLIENT_SECRET_E2E: CLIENT_SECRET,
  })
  const server = await startProvider(issuer, base)

  const page = await resources.page()
  try {
    // 1. The sign-in page's button goes to the provider's login page.
    await page.goto(`${base}/auth/login?next=${encodeURIComponent('/dashboard?via=sso')}`)
    const button = page.locator('a.provider', { hasText: 'Sign in with E2E Identity' })
    check((await button.count()) === 1, 'the sign-in page has the provider button')
    await Promise.all([page.waitForURL(`${issuer}/**`), button.click()])

    // 2. The provider's own pages: login, then consent.
    await page.fill('input[name=login]', LOGIN)
    await page.fill('input[name=password]', 'anything')
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
    if (page.url().startsWith(issuer)) {
      await Promise.all([page.waitForURL(`${base}/**`), page.click('button[type=submit]')])
    }
    await page.waitForURL(/\/dashboard\?via=sso$/)
    const greeting = await page.locator('#greeting').textContent()
    check(greeting === `Hello, ${LOGIN}`, `the origin greets the new user, got "${greeting}"`)
    const me = await pageFetch(page, 'GET', '/auth/me')
    check(
      me.status === 200 &&
        me.body.user.email === `${LOGIN}@example.com` &&
        me.body.user.email_verified === true &&
        JSON.stringify(me.body.amr) === '["fed"]',
      `signed up and in through the provider: ${JSON.stringify(me)}`,
    )
    const identities = await pageFetch(page, 'GET', '/auth/identities')
    check(
      identities.body.identities.length === 1 &&
        identities.body.identities[0].provider === 'e2e' &&
        identities.body.identities[0].subject === LOGIN,
      `one identity linked: ${JSON.stringify(identities)}`,
    )

    // 3. Signing out at the provider: it sends the logout token; the session ends at once.
    await page.goto(`${issuer}/session/end`)
    await Promise.all([page.waitForNavigation(), page.click('text=Yes, sign me out')])
    await page.goto(`${base}/auth/login`)
    let after = await pageFetch(page, 'GET', '/auth/me')
    // The provider posts the token as it signs out; allow it a moment on a busy machine.
    for (let tries = 0; after.status !== 401 && tries < 20; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      after = await pageFetch(page, 'GET', '/auth/me')
    }
    check(after.status === 401, `back-channel logout ended the session: ${JSON.stringify(after)}`)

    // 4. A callback that did not start in this browser is refused on the sign-in page.
    const refused = await page.goto(`${base}/auth/sso/e2e/callback?code=x&state=y`)
    check(refused?.status() === 400, `a callback without state: ${refused?.status()}`)
    check(
      (await page.locator('[role=alert]').textContent())?.includes('missing or expired state'),
      'the sign-in page says why',
    )
  } finally {
    await withTimeout(
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(resolve)
      }),
      10_000,
      'the provider to stop',
    )
  }
}
