/**
 * Real HTTP origins for the gateway tests, started in Node by vitest's globalSetup (the tests
 * run in workerd and cannot listen). The gateway's fetch() reaches them over loopback, so
 * hop-by-hop handling, streaming, redirects, timeouts and WebSockets are tested against real
 * servers, not mocks. Two of them, alike but for the name they give (`X-Origin: test` or
 * `second`), for route tables with two origins.
 *
 * Routes: `/slow?ms=N` waits before answering; `/redirect` answers 302; `/set-cookies` plants
 * cookies; `/hop` answers with hop-by-hop headers; `/stream` sends its body in timed chunks;
 * `/gzip` answers a gzip-encoded body; `/cors` answers with its own CORS headers;
 * `/status/N` answers N; `/hangup?key=K` drops the connection unanswered the first time it
 * sees K, as an origin closing an idle kept-alive connection does; anything else echoes the request as JSON (`method`, `url`, `headers`,
 * `bodyBytes`, `body`, `origin`). A WebSocket upgrade on any path but `/status/N` (which refuses
 * it with N) is accepted: the first message is the handshake as JSON (`origin`, `url`,
 * `headers`), then every message is sent back.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import type { TestProject } from 'vitest/node'
import { WebSocketServer } from 'ws'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test origin, `http://127.0.0.1:PORT`. */
    originUrl: string
    /** A second origin, `http://127.0.0.1:PORT`, that names itself `second`. */
    secondOriginUrl: string
    /** A loopback URL nothing listens on: the origin is down. */
    deadOriginUrl: string
  }
}

async function readAll(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** The `/hangup` keys already dropped once. */
const hungUp = new Set<string>()

async function handle(
  name: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://origin.test')
  if (url.pathname === '/cors') {
    response.writeHead(200, {
      'Access-Control-Allow-Origin': request.headers.origin ?? '*',
      'Access-Control-Allow-Credentials': 'true',
      'X-Origin': name,
    })
    response.end('cors')
    return
  }
  if (url.pathname === '/hangup' && !hungUp.has(url.search)) {
    hungUp.add(url.search)
    request.socket.destroy()
    return
  }
  if (url.pathname === '/slow') {
    await new Promise((resolve) => setTimeout(resolve, Number(url.searchParams.get('ms') ?? 1000)))
  }
  if (url.pathname === '/redirect') {
    response.writeHead(302, { Location: '/elsewhere' }).end()
    return
  }
  if (url.pathname === '/set-cookies') {
    response.setHeader('Set-Cookie', [
      'sessionid=planted; Path=/; HttpOnly',
      'csrftoken=planted; Path=/',
      'theme=dark; Path=/',
      'lang=fr; Path=/; Max-Age=60',
    ])
    response.end('cookies')
    return
  }
  if (url.pathname === '/hop') {
    response.setHeader('Connection', 'keep-alive, X-Origin-Private')
    response.setHeader('X-Origin-Private', 'secret')
    response.setHeader('Keep-Alive', 'timeout=5')
    response.setHeader('Proxy-Authenticate', 'Basic')
    response.setHeader('X-Kept', 'yes')
    response.end('hop')
    return
  }
  if (url.pathname === '/stream') {
    response.writeHead(200, { 'Content-Type': 'text/plain' })
    for (const part of ['one ', 'two ', 'three']) {
      response.write(part)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    response.end()
    return
  }
  if (url.pathname === '/gzip') {
    const body = gzipSync(JSON.stringify({ compressed: 'yes'.repeat(100) }))
    response.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Encoding': 'gzip',
      'Content-Length': String(body.length),
    })
    response.end(body)
    return
  }
  const status = /^\/status\/(\d{3})$/.exec(url.pathname)
  if (status) {
    response.writeHead(Number(status[1])).end()
    return
  }
  const body = await readAll(request)
  response.writeHead(200, { 'Content-Type': 'application/json', 'X-Origin': name })
  response.end(
    JSON.stringify({
      method: request.method,
      url: request.url,
      headers: request.headers,
      bodyBytes: body.length,
      body: body.length <= 4096 ? body.toString('utf8') : null,
      origin: name,
    }),
  )
}

/** An origin named `name` on a free loopback port, WebSockets included. */
async function startOrigin(name: string) {
  const server = createServer((request, response) => {
    handle(name, request, response).catch(() => response.destroy())
  })
  const sockets = new WebSocketServer({ noServer: true })
  server.on('upgrade', (request, socket, head) => {
    const status = /^\/status\/(\d{3})/.exec(request.url ?? '')
    if (status) {
      socket.end(`HTTP/1.1 ${status[1]} Refused\r\nContent-Length: 0\r\n\r\n`)
      return
    }
    sockets.handleUpgrade(request, socket, head, (ws) => {
      ws.send(JSON.stringify({ origin: name, url: request.url, headers: request.headers }))
      ws.on('message', (data, binary) => ws.send(data, { binary }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const client of sockets.clients) client.terminate()
      sockets.close()
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return { url: `http://127.0.0.1:${port}`, stop }
}

/** Starts the origins and hands their URLs to the tests; the returned function stops them. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const first = await startOrigin('test')
  const second = await startOrigin('second')

  // Bind, read the port, close: nothing listens there afterwards.
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const deadPort = (probe.address() as AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))

  project.provide('originUrl', first.url)
  project.provide('secondOriginUrl', second.url)
  project.provide('deadOriginUrl', `http://127.0.0.1:${deadPort}`)
  return async () => {
    await Promise.all([first.stop(), second.stop()])
  }
}
