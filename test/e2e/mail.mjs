/**
 * Password reset and e-mail verification in a real headless Chromium against the real stack
 * (`npm run dev`, production mode, EMAIL_VERIFICATION=mandatory), its mail caught by a small
 * relay here: what EMAIL_BACKEND=http posts to. A user made with the CLI follows "Forgot
 * password?" from the sign-in page, opens the mailed link, sets a new password, is refused at
 * sign-in until the e-mail is verified, confirms the verification page's button, and signs in.
 * Then real Django (Debian's python3-django) and sessiongate check each other's reset tokens.
 */
import { createServer } from 'node:http'
import { join } from 'node:path'
import { tsImport } from 'tsx/esm/api'
import { check, createUser, freePort, root, startStack, strongSecret } from './lib.mjs'

const PYTHON = process.env.PYTHON || '/usr/bin/python3'
const USERNAME = 'grace'
const EMAIL = 'grace@example.com'
const PASSWORD = 'first-compiler-1952'
const NEW_PASSWORD = 'nanoseconds-on-a-wire-11'
const RELAY_TOKEN = strongSecret()

/** A relay that keeps every message posted to it, with the Authorization it came with. */
async function startRelay() {
  const messages = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk) => {
      body += chunk
    })
    request.on('end', () => {
      messages.push({ ...JSON.parse(body), authorization: request.headers.authorization })
      response.writeHead(202).end()
    })
  })
  const port = await freePort()
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${port}/send`, messages, server }
}

/** The link to `path` in the newest message to `to`, waiting for it a little. */
async function mailedLink(messages, to, path) {
  for (let i = 0; i < 100; i++) {
    const message = messages.filter((m) => m.to === to).at(-1)
    const match = message?.text.match(new RegExp(`https?://\\S+${path}\\S*`))
    if (match) return { link: match[0], message }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`no ${path} link mailed to ${to}: ${JSON.stringify(messages)}`)
}

/**
 * A JSON request with the browser's cookies (and its CSRF token, as Django wants it). Made by
 * Playwright beside the page: the pages' CSP lets no script of theirs fetch anything.
 */
async function pageFetch(page, method, path, body) {
  const url = new URL(path, page.url())
  const cookies = await page.context().cookies(url.origin)
  const csrf = cookies.find((cookie) => cookie.name === 'csrftoken')?.value ?? ''
  const response = await page.request.fetch(url.href, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf, Origin: url.origin },
    data: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status(), body: text ? JSON.parse(text) : null }
}

async function signIn(page, base, password) {
  await page.goto(`${base}/auth/login?next=${encodeURIComponent('/auth/me')}`)
  await page.fill('#username', USERNAME)
  await page.fill('#password', password)
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
}

/** @param {import('./lib.mjs').Resources} resources */
export async function mailTest(resources) {
  const relay = await startRelay()
  try {
    await browserFlow(resources, relay)
  } finally {
    relay.server.close()
  }
  await djangoBothWays(resources)
}

