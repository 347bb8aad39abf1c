import { pbkdf2Sync } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import vectors from '../../../test/fixtures/django/vectors.json'
import { encodeBase64, utf8 } from './encoding'
import {
  derivePbkdf2,
  encodePbkdf2,
  NATIVE_PBKDF2_MAX_ITERATIONS,
  parsePbkdf2,
  verifyPbkdf2,
} from './pbkdf2'
import { pbkdf2Js } from './pbkdf2-js'

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
const NO_LIMIT = Number.MAX_SAFE_INTEGER

/** Django's own hash of `alice`'s password (test/fixtures/django/users.json). */
const DJANGO_1M =
  'pbkdf2_sha256$1000000$3NF5r6NuHsjo5lSpIw8Jup$HqKX+Sm1WKMSv1+UKYjXHVE+DV8r6j4m29yEKZLD+wM='
const DJANGO_1M_PASSWORD = 'correct horse battery staple'

/** A Django-made vector from test/fixtures/django/vectors.json. */
function vector(note: string) {
  const found = vectors.find((v) => v.note.startsWith(note) && v.encoded.startsWith('pbkdf2'))
  if (!found) throw new Error(`no vector ${note}`)
  return found
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('pbkdf2Js', () => {
  it('matches the RFC 6070 PBKDF2-HMAC-SHA1 and RFC 7914 PBKDF2-HMAC-SHA256 vectors', () => {
    const password = utf8('password')
    const salt = utf8('salt')
    expect(hex(pbkdf2Js('sha1', password, salt, 1, 20))).toBe(
      '0c60c80f961f0e71f3a9b524af6012062fe037a6',
    )
    expect(hex(pbkdf2Js('sha1', password, salt, 4096, 20))).toBe(
      '4b007901b765489abead49d926f721d065a429c1',
    )
    expect(hex(pbkdf2Js('sha256', utf8('passwd'), salt, 1, 64))).toBe(
      '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc' +
        '49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783',
    )
  })

  it('matches the native PBKDF2 for long, empty and NUL-containing passwords and odd lengths', () => {
    const cases: [string, Uint8Array, Uint8Array, number, number][] = [
      ['sha256', new Uint8Array(0), utf8('salt'), 1000, 32],
      ['sha256', new Uint8Array(200).fill(7), utf8('a longer salt than usual'), 1000, 32],
      ['sha256', new Uint8Array(64).fill(1), new Uint8Array(0), 3, 70],
      ['sha256', utf8('pass\0word'), utf8('sa\0lt'), 4096, 16],
      ['sha1', new Uint8Array(65).fill(9), utf8('salt'), 1000, 20],
      ['sha1', utf8('passwordPASSWORDpassword'), utf8('saltSALTsaltSALTsalt'), 4096, 25],
    ]
    for (const [digest, password, salt, iterations, length] of cases) {
      const expected = pbkdf2Sync(password, salt, iterations, length, digest)
      expect(hex(pbkdf2Js(digest as 'sha256', password, salt, iterations, length))).toBe(
        expected.toString('hex'),
      )
    }
  })
})

describe('parsePbkdf2', () => {
  it('reads Django format and writes it back unchanged', () => {
    const hash = parsePbkdf2(DJANGO_1M, NO_LIMIT)
    expect(hash).toMatchObject({ algorithm: 'pbkdf2_sha256', iterations: 1_000_000 })
    expect(hash?.salt).toBe('3NF5r6NuHsjo5lSpIw8Jup')
    expect(hash && encodePbkdf2(hash)).toBe(DJANGO_1M)
  })

  it('returns null for malformed strings instead of throwing', () => {
    const [, , salt, digest] = DJANGO_1M.split('$')
    for (const encoded of [
      'pbkdf2_sha256',
      `pbkdf2_sha256$$${salt}$${digest}`,
      `pbkdf2_sha256$01000000$${salt}$${digest}`, // Django writes %d: no leading zero
      `pbkdf2_sha256$-1$${salt}$${digest}`,
      `pbkdf2_sha256$1e6$${salt}$${digest}`,
      `pbkdf2_sha256$1000000$$${digest}`, // empty salt
      `pbkdf2_sha256$1000000$${salt}$`,
      `pbkdf2_sha256$1000000$${salt}$${digest?.slice(0, -4)}`, // truncated hash
      `pbkdf2_sha256$1000000$${salt}$${digest}$extra`,
      `pbkdf2_sha512$1000000$${salt}$${digest}`,
      `pbkdf2_sha1$1000000$${salt}$${digest}`, // a SHA-256-sized hash under SHA-1
    ]) {
      expect(parsePbkdf2(encoded, NO_LIMIT), encoded).toBeNull()
    }
  })

  it('refuses counts above the configured maximum unread', () => {
    expect(parsePbkdf2(DJANGO_1M, 999_999)).toBeNull()
    expect(parsePbkdf2(DJANGO_1M, 1_000_000)).not.toBeNull()
  })
})

describe('verifyPbkdf2', () => {
  it('verifies pbkdf2_sha256 at 1,000,000 iterations without ever asking WebCrypto for more than 100,000', async () => {
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits')
    const importKey = vi.spyOn(crypto.subtle, 'importKey')
    const hash = parsePbkdf2(DJANGO_1M, NO_LIMIT)
    if (!hash) throw new Error('fixture does not parse')

    expect(await verifyPbkdf2(hash, utf8(DJANGO_1M_PASSWORD))).toBe(true)
    for (const [algorithm] of deriveBits.mock.calls) {
      const iterations = (algorithm as { iterations?: number }).iterations ?? 0
      expect(iterations).toBeLessThanOrEqual(NATIVE_PBKDF2_MAX_ITERATIONS)
    }
    // Production Workers refuse more than 100,000 even though local workerd allows it: the
    // 1,000,000-iteration derivation must not have gone through WebCrypto at all.
    expect(deriveBits).not.toHaveBeenCalled()
    expect(importKey.mock.calls.filter(([, , algorithm]) => algorithm === 'PBKDF2')).toHaveLength(0)
  })

  it('uses native WebCrypto PBKDF2 up to exactly 100,000 iterations', async () => {
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits')
    const { encoded, password } = vector('pbkdf2_sha256 at 100,000')
    const hash = parsePbkdf2(encoded, NO_LIMIT)
    if (!hash) throw new Error('fixture does not parse')

    expect(await verifyPbkdf2(hash, utf8(password))).toBe(true)
    expect(deriveBits).toHaveBeenCalledTimes(1)
    expect(deriveBits.mock.calls[0]?.[0]).toMatchObject({ name: 'PBKDF2', iterations: 100_000 })
  })

  it('derives the same bytes natively and in JavaScript at the cap', async () => {
    const password = utf8('same either way')
    const salt = utf8('NaCl')
    const native = await derivePbkdf2('sha256', password, salt, NATIVE_PBKDF2_MAX_ITERATIONS, 32)
    const js = pbkdf2Js('sha256', password, salt, NATIVE_PBKDF2_MAX_ITERATIONS, 32)
    expect(encodeBase64(native, true)).toBe(encodeBase64(js, true))
  })

  it('rejects a wrong password, and a password that only differs after a NUL byte', async () => {
    const salt = 'NulSaltOf22Characters0'
    const digest = pbkdf2Sync(utf8('a\0b'), utf8(salt), 1000, 32, 'sha256').toString('base64')
    const hash = parsePbkdf2(`pbkdf2_sha256$1000$${salt}$${digest}`, NO_LIMIT)
    if (!hash) throw new Error('does not parse')

    expect(await verifyPbkdf2(hash, utf8('a\0b'))).toBe(true)
    expect(await verifyPbkdf2(hash, utf8('a'))).toBe(false)
    expect(await verifyPbkdf2(hash, utf8('a\0c'))).toBe(false)
    expect(await verifyPbkdf2(hash, utf8('A\0b'))).toBe(false)
  })
})
