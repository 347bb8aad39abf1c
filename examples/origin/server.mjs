/**
 * The demo origin behind sessiongate: a plain Node HTTP server (no framework) that trusts no
 * header but the signed `X-Auth-Assertion`, verified with jose against the gateway's JWKS,
 * issuer, audience and algorithm pinned. It shows who is calling as HTML (browsers) or JSON.
 *
 * Settings (environment):
 *   GATEWAY_URL         where the gateway serves /.well-known/jwks.json (default http://127.0.0.1:8787)
 *   HOST, PORT          where to listen (default 127.0.0.1, 9000)
 *   ASSERTION_ISSUER    the expected `iss` (default `sessiongate`, the gateway's default)
 *   ASSERTION_AUDIENCE  the expected `aud` (default this server's own origin, which is what the
 *                       gateway uses when ORIGIN_URL points here)
 *
 * `/healthz` and everything under `/public/` answer without an assertion; every other path
 * answers 401 when it is missing or invalid.
 */
import { createServer } from 'node:http'
import { createRemoteJWKSet, jwtVerify } from 'jose'

const host = process.env.HOST || '127.0.0.1'
const port = Number(process.env.PORT || 9000)
const gateway = process.env.GATEWAY_URL || 'http://127.0.0.1:8787'
const issuer = process.env.ASSERTION_ISSUER || 'sessiongate'
const audience = process.env.ASSERTION_AUDIENCE || `http://${host}:${port}`

// jose caches the JWKS and refetches it when it meets an unknown `kid` (key rotation).
const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', gateway))

/**
 * The verified claims and header of the request's assertion, or null with the reason.
 * @param {import('node:http').IncomingMessage} request
 */
async function identify(request) {
  const token = request.headers['x-auth-assertion']
  if (typeof token !== 'string' || token === '') return { claims: null, reason: 'no assertion' }
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      algorithms: ['ES256'],
    })
    return { claims: payload, kid: protectedHeader.kid, reason: null }
  } catch (error) {
    return { claims: null, reason: `invalid assertion (${error.code ?? error.message})` }
  }
}

/** @param {unknown} value */
function escapeHtml(value) {
  return String(value).replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char],
  )
}

/** The value of one cookie of the request, or ''. */
function cookie(request, name) {
  for (const pair of (request.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = pair.trim().split('=')
    if (key === name) return rest.join('=')
  }
  return ''
}

function page(title, body) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1c2024; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { text-align: left; padding: .25rem .75rem .25rem 0; }
th { color: #5b6470; font-weight: 500; } code { font-size: .875rem; }
button { font: inherit; padding: .4rem 1rem; border-radius: 6px; border: 1px solid #c9ced6; background: #fff; cursor: pointer; }
</style></head>
<body>${body}</body></html>
`
}

function whoPage(request, url, identity) {
  const { claims } = identity
  const rows = [
    ['User id (sub)', claims.sub],
    ['Username', claims.preferred_username],
    ['Email', claims.email || '—'],
    ['Staff', claims.is_staff ? 'yes' : 'no'],
    ['Superuser', claims.is_superuser ? 'yes' : 'no'],
    ['Assertion key', identity.kid],
    ['Assertion expires', new Date(claims.exp * 1000).toISOString()],
    ['Path', url.pathname + url.search],
  ]
  // The csrftoken cookie reaches the origin; its value is an accepted (unmasked) form token.
  const token = cookie(request, 'csrftoken')
  return page(
    `Hello, ${claims.preferred_username}`,
    `<h1 id="greeting">Hello, ${escapeHtml(claims.preferred_username)}</h1>
<p>This page comes from the demo origin. It knows you only from the signed identity assertion
that sessiongate attached to the request, verified against the gateway's JWKS.</p>
<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td><code>${escapeHtml(v)}</code></td></tr>`).join('')}</table>
<form method="post" action="/auth/logout">
<input type="hidden" name="csrfmiddlewaretoken" value="${escapeHtml(token)}">
<input type="hidden" name="next" value="/auth/login">
<button type="submit">Sign out</button>
</form>
`,
  )
}

function send(response, status, type, body) {
  response.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' })
  response.end(body)
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', `http://${host}:${port}`)
  const wantsHtml = /text\/html/.test(request.headers.accept ?? '')
  if (url.pathname === '/healthz') return send(response, 200, 'application/json', '{"status":"ok"}')
  const identity = await identify(request)
  if (url.pathname.startsWith('/public/')) {
    const who = identity.claims ? identity.claims.preferred_username : null
    return send(response, 200, 'application/json', JSON.stringify({ public: true, user: who }))
  }
  if (!identity.claims) {
    return send(response, 401, 'application/json', JSON.stringify({ detail: identity.reason }))
  }
  if (wantsHtml)
    return send(response, 200, 'text/html; charset=utf-8', whoPage(request, url, identity))
  const { sub, preferred_username, email, is_staff, is_superuser, exp } = identity.claims
  const user = { id: sub, username: preferred_username, email, is_staff, is_superuser }
  const body = {
    user,
    assertion: { kid: identity.kid, exp },
    method: request.method,
    path: url.pathname + url.search,
  }
  return send(response, 200, 'application/json', JSON.stringify(body))
})

server.listen(port, host, () => {
  console.log(`demo origin on http://${host}:${port} (JWKS from ${gateway}, aud ${audience})`)
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)).closeAllConnections())
}
