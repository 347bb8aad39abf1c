import { scryptSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import vectors from '../../../test/fixtures/django/vectors.json'
import { encodeBase64, utf8 } from './encoding'
import { encodeScrypt, parseScrypt, SCRYPT_MAX_COST, verifyScrypt } from './scrypt'

/** Django's own hash of `carol`'s password (test/fixtures/django/users.json). */
const DJANGO_SCRYPT =
  'scrypt$16384$D695S0ZAOGyhEm0znnyFoy$8$5$AaMXXNXHLthlzH3NMCP47c4NkR6cx2XwhtQMQbwDnQIuezmFIc7v' +
  '58dYj1+a9kxVwTqpecyukUGjZqfLfIBgTQ=='

function withParams(n: number, r: number, p: number) {
  const hash = encodeBase64(new Uint8Array(64), true)
  return `scrypt$${n}$somesalt$${r}$${p}$${hash}`
}

describe('parseScrypt', () => {
  it("reads Django's scrypt$<n>$<salt>$<r>$<p>$<hash> and writes it back unchanged", () => {
    const hash = parseScrypt(DJANGO_SCRYPT)
    expect(hash).toMatchObject({ n: 16384, r: 8, p: 5, salt: 'D695S0ZAOGyhEm0znnyFoy' })
    expect(hash?.hash).toHaveLength(64)
    expect(hash && encodeScrypt(hash)).toBe(DJANGO_SCRYPT)
  })

  it('returns null for malformed strings instead of throwing', () => {
    for (const encoded of [
      'scrypt$',
      'scrypt$D695S0ZAOGyhEm0znnyFoy$16384$8$5$AAAA', // salt first: not Django's order
      withParams(16384, 8, 5).replace('$8$', '$08$'),
      withParams(16384, 8, 5).replace('somesalt', ''),
      `${withParams(16384, 8, 5).slice(0, -4)}`, // hash cut short
      `${withParams(16384, 8, 5)}$more`,
      withParams(16384, 8, 5).replace('$16384$', '$0$'),
    ]) {
      expect(parseScrypt(encoded), encoded).toBeNull()
    }
  })

  it('refuses parameters Django could not have written or production would refuse', () => {
    expect(parseScrypt(withParams(16384, 8, 5))).not.toBeNull()
    expect(parseScrypt(withParams(1000, 8, 5))).toBeNull() // N not a power of two
    expect(parseScrypt(withParams(1, 8, 5))).toBeNull()
    // 2^15 * 8 * 128 bytes = 32 MiB of table, over OpenSSL's default maxmem that Django keeps.
    expect(parseScrypt(withParams(2 ** 15, 8, 1))).toBeNull()
    // N * r * p over workerd's production cost cap (2^20), although it fits in memory.
    expect(2 ** 14 * 8 * 9).toBeGreaterThan(SCRYPT_MAX_COST)
    expect(parseScrypt(withParams(2 ** 14, 8, 9))).toBeNull()
  })
})

describe('verifyScrypt', () => {
  it('verifies a scrypt hash made by Django 5.2 and rejects a wrong password', async () => {
    const hash = parseScrypt(DJANGO_SCRYPT)
    if (!hash) throw new Error('fixture does not parse')
    expect(await verifyScrypt(hash, utf8('scrypt me a river 42'))).toBe(true)
    expect(await verifyScrypt(hash, utf8('scrypt me a river 43'))).toBe(false)
  })

  it('hashes 4-byte UTF-8 characters as Django does', async () => {
    const found = vectors.find((v) => v.encoded.startsWith('scrypt$'))
    const hash = parseScrypt(found?.encoded ?? '')
    if (!found || !hash) throw new Error('fixture does not parse')
    expect(found.password).toBe('pw-\u{1F511}-\u00e9')
    expect(await verifyScrypt(hash, utf8(found.password))).toBe(true)
  })

  it('derives what node:crypto scryptSync derives for the same inputs', async () => {
    const salt = 'abcdefghijklmnopqrstuv'
    const key = scryptSync(utf8('pw'), utf8(salt), 64, { N: 1024, r: 8, p: 1 })
    const encoded = `scrypt$1024$${salt}$8$1$${key.toString('base64')}`
    const hash = parseScrypt(encoded)
    if (!hash) throw new Error('does not parse')
    expect(await verifyScrypt(hash, utf8('pw'))).toBe(true)
  })
})
