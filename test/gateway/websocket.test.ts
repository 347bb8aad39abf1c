/**
 * WebSockets through the gateway: the upgrade is judged by the policy like any request (401 or
 * 403, never upgraded), then joined to the real test origin's WebSocket with the identity headers
 * and without the session cookie.
 */
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { Client } from '../helpers'
import { gatewayApp, loggedIn } from './helpers'

/** What the test origin sends first: the handshake it received. */
interface Handshake {
  origin: string
  url: string
  headers: Record<string, string | undefined>
}

/** The next message on `socket`, as text. */
function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    const onMessage = (event: MessageEvent) => {
      socket.removeEventListener('message', onMessage)
      resolve(typeof event.data === 'string' ? event.data : new TextDecoder().decode(event.data))
    }
    socket.addEventListener('message', onMessage)
    socket.addEventListener('close', () => reject(new Error('closed before a message')))
  })
}

/** Opens the WebSocket of an upgraded response; the first message is the origin's handshake. */
async function open(response: Response): Promise<{ socket: WebSocket; handshake: Handshake }> {
  const socket = response.webSocket
  if (!socket) throw new Error(`not upgraded: ${response.status} ${await response.text()}`)
  socket.accept()
  const handshake = JSON.parse(await nextMessage(socket)) as Handshake
  return { socket, handshake }
}

const UPGRADE = { Upgrade: 'websocket', Connection: 'Upgrade' }

describe('WebSocket upgrades', () => {
  it('answers 401 to an anonymous upgrade on a protected path, without upgrading', async () => {
    const { fetcher } = await gatewayApp()
    const response = await new Client(fetcher).get('/ws/chat', { headers: UPGRADE })
    expect(response.status).toBe(401)
    expect(response.webSocket).toBeNull()
    expect(await response.json()).toEqual({
      detail: 'Authentication credentials were not provided.',
    })
  })

  it('answers 403 to an upgrade by a user the policy refuses, without upgrading', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS: '/ws/**' })
    const { client } = await loggedIn(fetcher)
    const response = await client.get('/ws/admin', { headers: UPGRADE })
    expect(response.status).toBe(403)
    expect(response.webSocket).toBeNull()
  })

  it('joins a signed-in upgrade to the origin: messages echo both ways', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const response = await client.get('/ws/chat?room=1', { headers: UPGRADE })
    expect(response.status).toBe(101)
    const { socket, handshake } = await open(response)
    expect(handshake.url).toBe('/ws/chat?room=1')
    socket.send('hello')
    expect(await nextMessage(socket)).toBe('hello')
    socket.send('again')
    expect(await nextMessage(socket)).toBe('again')
    socket.close(1000, 'done')
  })

  it('sends the identity headers and no session cookie to the origin', async () => {
    const { fetcher } = await gatewayApp()
    const { client, user } = await loggedIn(fetcher)
    const response = await client.get('/ws/chat', {
      headers: { ...UPGRADE, Cookie: `${cookieHeader(client)}; theme=dark` },
    })
    const { socket, handshake } = await open(response)
    socket.close(1000)
    expect(handshake.headers['x-auth-user-id']).toBe(String(user.id))
    expect(handshake.headers['x-auth-username']).toBe(user.username)
    expect(decodeJwt(handshake.headers['x-auth-assertion'] ?? '').sub).toBe(String(user.id))
    expect(handshake.headers.cookie).not.toContain('sessionid')
    expect(handshake.headers.cookie).toContain('theme=dark')
    expect(handshake.headers.upgrade?.toLowerCase()).toBe('websocket')
  })

  it('proxies an anonymous upgrade on a public path, without identity headers', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/live/**' })
    const response = await new Client(fetcher).get('/live/feed', {
      headers: { ...UPGRADE, 'X-Auth-User-Id': '1' },
    })
    const { socket, handshake } = await open(response)
    socket.close(1000)
    expect(handshake.headers['x-auth-user-id']).toBeUndefined()
  })

  it('takes an `Upgrade: websocket` sent without a Connection header as an upgrade', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/live/**' })
    const response = await new Client(fetcher).get('/live/feed', {
      headers: { Upgrade: 'websocket' },
    })
    expect(response.status).toBe(101)
    ;(await open(response)).socket.close(1000)
  })

  it('answers 404 to an upgrade no route takes, and 403 to one needing a second factor', async () => {
    const routes = [{ path: '/ws/**', mfa: true }]
    const { fetcher } = await gatewayApp({ ROUTES: JSON.stringify(routes) })
    const { client } = await loggedIn(fetcher)
    expect((await client.get('/other', { headers: UPGRADE })).status).toBe(404)
    const refused = await client.get('/ws/x', { headers: UPGRADE })
    expect(refused.status).toBe(403)
    expect(refused.webSocket).toBeNull()
  })

  it('passes on a subprotocol the origin chooses', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/live/**' })
    const response = await new Client(fetcher).get('/live/feed', {
      headers: { ...UPGRADE, 'Sec-WebSocket-Protocol': 'chat' },
    })
    const { socket, handshake } = await open(response)
    socket.close(1000)
    expect(handshake.headers['sec-websocket-protocol']).toBe('chat')
    expect(response.headers.get('Sec-WebSocket-Protocol')).toBe('chat')
  })

  it('passes on an origin that refuses the upgrade (its status, no socket)', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/status/**' })
    const response = await new Client(fetcher).get('/status/403', { headers: UPGRADE })
    expect(response.status).toBe(403)
    expect(response.webSocket).toBeNull()
  })

  it('answers 403 to an upgrade from a foreign page (cross-site WebSocket hijacking)', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const response = await client.get('/ws/chat', {
      headers: { ...UPGRADE, Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
    })
    expect(response.status).toBe(403)
    expect(response.webSocket).toBeNull()
    expect(await response.json()).toEqual({
      detail:
        'CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins.',
    })
    const ownPage = await client.get('/ws/chat', {
      headers: { ...UPGRADE, Origin: 'http://localhost' },
    })
    expect(ownPage.status).toBe(101)
    ;(await open(ownPage)).socket.close(1000)
  })
})

/** The client's cookies as one header. */
function cookieHeader(client: Client): string {
  return [...client.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
}
