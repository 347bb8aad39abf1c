import wasm from '@phi-ag/argon2/argon2.wasm'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Argon2Wasm } from './argon2'
import { createHashers, identifyHasher } from './index'

const hashers = createHashers(wasm)

const DJANGO_PBKDF2 =
  'pbkdf2_sha256$1000000$3NF5r6NuHsjo5lSpIw8Jup$HqKX+Sm1WKMSv1+UKYjXHVE+DV8r6j4m29yEKZLD+wM='
const DJANGO_ARGON2 =
  'argon2$argon2id$v=19$m=102400,t=2,p=8$OHpUZDVNZVBsaFE1dGw0WEVRaWpjTA$/tBWCaYqnL1ISxMRIJrqBQ'
const INVALID = { valid: false, mustUpdate: false }

afterEach(() => {
  vi.restoreAllMocks()
})

describe('makePassword', () => {
  it('writes argon2id with OWASP parameters in the format Django reads back', async () => {
    const encoded = await hashers.makePassword('correct horse battery staple')
    // 16-byte salt and 32-byte hash, unpadded base64 as argon2-cffi writes them.
    expect(encoded).toMatch(
      /^argon2\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
    )
    expect(identifyHasher(encoded)).toBe('argon2')
  })

  it('salts every hash: the same password never hashes the same twice', async () => {
    const first = await hashers.makePassword('same password')
    const second = await hashers.makePassword('same password')
    expect(first).not.toBe(second)
    expect(await hashers.checkPassword('same password', first)).toEqual({
      valid: true,
      mustUpdate: false,
    })
    expect((await hashers.checkPassword('same password', second)).valid).toBe(true)
  })

  it('refuses a password that is not a string', async () => {
    await expect(hashers.makePassword(null as unknown as string)).rejects.toThrow(TypeError)
  })
})

