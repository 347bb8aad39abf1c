import { describe, expect, it } from 'vitest'
import { generatePublicId, generateSessionKey, kvKeyFor, parseSessionKey } from './key'

describe('session keys', () => {
  it('generates 32 characters of [a-z0-9], different every time', () => {
    const keys = new Set(Array.from({ length: 200 }, generateSessionKey))
    expect(keys.size).toBe(200)
    for (const key of keys) expect(key).toMatch(/^[a-z0-9]{32}$/)
  })

  it('uses every letter of the alphabet (no bias towards a subset)', () => {
    const seen = new Set(Array.from({ length: 200 }, generateSessionKey).join(''))
    expect(seen.size).toBe(36)
  })

  it.each([
    ['too short', 'abc'],
    ['upper case', 'A'.repeat(32)],
    ['punctuation', `${'a'.repeat(31)}-`],
    ['too long', 'a'.repeat(129)],
    ['empty', ''],
  ])('treats a cookie value that is %s as no session', (_, value) => {
    expect(parseSessionKey(value)).toBeNull()
  })

  it('accepts a well-formed key', () => {
    const key = generateSessionKey()
    expect(parseSessionKey(key)).toBe(key)
    expect(parseSessionKey(undefined)).toBeNull()
  })

  it('derives the KV key by SHA-256, so the cookie value never appears in it', async () => {
    const key = generateSessionKey()
    const kvKey = await kvKeyFor(key)
    expect(kvKey).toMatch(/^session:[0-9a-f]{64}$/)
    expect(kvKey).not.toContain(key)
    expect(await kvKeyFor(key)).toBe(kvKey)
  })

  it('public ids are unrelated to keys', () => {
    expect(generatePublicId()).toMatch(/^[a-z0-9]{25}$/)
  })
})
