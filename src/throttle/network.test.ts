import { describe, expect, it } from 'vitest'
import { networkKey } from './network'

describe('networkKey', () => {
  it('counts an IPv4 address alone', () => {
    expect(networkKey('203.0.113.7')).toBe('203.0.113.7')
    expect(networkKey(' 203.0.113.7 ')).toBe('203.0.113.7')
  })

  it('counts an IPv6 address as its /64, however it is written', () => {
    const key = '2001:db8:0:1::/64'
    expect(networkKey('2001:db8:0:1::1')).toBe(key)
    expect(networkKey('2001:0DB8:0000:0001:ffff:ffff:ffff:ffff')).toBe(key)
    expect(networkKey('2001:db8::1:0:0:0:9')).toBe(key)
    expect(networkKey('2001:db8:0:1:a:b:192.0.2.1')).toBe(key)
    expect(networkKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(networkKey('::1')).toBe('0:0:0:0::/64')
    expect(networkKey('2001:db8:0:2::1')).not.toBe(key)
  })

  it('counts an IPv4-mapped IPv6 address as the IPv4 address', () => {
    expect(networkKey('::ffff:203.0.113.7')).toBe('203.0.113.7')
    expect(networkKey('::ffff:cb00:7107')).toBe('203.0.113.7')
  })

  it('keeps anything that is not an address as it is, lower-cased', () => {
    for (const text of [
      'unknown',
      '1.2.3',
      '256.1.1.1',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      'g::1',
      '::ffff:1.2.3.999',
    ]) {
      expect(networkKey(text)).toBe(text.toLowerCase())
    }
    expect(networkKey('Not-An-IP')).toBe('not-an-ip')
  })
})
