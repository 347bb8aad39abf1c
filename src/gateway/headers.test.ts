import { describe, expect, it } from 'vitest'
import {
  downstreamResponseHeaders,
  headerSafe,
  hopByHopOf,
  isWebSocketUpgrade,
  originHeaderName,
  setCookieName,
  upstreamRequestHeaders,
  withoutCookies,
} from './headers'

describe('hopByHopOf', () => {
  it('tells RFC 9110 hop-by-hop fields, Proxy-* and what Connection names', () => {
    const headers = new Headers({
      Connection: 'keep-alive, X-Hop',
      'X-Hop': '1',
      'Keep-Alive': 'timeout=5',
      'Proxy-Connection': 'keep-alive',
      'Proxy-Foo': 'bar',
      TE: 'trailers',
      Trailer: 'Expires',
      Upgrade: 'h2c',
      Accept: 'application/json',
    })
    const hopByHop = hopByHopOf(headers)
    expect([...headers.keys()].filter((name) => !hopByHop(name))).toEqual(['accept'])
  })

  it('compares names as origins read them: case-folded, `_` as `-`', () => {
    const headers = new Headers({
      Connection: 'X_Private_Hop, x-other-hop',
      'X-Private-Hop': '1',
      X_Other_Hop: '2',
      Keep_Alive: 'timeout=5',
      Transfer_Encoding: 'chunked',
      Proxy_Authorization: 'Basic Zm9vOmJhcg==',
      Accept: 'application/json',
    })
    const hopByHop = hopByHopOf(headers)
    expect([...headers.keys()].filter((name) => !hopByHop(name))).toEqual(['accept'])
  })
})

describe('originHeaderName', () => {
  it('folds case and reads `_` as `-`', () => {
    expect(originHeaderName('X_Auth_User_Id')).toBe('x-auth-user-id')
    expect(originHeaderName('x-auth_user-ID')).toBe('x-auth-user-id')
    expect(originHeaderName('CF_Connecting_IP')).toBe('cf-connecting-ip')
  })
})

describe('withoutCookies', () => {
  it('removes the named cookies and keeps the others in order', () => {
    expect(withoutCookies('a=1; sessionid=abc; b=2', ['sessionid'])).toBe('a=1; b=2')
    expect(withoutCookies('sessionid=abc;sessionid=def', ['sessionid'])).toBeNull()
    expect(withoutCookies('xsessionid=1; sessionidx=2', ['sessionid'])).toBe(
      'xsessionid=1; sessionidx=2',
    )
    expect(withoutCookies(null, ['sessionid'])).toBeNull()
  })

  it('removes the cookie from Cookie headers joined by `, ` and from a `,` inside one', () => {
    expect(withoutCookies('a=1, sessionid=abc', ['sessionid'])).toBe('a=1')
    expect(withoutCookies('a=1; b=2, sessionid=abc; c=3', ['sessionid'])).toBe('a=1; b=2; c=3')
    expect(withoutCookies('sessionid=abc,a=1', ['sessionid'])).toBe('a=1')
    expect(withoutCookies('sessionid=abc, sessionid=def', ['sessionid'])).toBeNull()
  })

  it('removes the cookie whatever the whitespace, case or percent-encoding of its name', () => {
    for (const cookie of [
      ' sessionid =abc',
      '\tsessionid\t=abc',
      'SessionID=abc',
      'SESSIONID=abc',
      '%73essionid=abc',
      '%73%65%73%73%69%6F%6E%69%64=abc',
      'Session%49d=abc',
    ]) {
      expect(withoutCookies(`a=1; ${cookie}; b=2`, ['sessionid']), cookie).toBe('a=1; b=2')
    }
  })

  it('keeps other cookies byte for byte, commas in their values included', () => {
    expect(withoutCookies('list=1,2,3; sessionid=abc; q="x, y"', ['sessionid'])).toBe(
      'list=1,2,3; q="x, y"',
    )
    expect(withoutCookies('a=1, b=2', ['sessionid'])).toBe('a=1, b=2')
  })
})

describe('setCookieName', () => {
  it('reads the name of a Set-Cookie value', () => {
    expect(setCookieName('sessionid=x; Path=/')).toBe('sessionid')
    expect(setCookieName(' csrftoken =y')).toBe('csrftoken')
  })
})

describe('headerSafe', () => {
  it('keeps ASCII usernames and percent-encodes the rest reversibly', () => {
    expect(headerSafe('alice.b+c@example-1_x')).toBe('alice.b+c@example-1_x')
    expect(headerSafe('Даша')).toBe(encodeURIComponent('Даша'))
    expect(decodeURIComponent(headerSafe('José 100%\n'))).toBe('José 100%\n')
  })
})

