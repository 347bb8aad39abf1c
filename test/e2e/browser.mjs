/**
 * A real headless Chromium against the real stack (`npm run dev`: wrangler dev + the demo
 * origin): a protected page sends the browser to sign in; a wrong password shows the error; the
 * right one lands on `next`, where the demo origin greets the user from the verified assertion;
 * signing out goes back to the sign-in page. Saves the sign-in page as docs/sign-in.png.
 */
import { join } from 'node:path'
import { check, createUser, root, startStack } from './lib.mjs'

const USERNAME = 'grace'
const PASSWORD = 'correct-horse-battery-42'

/** @param {import('./lib.mjs').Resources} resources */
export async function browserTest(resources) {
  const state = await resources.tempDir('browser')
  await createUser(resources, state, USERNAME, PASSWORD, ['--email', 'grace@example.com'])
  const { base } = await startStack(resources, state)

  const page = await resources.page()
  const context = page.context()

  // 1. A protected page: the gateway sends the browser to sign in, with next.
  await page.goto(`${base}/dashboard?tab=orders`)
  const signIn = new URL(page.url())
  check(signIn.pathname === '/auth/login', `redirected to sign in, got ${page.url()}`)
  check(signIn.searchParams.get('next') === '/dashboard?tab=orders', `next kept: ${page.url()}`)
  check(
    (await page.evaluate(() => document.activeElement?.id)) === 'username',
    'the username field has the focus',
  )
  await page.screenshot({ path: join(root, 'docs', 'sign-in.png') })

  // 2. A wrong password: the form again, with an alert linked to the fields.
  await page.fill('#username', USERNAME)
  await page.fill('#password', 'not-the-password')
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
  const alert = page.locator('[role=alert]')
  check(
    (await alert.textContent())?.includes('Unable to log in with provided credentials.'),
    'the error is shown',
  )
  check(
    (await page.getAttribute('#password', 'aria-describedby')) === 'login-error',
    'the error is linked to the fields',
  )
  check((await page.inputValue('#username')) === USERNAME, 'the username is kept')

  // 3. The right password: back to next, where the origin knows who is calling.
  await page.fill('#password', PASSWORD)
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
  const landed = new URL(page.url())
  check(
    landed.pathname === '/dashboard' && landed.search === '?tab=orders',
    `landed on next, got ${page.url()}`,
  )
  const greeting = await page.locator('#greeting').textContent()
  check(greeting === `Hello, ${USERNAME}`, `the origin greets the user, got "${greeting}"`)
  check(
    (await page.content()).includes('grace@example.com'),
    'the origin shows the e-mail from the assertion',
  )
  const cookies = await context.cookies()
  const session = cookies.find((cookie) => cookie.name === 'sessionid')
  check(session?.httpOnly && session.sameSite === 'Lax', 'the session cookie is HttpOnly, Lax')

  // 4. Sign out from the origin's page: back to the sign-in form, and the page is closed again.
  await Promise.all([page.waitForNavigation(), page.click('text=Sign out')])
  check(new URL(page.url()).pathname === '/auth/login', `signed out to ${page.url()}`)
  check(await page.locator('#username').isVisible(), 'the sign-in form is shown again')
  await page.goto(`${base}/dashboard`)
  check(new URL(page.url()).pathname === '/auth/login', 'the protected page needs a login again')
  await context.close()
}