describe('checkPassword', () => {
  it('rejects a wrong password, with mustUpdate false', async () => {
    const encoded = await hashers.makePassword('Tr0ub4dor&3')
    expect(await hashers.checkPassword('tr0ub4dor&3', encoded)).toEqual(INVALID)
    expect(await hashers.checkPassword('Tr0ub4dor&3 ', encoded)).toEqual(INVALID)
    expect(await hashers.checkPassword('', encoded)).toEqual(INVALID)
  })

  it('hashes non-ASCII passwords as their UTF-8 bytes, without Unicode normalization', async () => {
    const composed = 'p\u00e4ssw\u00f6rd-\u00fcn\u00efcode-1'
    const encoded = await hashers.makePassword(composed)
    expect((await hashers.checkPassword(composed, encoded)).valid).toBe(true)
    // The same text decomposed (NFD) is other bytes, and Django would refuse it too.
    expect((await hashers.checkPassword(composed.normalize('NFD'), encoded)).valid).toBe(false)
  })

  it('keeps every byte after a NUL: "a\\0b" and "a" are different passwords', async () => {
    const encoded = await hashers.makePassword('a\0b')
    expect((await hashers.checkPassword('a\0b', encoded)).valid).toBe(true)
    expect((await hashers.checkPassword('a', encoded)).valid).toBe(false)
    expect((await hashers.checkPassword('a\0c', encoded)).valid).toBe(false)
  })

  it('hashes and checks 4,096-character and empty passwords', async () => {
    const long = 'x€'.repeat(2048)
    const encoded = await hashers.makePassword(long)
    expect((await hashers.checkPassword(long, encoded)).valid).toBe(true)
    expect((await hashers.checkPassword(long.slice(0, -1), encoded)).valid).toBe(false)
    const empty = await hashers.makePassword('')
    expect((await hashers.checkPassword('', empty)).valid).toBe(true)
  })

  it('asks for an update of a valid argon2 hash made with another cost, never of a wrong one', async () => {
    const older = createHashers(wasm, { argon2: { memoryKiB: 8_192, iterations: 3 } })
    const encoded = await older.makePassword('upgrade me')
    expect(encoded).toContain('$m=8192,t=3,p=1$')
    expect(await hashers.checkPassword('upgrade me', encoded)).toEqual({
      valid: true,
      mustUpdate: true,
    })
    expect(await hashers.checkPassword('upgrade you', encoded)).toEqual(INVALID)
    expect(await older.checkPassword('upgrade me', encoded)).toEqual({
      valid: true,
      mustUpdate: false,
    })
  })

  it('does one default hash, then answers invalid, for null, unusable and unknown hashes', async () => {
    const hash = vi.spyOn(Argon2Wasm.prototype, 'hash')
    const cases = [
      null,
      '',
      hashers.makeUnusablePassword(),
      '!',
      'md5$salt$2b1d6d9e6e1c8cf0b76d09d35a7e2b25',
      'bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuuK0eVzPxWpbTTLaSOwwv/LoyUUAK1ZD6',
      '5f4dcc3b5aa765d61d8327deb882cf99', // Django's unsalted MD5, which this does not accept
      'argon2$argon2id$v=19$m=19456,t=2,p=1$not base64!$hash',
      'pbkdf2_sha256$1000000$salt',
      'scrypt$16384$salt$8$5$',
      'argon2',
      '$$$$$$',
      '\u0000',
      'x'.repeat(10_000),
    ]
    for (const encoded of cases) {
      hash.mockClear()
      expect(await hashers.checkPassword('guess', encoded), String(encoded)).toEqual(INVALID)
      expect(hash).toHaveBeenCalledTimes(1)
      expect(hash.mock.calls[0]?.[0]).toMatchObject({ variant: 'argon2id', memoryKiB: 19_456 })
    }
  })

  it('answers invalid, without throwing, for a password that is not a string', async () => {
    const encoded = await hashers.makePassword('')
    expect(await hashers.checkPassword(undefined as unknown as string, encoded)).toEqual(INVALID)
  })

  it('refuses stored hashes above the configured limits without computing them', async () => {
    const strict = createHashers(wasm, { maxPbkdf2Iterations: 100_000, maxArgon2MemoryKiB: 65_536 })
    const hash = vi.spyOn(Argon2Wasm.prototype, 'hash')
    const alice = 'correct horse battery staple'
    expect(await strict.checkPassword(alice, DJANGO_PBKDF2)).toEqual(INVALID)
    expect(await strict.checkPassword('Tr0ub4dor&3-argon', DJANGO_ARGON2)).toEqual(INVALID)
    // Only the timing-equalization hash ran, at the default cost, once per check.
    expect(hash.mock.calls.map(([params]) => params.memoryKiB)).toEqual([19_456, 19_456])
  })

  it('reuses one WebAssembly instance, and drops it after a hash dearer than the default', async () => {
    const instantiate = vi.spyOn(Argon2Wasm, 'instantiate')
    const fresh = createHashers(wasm)
    const encoded = await fresh.makePassword('one instance')
    await fresh.checkPassword('one instance', encoded)
    await fresh.checkPassword('another guess', null)
    expect(instantiate).toHaveBeenCalledTimes(1)
    // Django's 100 MiB default: concurrent checks share the instance, which is then dropped so
    // its memory can be collected, and the next hash starts a new one.
    const checks = await Promise.all([
      fresh.checkPassword('Tr0ub4dor&3-argon', DJANGO_ARGON2),
      fresh.checkPassword('wrong', DJANGO_ARGON2),
    ])
    expect(checks.map((check) => check.valid)).toEqual([true, false])
    expect(instantiate).toHaveBeenCalledTimes(1)
    await fresh.makePassword('a new instance')
    await fresh.makePassword('the same new instance')
    expect(instantiate).toHaveBeenCalledTimes(2)
  })
})

describe('unusable passwords', () => {
  it("makes '!' and 40 random letters and digits, which Django also treats as unusable", () => {
    const first = hashers.makeUnusablePassword()
    expect(first).toMatch(/^![A-Za-z0-9]{40}$/)
    expect(hashers.makeUnusablePassword()).not.toBe(first)
    expect(hashers.isPasswordUsable(first)).toBe(false)
    expect(identifyHasher(first)).toBeNull()
  })

  it("follows Django's is_password_usable: only a leading '!' is unusable, null is usable", () => {
    expect(hashers.isPasswordUsable(DJANGO_PBKDF2)).toBe(true)
    expect(hashers.isPasswordUsable('')).toBe(true)
    expect(hashers.isPasswordUsable(null)).toBe(true)
    expect(hashers.isPasswordUsable('!')).toBe(false)
  })
})

describe('identifyHasher', () => {
  it('names the algorithm of every format it can verify, and nothing else', () => {
    expect(identifyHasher(DJANGO_PBKDF2)).toBe('pbkdf2_sha256')
    expect(identifyHasher(DJANGO_ARGON2)).toBe('argon2')
    expect(
      identifyHasher('pbkdf2_sha1$1000000$Fo5esYlfMbeobrZgoxNRAA$SUfNPu/Vu5sRp4bI75EiUXV/OLM='),
    ).toBe('pbkdf2_sha1')
    expect(identifyHasher('md5$salt$2b1d6d9e6e1c8cf0b76d09d35a7e2b25')).toBeNull()
    expect(identifyHasher('pbkdf2_sha256$1000000$salt')).toBeNull()
  })
})
