/**
 * API tokens and the session cache against the real stack (`npm run dev`): a token made with the
 * CLI authenticates `/auth/me` and a proxied request with one header and no cookie; revoking it
 * with the CLI ends it at once (401 `Invalid token.` with `WWW-Authenticate: Token`); and with
 * SESSION_CACHE_SECONDS a signed-in browser gets its signed copy at sign-in, and is let through on it.
 */
import { join } from 'node:path'
import { check, createUser, root, startStack, strongSecret } from './lib.mjs'

/** Runs `npm run user -- token ...` on the stack's local state, with its SECRET_KEY. */
async function tokenCommand(resources, state, secret, args) {
  const tsx = join(root, 'node_modules', '.bin', 'tsx')
  const { code, output } = await resources.run(
    `user token ${args[0]}`,
    tsx,
    ['scripts/cli/user.ts', 'token', ...args, '--persist-to', state],
    { env: { SECRET_KEY: secret }, timeoutMs: 120_000 },
  )
  if (code !== 0)
    throw new Error(`npm run user -- token ${args.join(' ')} failed (${code}):\n${output}`)
  return output
}

/** @param {import('./lib.mjs').Resources} resources */
export async function tokensTest(resources) {
  const state = await resources.tempDir('tokens')
  const secret = strongSecret()
  await createUser(resources, state, 'robot', 'correct horse battery staple')
  const created = await tokenCommand(resources, state, secret, ['create', 'robot', '--json'])
  const { key, token } = JSON.parse(created.slice(created.indexOf('{')))
  check(/^sgt_[A-Za-z0-9]{40}$/.test(key), `the key looks like a key: ${key}`)

  const { base } = await startStack(resources, state, {
    SECRET_KEY: secret,
    SESSION_CACHE_SECONDS: '30',
  })
  const auth = { Authorization: `Token ${key}` }
  const me = await fetch(`${base}/auth/me`, { headers: auth, signal: AbortSignal.timeout(10_000) })
  check(me.status === 200, `/auth/me with the token is 200, got ${me.status}`)
  const body = await me.json()
  check(body.user?.username === 'robot', `the token's user: ${JSON.stringify(body)}`)
  check(JSON.stringify(body.amr) === '["token"]', `amr is ["token"]: ${JSON.stringify(body.amr)}`)

  const proxied = await fetch(`${base}/`, { headers: auth, signal: AbortSignal.timeout(10_000) })
  const page = await proxied.text()
  check(proxied.status === 200, `a proxied GET with the token is 200, got ${proxied.status}`)
  check(page.includes('robot'), 'the demo origin names the token user')
  check(!page.includes(key), 'the key never reaches the origin')

  // A browser session: sign in, then the signed copy comes with the first proxied GET.
  const login = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'robot', password: 'correct horse battery staple' }),
    signal: AbortSignal.timeout(30_000),
  })
  check(login.status === 200, `login is 200, got ${login.status}`)
  const cookies = login.headers
    .getSetCookie()
    .map((cookie) => cookie.split(';')[0])
    .join('; ')
  check(cookies.includes('sessionid_cache='), `sign-in issues the copy: ${cookies}`)
  const cached = await fetch(`${base}/`, {
    headers: { Cookie: cookies },
    signal: AbortSignal.timeout(10_000),
  })
  const cachedPage = await cached.text()
  check(cached.status === 200, `a proxied GET on the copy is 200, got ${cached.status}`)
  check(cachedPage.includes('robot'), 'the demo origin names the signed-in user')

  await tokenCommand(resources, state, secret, ['revoke', 'robot', token.id])
  const revoked = await fetch(`${base}/auth/me`, {
    headers: auth,
    signal: AbortSignal.timeout(10_000),
  })
  check(revoked.status === 401, `a revoked token is 401, got ${revoked.status}`)
  check(
    revoked.headers.get('WWW-Authenticate') === 'Token',
    `WWW-Authenticate: Token, got ${revoked.headers.get('WWW-Authenticate')}`,
  )
  check((await revoked.json()).detail === 'Invalid token.', 'the 401 says "Invalid token."')
}