async function browserFlow(resources, relay) {
  const state = await resources.tempDir('mail')
  await createUser(resources, state, USERNAME, PASSWORD, ['--email', EMAIL])
  const { port } = await startStack(resources, state, {
    EMAIL_BACKEND: 'http',
    EMAIL_HTTP_URL: relay.url,
    EMAIL_HTTP_TOKEN: RELAY_TOKEN,
    EMAIL_FROM: 'accounts@example.com',
    EMAIL_VERIFICATION: 'mandatory',
  })
  const base = `http://localhost:${port}`
  const page = await resources.page()
  // 1. "Forgot password?" from the sign-in page, the address, the e-mail.
  await page.goto(`${base}/auth/login`)
  await Promise.all([page.waitForNavigation(), page.click('text=Forgot password?')])
  check(new URL(page.url()).pathname === '/auth/password/reset', `the form, got ${page.url()}`)
  await page.fill('#email', EMAIL.toUpperCase())
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
  check((await page.textContent('h1')) === 'Check your inbox', 'the request was taken')
  const { link, message } = await mailedLink(relay.messages, EMAIL, '/auth/password/reset/confirm')
  check(message.authorization === `Bearer ${RELAY_TOKEN}`, 'the relay got the bearer token')
  check(message.from === 'accounts@example.com', `EMAIL_FROM: ${message.from}`)
  check(new URL(link).origin === base, `the link starts with the request's origin: ${link}`)

  // 2. The link: a new password, twice.
  await page.goto(link)
  await page.fill('#new_password', NEW_PASSWORD)
  await page.fill('#new_password2', NEW_PASSWORD)
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
  check((await page.textContent('h1')) === 'Password reset complete', 'the password was reset')
  check((await pageFetch(page, 'GET', '/auth/me')).status === 401, 'a reset does not sign in')
  await page.goto(link)
  check(
    (await page.textContent('[role=alert]')) === 'Invalid or expired password reset link.',
    'the link works once',
  )

  // 3. The new password is right, but the e-mail is not verified yet.
  await signIn(page, base, NEW_PASSWORD)
  const refused = await page.textContent('[role=alert]')
  check(refused === 'E-mail is not verified.', `mandatory verification: ${refused}`)

  // 4. A verification link; its page verifies only when its button is pressed.
  const resent = await pageFetch(page, 'POST', '/auth/email/verify/resend', { email: EMAIL })
  check(resent.status === 200, `resend: ${JSON.stringify(resent)}`)
  const verification = await mailedLink(relay.messages, EMAIL, '/auth/email/verify')
  await page.goto(verification.link)
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
  check((await page.textContent('h1')) === 'E-mail address confirmed', 'the e-mail is verified')

  // 5. Now the new password signs in.
  await signIn(page, base, NEW_PASSWORD)
  check(new URL(page.url()).pathname === '/auth/me', `signed in, got ${page.url()}`)
  const me = await pageFetch(page, 'GET', '/auth/me')
  check(me.body.user.email_verified === true, `verified in USER: ${JSON.stringify(me.body)}`)
}

/**
 * Real Django and sessiongate make the same token for the same user and clock, and each accepts
 * the other's: users with and without a last login (with milliseconds, as sessiongate stores
 * it), without an e-mail, with a non-ASCII one, and a token tampered with, which neither takes.
 */
async function djangoBothWays(resources) {
  const tokens = await tsImport('../../src/mail/tokens.ts', import.meta.url)
  const secret = strongSecret()
  const now = new Date(Date.UTC(2026, 5, 1, 12, 0, Math.floor(Math.random() * 3600))).toISOString()
  const users = [
    {
      id: 1,
      password: 'argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
      email: EMAIL,
      last_login: null,
    },
    {
      id: 4242,
      password: 'pbkdf2_sha256$1000000$salt$hash=',
      email: 'Dörte@Example.com',
      last_login: '2026-05-31T23:59:59.999Z',
    },
    { id: 77, password: '!unusable', email: '', last_login: '2026-01-01T00:00:00.000Z' },
  ]
  const ours = await Promise.all(
    users.map((user) => tokens.makeToken(user, secret, Date.parse(now))),
  )
  const tampered = `${ours[0].slice(0, -1)}${ours[0].endsWith('0') ? '1' : '0'}`
  const cases = [
    ...users.map((user, i) => ({ user, secret, now, token: ours[i] })),
    { user: users[0], secret, now, token: tampered },
  ]
  const child = resources.spawn(
    'django tokens',
    PYTHON,
    [join(root, 'test/fixtures/django/reset_tokens.py'), '--both-ways'],
    { input: JSON.stringify({ cases }), env: { PYTHONDONTWRITEBYTECODE: '1' } },
  )
  const code = await child.exited
  check(code === 0, `Django ran:\n${child.output()}`)
  const { results } = JSON.parse(child.output())
  for (const [i, user] of users.entries()) {
    check(results[i].token === ours[i], `Django makes our token for user ${user.id}`)
    check(results[i].accepts, `Django accepts our token for user ${user.id}`)
    check(results[i].uid === tokens.encodeUid(user.id), `the uid of user ${user.id}`)
    const accepted = await tokens.checkToken(
      user,
      results[i].token,
      [secret],
      Date.parse(now),
      259_200,
    )
    check(accepted, `sessiongate accepts Django's token for user ${user.id}`)
  }
  check(results[3].accepts === false, 'Django refuses a tampered token')
  check(
    !(await tokens.checkToken(users[0], tampered, [secret], Date.parse(now), 259_200)),
    'sessiongate refuses it too',
  )
}
