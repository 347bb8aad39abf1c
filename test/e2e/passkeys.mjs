/**
 * Second factors in a real headless Chromium against the real stack (`npm run dev`), on
 * http://localhost:<port> (browsers refuse IP addresses as WebAuthn RP IDs), with a virtual
 * authenticator of Chromium's own (DevTools' WebAuthn domain: CTAP2, internal, resident keys,
 * user verification): a signed-in user registers a passkey, signs out, and signs in with the
 * passkey alone from the sign-in page's button. Then, with an authenticator app (TOTP) turned on,
 * the password leads the sign-in page to its second step, and a code computed here completes it.
 */
import { decodeBase32IgnorePadding } from '@oslojs/encoding'
import { generateHOTP } from '@oslojs/otp'
import { check, createUser, startStack } from './lib.mjs'

const USERNAME = 'hedy'
const PASSWORD = 'frequency-hopping-1942'

/** The TOTP code of a base32 secret, `offset` 30 s steps from now (what an app would show). */
function totpCode(secret, offset = 0) {
  const step = Math.floor(Date.now() / 30_000) + offset
  return generateHOTP(decodeBase32IgnorePadding(secret), BigInt(step), 6)
}

/** Runs a same-origin JSON request from the page, with the CSRF cookie as Django wants it. */
function pageFetch(page, method, path, body) {
  return page.evaluate(
    async ([method, path, body]) => {
      const csrf = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)?.[1] ?? ''
      const response = await fetch(path, {
        method,
        headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      const text = await response.text()
      return { status: response.status, body: text ? JSON.parse(text) : null }
    },
    [method, path, body],
  )
}

/** Signs in with the password on the sign-in page; resolves once the form was answered. */
async function typePassword(page, base, next) {
  await page.goto(`${base}/auth/login?next=${encodeURIComponent(next)}`)
  await page.fill('#username', USERNAME)
  await page.fill('#password', PASSWORD)
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
}

/** @param {import('./lib.mjs').Resources} resources */
export async function passkeysTest(resources) {
  const state = await resources.tempDir('passkeys')
  await createUser(resources, state, USERNAME, PASSWORD, ['--email', 'hedy@example.com'])
  const { port } = await startStack(resources, state)
  const base = `http://localhost:${port}`

  const page = await resources.page()
  const context = page.context()
  const devtools = await context.newCDPSession(page)
  await devtools.send('WebAuthn.enable')
  const { authenticatorId } = await devtools.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  })

  // 1. Sign in with the password; register a passkey through the API, as an account page would.
  await typePassword(page, base, '/auth/me')
  check(new URL(page.url()).pathname === '/auth/me', `signed in, got ${page.url()}`)
  const options = await pageFetch(page, 'POST', '/auth/passkeys/register/options', {
    password: PASSWORD,
  })
  check(options.status === 200, `registration options: ${JSON.stringify(options)}`)
  check(options.body.rp.id === 'localhost', `the RP ID is the host name: ${options.body.rp.id}`)
  const registered = await page.evaluate(async (json) => {
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(json)
    const credential = await navigator.credentials.create({ publicKey })
    const csrf = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)?.[1] ?? ''
    const response = await fetch('/auth/passkeys/register', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
      body: JSON.stringify({ name: 'Virtual authenticator', credential: credential.toJSON() }),
    })
    return { status: response.status, body: await response.json() }
  }, options.body)
  check(registered.status === 201, `passkey registered: ${JSON.stringify(registered)}`)
  const { credentials } = await devtools.send('WebAuthn.getCredentials', { authenticatorId })
  check(
    credentials.length === 1 &&
      credentials[0].isResidentCredential &&
      credentials[0].rpId === 'localhost',
    `the authenticator holds one discoverable credential: ${JSON.stringify(credentials)}`,
  )

  // 2. Sign out from the sign-in page.
  await page.goto(`${base}/auth/login`)
  await Promise.all([page.waitForNavigation(), page.click('text=Sign out')])
  check((await pageFetch(page, 'GET', '/auth/me')).status === 401, 'signed out')

  // 3. The passkey alone: the sign-in page's button, its script, the virtual authenticator.
  await page.goto(`${base}/auth/login?next=${encodeURIComponent('/dashboard?via=passkey')}`)
  const button = page.locator('#passkey')
  await button.waitFor({ state: 'visible' })
  check((await button.textContent()) === 'Sign in with a passkey', 'the passkey button shows')
  await Promise.all([page.waitForURL(/\/dashboard\?via=passkey$/), button.click()])
  const greeting = await page.locator('#greeting').textContent()
  check(greeting === `Hello, ${USERNAME}`, `the origin greets the user, got "${greeting}"`)
  const passkeyMe = await pageFetch(page, 'GET', '/auth/me')
  check(
    JSON.stringify(passkeyMe.body.amr) === '["hwk","mfa"]',
    `signed in by a passkey: ${JSON.stringify(passkeyMe.body)}`,
  )

  // 4. Turn on an authenticator app, with a code computed here.
  const started = await pageFetch(page, 'POST', '/auth/mfa/totp', { password: PASSWORD })
  check(started.status === 200, `TOTP set-up: ${JSON.stringify(started)}`)
  const secret = started.body.secret
  const confirmed = await pageFetch(page, 'POST', '/auth/mfa/totp/confirm', {
    code: totpCode(secret),
  })
  check(
    confirmed.status === 200 && confirmed.body.recovery_codes.length === 10,
    `TOTP confirmed: ${JSON.stringify(confirmed)}`,
  )
  await page.goto(`${base}/auth/login`)
  await Promise.all([page.waitForNavigation(), page.click('text=Sign out')])

  // 5. The password now leads to the second step; the code completes it and lands on next.
  await typePassword(page, base, '/dashboard?via=totp')
  check(new URL(page.url()).pathname === '/auth/login', `the second step, got ${page.url()}`)
  check(
    (await page.locator('h1').textContent()) === 'Two-step verification',
    'the page asks for the second factor',
  )
  check(await page.locator('#passkey').isVisible(), 'a passkey is offered as well')
  check((await pageFetch(page, 'GET', '/auth/me')).status === 401, 'not signed in yet')
  await page.fill('#code', '000000')
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
  check(
    (await page.locator('[role=alert]').textContent()) === 'Incorrect code.',
    'a wrong code is refused',
  )
  // The next step's code: the one of the set-up's step was used, and one step ahead is allowed.
  await page.fill('#code', totpCode(secret, 1))
  await Promise.all([page.waitForURL(/\/dashboard\?via=totp$/), page.click('button[type=submit]')])
  const totpMe = await pageFetch(page, 'GET', '/auth/me')
  check(
    JSON.stringify(totpMe.body.amr) === '["pwd","otp","mfa"]',
    `signed in with two factors: ${JSON.stringify(totpMe.body)}`,
  )
  await context.close()
}
