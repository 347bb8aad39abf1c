/**
 * WebSockets and groups through the real `npm run dev`, in front of a real WebSocket origin
 * (the `ws` package) and with a route table (ROUTES): an anonymous upgrade is 401 and never
 * reaches the origin; a signed-in one is joined to it, messages echo, and the origin saw the
 * identity headers and no session cookie. Then a group added with the CLI (`npm run user --
 * group`) opens a group-only route to the live session at once, and the assertion says so.
 */
import { createServer } from 'node:http'
import { join } from 'node:path'
import { WebSocket, WebSocketServer } from 'ws'
import { check, createUser, root, startStack, strongSecret, withTimeout } from './lib.mjs'

const PASSWORD = 'wire-socket-lantern-42'

/** A real origin: HTTP requests are echoed as JSON; WebSockets send their handshake, then echo. */
async function startOrigin() {
  const upgrades = []
  const server = createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'application/json' })
    response.end(JSON.stringify({ url: request.url, headers: request.headers }))
  })
  const sockets = new WebSocketServer({ noServer: true })
  server.on('upgrade', (request, socket, head) => {
    upgrades.push(request.url)
    sockets.handleUpgrade(request, socket, head, (ws) => {
      ws.send(JSON.stringify({ url: request.url, headers: request.headers }))
      ws.on('message', (data, binary) => ws.send(data, { binary }))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () =>
    new Promise((resolve) => {
      for (const client of sockets.clients) client.terminate()
      server.closeAllConnections()
      server.close(resolve)
    })
  return { url: `http://127.0.0.1:${server.address().port}`, upgrades, close }
}

/**
 * Opens a WebSocket to `url` with `headers`. Resolves `{ socket, first }` (the first message,
 * parsed) once open, or `{ refused: status }` when the server answered without upgrading.
 */
function connect(url, headers = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers })
      socket.once('unexpected-response', (_request, response) => {
        response.resume()
        resolve({ refused: response.statusCode })
      })
      socket.once('message', (data) => resolve({ socket, first: JSON.parse(String(data)) }))
      socket.once('error', reject)
    }),
    30_000,
    `WebSocket to ${url}`,
  )
}

/** The next message on an open socket, as text. */
function nextMessage(socket) {
  return withTimeout(
    new Promise((resolve) => socket.once('message', (data) => resolve(String(data)))),
    10_000,
    'a WebSocket message',
  )
}

/** The claims of a JWT, unverified (the unit tests verify assertions; here: what they say). */
function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'))
}

/** @param {import('./lib.mjs').Resources} resources */
export async function websocketTest(resources) {
  const origin = await startOrigin()
  try {
    const state = await resources.tempDir('websocket')
    await createUser(resources, state, 'wendy', PASSWORD)
    // The CLI re-signs live sessions with the Worker's SECRET_KEY, as an operator's shell has it.
    const secret = strongSecret()
    const routes = [
      { path: '/ws/**' },
      { path: '/reports/**', groups: ['finance'] },
      { path: '/**', access: 'public' },
    ]
    const { base } = await startStack(resources, state, {
      ORIGIN_URL: origin.url,
      SECRET_KEY: secret,
      ROUTES: JSON.stringify(routes),
    })
    const wsBase = base.replace(/^http/, 'ws')

    const anonymous = await connect(`${wsBase}/ws/chat`)
    check(
      anonymous.refused === 401,
      `an anonymous upgrade is 401, got ${JSON.stringify(anonymous)}`,
    )
    check(origin.upgrades.length === 0, `the origin saw no upgrade: ${origin.upgrades}`)

    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'wendy', password: PASSWORD }),
      signal: AbortSignal.timeout(30_000),
    })
    check(login.status === 200, `login is 200, got ${login.status}`)
    const user = (await login.json()).user
    const jar = Object.fromEntries(
      login.headers.getSetCookie().map((cookie) => cookie.split(';')[0].split('=')),
    )
    const cookie = `sessionid=${jar.sessionid}; theme=dark`

    const signedIn = await connect(`${wsBase}/ws/chat?room=1`, { Cookie: cookie })
    check(signedIn.socket, `a signed-in upgrade opens, got ${JSON.stringify(signedIn.refused)}`)
    const { socket, first } = signedIn
    try {
      check(first.url === '/ws/chat?room=1', `the origin got the path and query: ${first.url}`)
      check(
        first.headers['x-auth-user-id'] === String(user.id),
        `the origin saw X-Auth-User-Id ${user.id}: ${first.headers['x-auth-user-id']}`,
      )
      check(first.headers['x-auth-username'] === 'wendy', 'the origin saw X-Auth-Username')
      const assertion = claims(first.headers['x-auth-assertion'])
      check(assertion.sub === String(user.id), `the assertion names the user: ${assertion.sub}`)
      check(
        !first.headers.cookie?.includes('sessionid'),
        `no session cookie at the origin: ${first.headers.cookie}`,
      )
      check(first.headers.cookie?.includes('theme=dark'), 'other cookies reach the origin')
      for (const text of ['hello', 'över the wire', 'x'.repeat(70_000)]) {
        socket.send(text)
        const echoed = await nextMessage(socket)
        check(echoed === text, `a ${text.length}-character message echoes`)
      }
    } finally {
      socket.close(1000)
    }

    // Groups: a CLI change reaches the live session at once.
    const report = () =>
      fetch(`${base}/reports/q1`, {
        headers: { Cookie: cookie, Accept: 'application/json' },
        signal: AbortSignal.timeout(30_000),
      })
    const before = await report()
    check(before.status === 403, `a group-only route is 403 before, got ${before.status}`)
    const tsx = join(root, 'node_modules', '.bin', 'tsx')
    const args = ['scripts/cli/user.ts', 'group', 'wendy', 'add', 'finance', '--persist-to', state]
    const added = await resources.run('user group', tsx, args, { env: { SECRET_KEY: secret } })
    check(added.code === 0, `npm run user -- group exits 0:\n${added.output}`)
    check(
      added.output.includes('1 live session updated'),
      `the session was updated:\n${added.output}`,
    )
    const after = await report()
    check(after.status === 200, `the route opens at once, got ${after.status}`)
    const seen = await after.json()
    const groups = claims(seen.headers['x-auth-assertion']).groups
    check(JSON.stringify(groups) === '["finance"]', `the assertion has the group: ${groups}`)
    const me = await (await fetch(`${base}/auth/me`, { headers: { Cookie: cookie } })).json()
    check(JSON.stringify(me.user.groups) === '["finance"]', `USER has the group: ${me.user.groups}`)
  } finally {
    await origin.close()
  }
}
