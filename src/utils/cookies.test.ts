import { describe, expect, it } from 'vitest'
import { addVary, deletionCookie, serializeCookie } from './cookies'

describe('cookies', () => {
  it('serializes HttpOnly, SameSite=Lax, Path=/, Max-Age and Expires', () => {
    const cookie = serializeCookie('sessionid', 'abc', { maxAge: 60, now: 0, httpOnly: true })
    expect(cookie).toBe(
      'sessionid=abc; Expires=Thu, 01 Jan 1970 00:01:00 GMT; Max-Age=60; Path=/; HttpOnly; SameSite=Lax',
    )
  })

  it('adds Secure when asked and always for __Host- names, which never carry a Domain', () => {
    expect(serializeCookie('s', 'v', { maxAge: null, now: 0, secure: true })).toContain('; Secure')
    const host = serializeCookie('__Host-s', 'v', { maxAge: null, now: 0, domain: 'example.com' })
    expect(host).toContain('Secure')
    expect(host).not.toContain('Domain')
  })

  it('makes a browser-session cookie when maxAge is null', () => {
    const cookie = serializeCookie('s', 'v', { maxAge: null, now: 0 })
    expect(cookie).not.toMatch(/Max-Age|Expires/)
  })

  it('deletes a cookie the way Django does', () => {
    expect(deletionCookie('sessionid', { domain: null })).toBe(
      'sessionid=""; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax',
    )
  })

  it('adds to Vary once', () => {
    const headers = new Headers({ Vary: 'Accept' })
    addVary(headers, 'Cookie')
    addVary(headers, 'Cookie')
    expect(headers.get('Vary')).toBe('Accept, Cookie')
  })
})
