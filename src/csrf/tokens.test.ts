import { describe, expect, it } from 'vitest'
import { isTrustedOrigin } from './origin'
import {
  CSRF_ALLOWED_CHARS,
  maskSecret,
  newCsrfSecret,
  secretFromCookie,
  tokenMatches,
  unmaskToken,
} from './tokens'

describe('CSRF tokens', () => {
  it('masks a secret into 64 characters that unmask back to it', () => {
    const secret = newCsrfSecret()
    const token = maskSecret(secret)
    expect(token).toHaveLength(64)
    expect(unmaskToken(token)).toBe(secret)
  })

  it('masks differently every time, so the page token is never the same twice', () => {
    const secret = newCsrfSecret()
    expect(maskSecret(secret)).not.toBe(maskSecret(secret))
  })

  it("matches Django's arithmetic: a zero mask ('a'...) leaves the secret as it is", () => {
    const secret = newCsrfSecret()
    expect(maskSecret(secret, 'a'.repeat(32))).toBe('a'.repeat(32) + secret)
    expect(maskSecret('b'.repeat(32), 'Z'.repeat(32)).slice(32)).toBe(
      CSRF_ALLOWED_CHARS[(1 + 51) % 62]?.repeat(32),
    )
  })

  it('accepts the secret masked or unmasked, and rejects anything else', () => {
    const secret = newCsrfSecret()
    expect(tokenMatches(maskSecret(secret), secret)).toBe(true)
    expect(tokenMatches(secret, secret)).toBe(true)
    expect(tokenMatches(newCsrfSecret(), secret)).toBe(false)
    expect(tokenMatches(`${secret}!`, secret)).toBe(false)
    expect(tokenMatches('', secret)).toBe(false)
  })

  it('reads the secret from a cookie holding it plain or masked (legacy), else null', () => {
    const secret = newCsrfSecret()
    expect(secretFromCookie(secret)).toBe(secret)
    expect(secretFromCookie(maskSecret(secret))).toBe(secret)
    expect(secretFromCookie('short')).toBeNull()
    expect(secretFromCookie(undefined)).toBeNull()
  })
})

describe('trusted origins', () => {
  it('matches exactly or under a *. wildcard with the same scheme and port', () => {
    const trusted = ['https://app.example.com', 'https://*.example.org']
    expect(isTrustedOrigin('https://app.example.com', trusted)).toBe(true)
    expect(isTrustedOrigin('https://a.b.example.org', trusted)).toBe(true)
    expect(isTrustedOrigin('https://example.org', trusted)).toBe(true)
    expect(isTrustedOrigin('http://a.example.org', trusted)).toBe(false)
    expect(isTrustedOrigin('https://evilexample.org', trusted)).toBe(false)
    expect(isTrustedOrigin('https://a.example.org:8443', trusted)).toBe(false)
    expect(isTrustedOrigin('null', trusted)).toBe(false)
  })
})
