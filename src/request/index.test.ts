import { describe, expect, it } from 'vitest'
import { clientIpOf, hostAllowed } from './index'

const SECRET = 'proxy-secret-0123456789-abcdefghijklmnop'

describe('clientIpOf', () => {
  it('reads CF-Connecting-IP only, never X-Forwarded-For, without a trusted proxy secret', () => {
    const headers = new Headers({
      'CF-Connecting-IP': '203.0.113.9',
      'X-Forwarded-For': '192.0.2.1',
      'X-Trusted-Proxy-Secret': SECRET,
    })
    expect(clientIpOf(headers, null)).toBe('203.0.113.9')
    expect(clientIpOf(new Headers({ 'X-Forwarded-For': '192.0.2.1' }), null)).toBe('unknown')
  })

  it('reads the right-most X-Forwarded-For entry when the proxy sends the secret', () => {
    const headers = new Headers({
      'CF-Connecting-IP': '127.0.0.1',
      'X-Forwarded-For': '10.9.9.9, 198.51.100.7',
      'X-Trusted-Proxy-Secret': SECRET,
    })
    expect(clientIpOf(headers, SECRET)).toBe('198.51.100.7')
    headers.set('X-Forwarded-For', '2001:db8::1')
    expect(clientIpOf(headers, SECRET)).toBe('2001:db8::1')
  })

  it('ignores X-Forwarded-For with a wrong or missing secret, or an entry that is no address', () => {
    const forwarded = { 'CF-Connecting-IP': '127.0.0.1', 'X-Forwarded-For': '198.51.100.7' }
    expect(clientIpOf(new Headers(forwarded), SECRET)).toBe('127.0.0.1')
    const wrong = new Headers({ ...forwarded, 'X-Trusted-Proxy-Secret': `${SECRET}x` })
    expect(clientIpOf(wrong, SECRET)).toBe('127.0.0.1')
    const junk = new Headers({
      ...forwarded,
      'X-Forwarded-For': '198.51.100.7, not-an-ip',
      'X-Trusted-Proxy-Secret': SECRET,
    })
    expect(clientIpOf(junk, SECRET)).toBe('127.0.0.1')
  })
})

describe('hostAllowed', () => {
  it('matches as Django does: exact, .domain for subdomains, * for all; ports ignored', () => {
    const allowed = ['api.example.com', '.example.org']
    expect(hostAllowed('api.example.com', allowed)).toBe(true)
    expect(hostAllowed('API.Example.com:8443', allowed)).toBe(true)
    expect(hostAllowed('example.org', allowed)).toBe(true)
    expect(hostAllowed('a.b.example.org', allowed)).toBe(true)
    expect(hostAllowed('evil.com', allowed)).toBe(false)
    expect(hostAllowed('notexample.org', allowed)).toBe(false)
    expect(hostAllowed('api.example.com.evil.com', allowed)).toBe(false)
    expect(hostAllowed('anything:1', ['*'])).toBe(true)
    expect(hostAllowed('[::1]:8787', ['[::1]'])).toBe(true)
  })
})
