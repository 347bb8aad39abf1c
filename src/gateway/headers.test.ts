import { describe, expect, it } from 'vitest'
import {
  downstreamResponseHeaders,
  headerSafe,
  hopByHopOf,
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
    url: new URL('https://gw.example.com:8443/x'),
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

  it('sets no X-Forwarded-For without CF-Connecting-IP', () => {
    const headers = upstreamRequestHeaders(new Headers({ 'X-Forwarded-For': '1.2.3.4' }), {
      ...info,
      clientIp: null,
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