describe('upstreamRequestHeaders', () => {
  const info = {
    clientIp: '198.51.100.2',
    secure: true,
    host: 'gw.example.com:8443',
    sessionCookieName: 'sessionid',
  }

  it('strips identity, forwarding and Cloudflare headers, and sets X-Forwarded-*', () => {
    const headers = upstreamRequestHeaders(
      new Headers({
        'X-Auth-User-Id': '1',
        'x-auth-assertion': 'forged',
        'X-Forwarded-For': '1.2.3.4',
        'X-Real-IP': '1.2.3.4',
        'CF-Connecting-IP': '198.51.100.2',
        Host: 'gw.example.com',
        Cookie: 'sessionid=s; theme=dark',
        Accept: 'text/html',
      }),
      info,
    )
    expect(Object.fromEntries(headers)).toEqual({
      accept: 'text/html',
      cookie: 'theme=dark',
      'x-forwarded-for': '198.51.100.2',
      'x-forwarded-host': 'gw.example.com:8443',
      'x-forwarded-proto': 'https',
    })
  })

  it('strips every spelling origins read as an identity or forwarding header', () => {
    const spoofed = [
      'X_Auth_User_Id',
      'x-auth_user-id',
      'X_AUTH_ASSERTION',
      'X_Forwarded_For',
      'x_forwarded_host',
      'CF_Connecting_IP',
      'X_Real_IP',
      'Remote-User',
      'Remote_User',
      'X-Remote-User',
      'X-User',
      'X_Original_URL',
      'X-Original-URI',
      'X-Rewrite-URL',
      'True-Client-IP',
      'True_Client_Ip',
      'X-Client-IP',
      'X-Cluster-Client-IP',
      'X-Trusted-Proxy-Secret',
      'x_trusted_proxy_secret',
    ]
    const incoming = new Headers({ Accept: 'text/html', X_Custom_Header: 'kept' })
    for (const name of spoofed) incoming.set(name, `spoof ${name}`)
    const headers = upstreamRequestHeaders(incoming, info)
    expect([...headers.keys()].sort()).toEqual([
      'accept',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x_custom_header',
    ])
    expect(JSON.stringify([...headers])).not.toContain('spoof')
  })

  it('takes the session cookie out of several Cookie headers', () => {
    const incoming = new Headers()
    incoming.append('Cookie', 'theme=dark')
    incoming.append('Cookie', 'sessionid=s')
    incoming.append('Cookie', 'lang=en')
    expect(upstreamRequestHeaders(incoming, info).get('Cookie')).toBe('theme=dark; lang=en')
  })

  it('sets no X-Forwarded-For without CF-Connecting-IP', () => {
    const headers = upstreamRequestHeaders(new Headers({ 'X-Forwarded-For': '1.2.3.4' }), {
      ...info,
      clientIp: 'unknown',
    })
    expect(headers.get('X-Forwarded-For')).toBeNull()
  })
})

describe('downstreamResponseHeaders', () => {
  it('drops Set-Cookie for reserved names and keeps the others', () => {
    const upstream = new Headers()
    upstream.append('Set-Cookie', 'sessionid=planted; Path=/')
    upstream.append('Set-Cookie', 'theme=dark; Path=/')
    upstream.append('Set-Cookie', 'csrftoken=planted')
    upstream.set('Content-Type', 'text/plain')
    const headers = downstreamResponseHeaders(upstream, ['sessionid', 'csrftoken'])
    expect(headers.getSetCookie()).toEqual(['theme=dark; Path=/'])
    expect(headers.get('Content-Type')).toBe('text/plain')
  })
})

describe('isWebSocketUpgrade', () => {
  const upgrade = (method: string, headers: Record<string, string>) =>
    isWebSocketUpgrade(method, new Headers(headers))

  it('is a GET with Upgrade: websocket, and Connection naming upgrade when it is sent', () => {
    expect(upgrade('GET', { Upgrade: 'websocket', Connection: 'Upgrade' })).toBe(true)
    expect(upgrade('GET', { Upgrade: 'WebSocket', Connection: 'keep-alive, upgrade' })).toBe(true)
    expect(upgrade('GET', { Upgrade: 'websocket' })).toBe(true)
  })

  it('is not another upgrade, another method, or an Upgrade that Connection leaves out', () => {
    expect(upgrade('GET', { Upgrade: 'h2c', Connection: 'Upgrade' })).toBe(false)
    expect(upgrade('POST', { Upgrade: 'websocket', Connection: 'Upgrade' })).toBe(false)
    expect(upgrade('GET', { Upgrade: 'websocket', Connection: 'keep-alive' })).toBe(false)
    expect(upgrade('GET', { Connection: 'Upgrade' })).toBe(false)
  })
})

describe('WebSocket handshakes through the headers', () => {
  const info = { clientIp: '192.0.2.1', secure: false, host: 'gw.test', sessionCookieName: 's' }
  const handshake = new Headers({
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Extensions': 'permessage-deflate',
    'Sec-WebSocket-Protocol': 'chat',
    Cookie: 's=secret; theme=dark',
  })

  it('keeps Upgrade and the subprotocol for an upgrade, and drops the hop’s own fields', () => {
    const headers = upstreamRequestHeaders(handshake, { ...info, webSocket: true })
    expect(headers.get('Upgrade')).toBe('websocket')
    expect(headers.get('Sec-WebSocket-Protocol')).toBe('chat')
    expect(headers.get('Sec-WebSocket-Key')).toBeNull()
    expect(headers.get('Sec-WebSocket-Extensions')).toBeNull()
    expect(headers.get('Cookie')).toBe('theme=dark')
  })

  it('drops Upgrade when the request is not passed on as an upgrade', () => {
    expect(upstreamRequestHeaders(handshake, info).get('Upgrade')).toBeNull()
  })

  it('drops the origin’s Sec-WebSocket-Accept, which answers another key', () => {
    const headers = downstreamResponseHeaders(
      new Headers({
        Upgrade: 'websocket',
        'Sec-WebSocket-Accept': 'x',
        'Sec-WebSocket-Protocol': 'chat',
      }),
      [],
    )
    expect([...headers.keys()]).toEqual(['sec-websocket-protocol'])
  })
})
