/**
 * What nginx, Caddy or Traefik in front of an app must achieve with sessiongate's forward-auth,
 * checked the same way for each: a tiny app that verifies the assertion with jose (issuer,
 * audience and ES256 pinned), and the scenario a proxy must pass.
 */
import { createServer } from 'node:http'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { check, createUser } from './lib.mjs'

export const PASSWORD = 'forward-auth-passphrase-77'

/** TRUSTED_PROXY_SECRET, shared by the gateway and the proxy's config. */
export const PROXY_SECRET = 'e2e-trusted-proxy-secret-0123456789-abcdef'

/** Creates the scenario's users: nina, and sam who is staff. */
export async function createForwardAuthUsers(resources, state) {
  await createUser(resources, state, 'nina', PASSWORD)
  await createUser(resources, state, 'sam', PASSWORD, ['--staff'])
}

/** The gateway's settings for the scenario (forward-auth only: no ORIGIN_URL). */
export function forwardAuthSettings(site) {
  return {
    ORIGIN_URL: '',
    PUBLIC_PATHS: '/public/**',
    STAFF_PATHS: '/admin/**',
    ASSERTION_AUDIENCE: site,
    TRUSTED_PROXY_SECRET: PROXY_SECRET,
  }
}

/** The app behind the proxy: echoes what it received and what the assertion proves. */
export async function startOrigin(port, jwksUrl, audience) {
  const jwks = createRemoteJWKSet(new URL(jwksUrl))
  const server = createServer(async (request, response) => {
    const token = request.headers['x-auth-assertion']
    let claims = null
    let error = null
    if (token) {
      try {
        const verified = await jwtVerify(token, jwks, {
          issuer: 'sessiongate',
          audience,
          algorithms: ['ES256'],
        })
        claims = verified.payload
      } catch (failure) {
        error = String(failure)
      }
    }
    response.writeHead(200, { 'Content-Type': 'application/json' })
    response.end(
      JSON.stringify({
        path: request.url,
        userId: request.headers['x-auth-user-id'] ?? null,
        username: request.headers['x-auth-username'] ?? null,
        cookie: request.headers.cookie ?? null,
        claims,
        error,
      }),
    )
  })
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
  return server
}

/** GET through the proxy without following redirects. */
function get(url, headers = {}) {
  return fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(15_000) })
}

/**
 * The scenario, through the proxy at `site`: anonymous 401 / 302 / public; sign-in through the
 * proxy; identity verified by the app and never spoofable; the session cookie kept from the
 * app; staff paths; sign-out.
 */
export async function checkForwardAuth(site) {
  // Anonymous: API 401, browser 302 to sign-in, public path passes without identity.
  const api = await get(`${site}/app/data`, { Accept: 'application/json' })
  check(api.status === 401, `anonymous API call is 401, got ${api.status}`)
  const page = await get(`${site}/app/page`, { Accept: 'text/html' })
  check(page.status === 302, `anonymous navigation is 302, got ${page.status}`)
  check(
    page.headers.get('location')?.endsWith('/auth/login?next=/app/page'),
    `redirected to sign in: ${page.headers.get('location')}`,
  )
  const open = await (
    await get(`${site}/public/info`, { 'X-Auth-User-Id': '1', 'X-Auth-Assertion': 'forged' })
  ).json()
  check(
    open.userId === null && open.claims === null && open.error === null,
    `public path: no identity, spoofed headers removed: ${JSON.stringify(open)}`,
  )

  // Sign in through nginx (same host: the CSRF origin check and the cookies line up).
  const login = await fetch(`${site}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: site },
    body: JSON.stringify({ username: 'nina', password: PASSWORD }),
    signal: AbortSignal.timeout(30_000),
  })
  check(login.status === 200, `login through nginx is 200, got ${login.status}`)
  const jar = Object.fromEntries(
    login.headers.getSetCookie().map((cookie) => cookie.split(';')[0].split('=')),
  )
  const cookie = `theme=dark; sessionid=${jar.sessionid}; csrftoken=${jar.csrftoken}`
  const user = (await login.json()).user

  // Logged in: the origin gets verified identity, never the client's, never the session key.
  const seen = await (
    await get(`${site}/app/data?x=1`, { Cookie: cookie, 'X-Auth-User-Id': '999' })
  ).json()
  check(seen.path === '/app/data?x=1', `path kept: ${seen.path}`)
  check(seen.userId === String(user.id), `X-Auth-User-Id is the user's: ${seen.userId}`)
  check(seen.username === 'nina', 'X-Auth-Username set')
  check(seen.claims?.sub === String(user.id), `assertion verified by the origin: ${seen.error}`)
  check(seen.claims?.aud === site && seen.claims?.iss === 'sessiongate', 'iss and aud pinned')
  // The proxy vouches for the client's address with the secret; a client's own claim is ignored.
  const spoofedAddress = await (
    await get(`${site}/app/data`, { Cookie: cookie, 'X-Forwarded-For': '203.0.113.66' })
  ).json()
  check(
    spoofedAddress.claims?.client_ip === '127.0.0.1',
    `client address from the proxy, not the client: ${spoofedAddress.claims?.client_ip}`,
  )
  check(!seen.cookie?.includes('sessionid'), `session cookie kept from the app: ${seen.cookie}`)
  check(seen.cookie?.includes('theme=dark'), 'other cookies reach the app')

  // Staff paths: 403 for nina, 200 for sam.
  const refused = await get(`${site}/admin/users`, { Cookie: cookie })
  check(refused.status === 403, `non-staff on a staff path is 403, got ${refused.status}`)
  // A client naming a public URI in the proxy's other header cannot relax the policy.
  const spoof = { 'X-Original-URI': '/public/x', 'X-Forwarded-Uri': '/public/x' }
  const stillRefused = await get(`${site}/admin/users`, { Cookie: cookie, ...spoof })
  check(stillRefused.status === 403, `spoofed URI headers still 403, got ${stillRefused.status}`)
  const stillAnonymous = await get(`${site}/app/data`, spoof)
  check(
    stillAnonymous.status === 401,
    `spoofed URI headers still 401, got ${stillAnonymous.status}`,
  )
  const staffLogin = await fetch(`${site}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: site },
    body: JSON.stringify({ username: 'sam', password: PASSWORD }),
    signal: AbortSignal.timeout(30_000),
  })
  const staffSession = staffLogin.headers
    .getSetCookie()
    .find((c) => c.startsWith('sessionid='))
    ?.split(';')[0]
  const admin = await get(`${site}/admin/users`, { Cookie: staffSession })
  check(admin.status === 200, `staff on a staff path is 200, got ${admin.status}`)

  // Logged out: back to 401.
  const logout = await fetch(`${site}/auth/logout`, {
    method: 'POST',
    headers: { Cookie: cookie, Origin: site, 'X-CSRFToken': jar.csrftoken },
    signal: AbortSignal.timeout(30_000),
  })
  check(logout.status === 200, `logout through nginx is 200, got ${logout.status}`)
  const after = await get(`${site}/app/data`, { Cookie: cookie })
  check(after.status === 401, `after logout the session is refused, got ${after.status}`)
}
