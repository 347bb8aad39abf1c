import wasm from '@phi-ag/argon2/argon2.wasm'
import { describe, expect, it } from 'vitest'
import vectors from '../../../test/fixtures/django/vectors.json'
import {
  ARGON2_MAX_MEMORY_KIB,
  type Argon2Hash,
  Argon2Wasm,
  argon2MustUpdate,
  encodeArgon2,
  OWASP_ARGON2,
  parseArgon2,
  verifyArgon2,
} from './argon2'
import { encodeBase64, utf8 } from './encoding'

/** Django's own hash of `bob`'s password (test/fixtures/django/users.json). */
const DJANGO_ARGON2 =
  'argon2$argon2id$v=19$m=102400,t=2,p=8$OHpUZDVNZVBsaFE1dGw0WEVRaWpjTA$/tBWCaYqnL1ISxMRIJrqBQ'

function vector(note: string) {
  const found = vectors.find((v) => v.note.startsWith(note))
  const hash = found && parseArgon2(found.encoded)
  if (!found || !hash) throw new Error(`no argon2 vector ${note}`)
  return { ...found, hash }
}

function owaspHash(overrides: Partial<Argon2Hash> = {}): Argon2Hash {
  return {
    variant: 'argon2id',
    version: 0x13,
    ...OWASP_ARGON2,
    salt: new Uint8Array(16),
    hash: new Uint8Array(32),
    ...overrides,
  }
}

describe('parseArgon2', () => {
  it("reads Django's argon2$argon2id$v=19$m=...,t=...,p=... and writes it back unchanged", () => {
    const hash = parseArgon2(DJANGO_ARGON2)
    expect(hash).toMatchObject({
      variant: 'argon2id',
      version: 0x13,
      memoryKiB: 102_400,
      iterations: 2,
      parallelism: 8,
    })
    expect(hash?.salt).toEqual(utf8('8zTd5MePlhQ5tl4XEQijcL')) // Django's 22-character salt
    expect(hash && encodeArgon2(hash)).toBe(DJANGO_ARGON2)
  })

  it('reads argon2i and v=16 hashes, and a hash with no v= as version 0x10', () => {
    expect(vector('argon2i as Django').hash).toMatchObject({ variant: 'argon2i', version: 0x13 })
    expect(vector('argon2id with version 0x10').hash.version).toBe(0x10)
    const noVersion = vector('argon2id with version 0x10').encoded.replace('$v=16', '')
    expect(parseArgon2(noVersion)?.version).toBe(0x10)
  })

  it('returns null for malformed strings instead of throwing', () => {
    const [, , , , salt, hash] = DJANGO_ARGON2.split('$')
    const costs = 'm=102400,t=2,p=8'
    for (const encoded of [
      'argon2',
      'argon2$',
      DJANGO_ARGON2.slice('argon2'.length), // argon2-cffi's string without Django's prefix
      `argon2$argon2x$v=19$${costs}$${salt}$${hash}`,
      `argon2$argon2id$v=18$${costs}$${salt}$${hash}`,
      `argon2$argon2id$v=19$m=102400,p=8,t=2$${salt}$${hash}`,
      `argon2$argon2id$v=19$m=0,t=2,p=8$${salt}$${hash}`,
      `argon2$argon2id$v=19$m=32,t=2,p=8$${salt}$${hash}`, // m < 8 * p
      `argon2$argon2id$v=19$m=102400,t=0,p=8$${salt}$${hash}`,
      `argon2$argon2id$v=19$m=102400,t=1000,p=8$${salt}$${hash}`,
      `argon2$argon2id$v=19$${costs}$${salt}==$${hash}`, // padded base64
      `argon2$argon2id$v=19$${costs}$c2FsdA$${hash}`, // 4-byte salt: libargon2 wants 8
      `argon2$argon2id$v=19$${costs}$${salt}$AAA`, // 2-byte hash: libargon2 wants 4
      `argon2$argon2id$v=19$${costs}$${salt}$${hash}$`,
      `argon2$argon2id$v=19$${costs}$${salt}`,
    ]) {
      expect(parseArgon2(encoded), encoded).toBeNull()
    }
  })

  it('refuses hashes asking for more memory than the limit, by default over Django 5.2s 100 MiB', () => {
    expect(ARGON2_MAX_MEMORY_KIB).toBe(102_400)
    expect(parseArgon2(DJANGO_ARGON2.replace('m=102400', 'm=102401'))).toBeNull()
    expect(parseArgon2(DJANGO_ARGON2, 65_536)).toBeNull()
  })
})

describe('argon2MustUpdate', () => {
  it('is false only for argon2id v=19 with the default cost, a 32-byte hash and a 16-byte salt', () => {
    expect(argon2MustUpdate(owaspHash(), OWASP_ARGON2)).toBe(false)
    expect(argon2MustUpdate(owaspHash({ salt: new Uint8Array(22) }), OWASP_ARGON2)).toBe(false)
    for (const outdated of [
      owaspHash({ variant: 'argon2i' }),
      owaspHash({ version: 0x10 }),
      owaspHash({ memoryKiB: 102_400 }),
      owaspHash({ iterations: 3 }),
      owaspHash({ parallelism: 8 }),
      owaspHash({ hash: new Uint8Array(16) }),
      owaspHash({ salt: new Uint8Array(8) }),
    ]) {
      expect(argon2MustUpdate(outdated, OWASP_ARGON2)).toBe(true)
    }
  })

  it('follows a configured cost', () => {
    const cost = { memoryKiB: 65_536, iterations: 3, parallelism: 4 }
    expect(argon2MustUpdate(owaspHash(), cost)).toBe(true)
    expect(argon2MustUpdate(owaspHash(cost), cost)).toBe(false)
  })
})

describe('Argon2Wasm', () => {
  it('computes what argon2-cffi computed for argon2i and for version 0x10', async () => {
    const argon2 = await Argon2Wasm.instantiate(wasm)
    for (const note of ['argon2i as Django', 'argon2id with version 0x10']) {
      const { hash, password } = vector(note)
      expect(verifyArgon2(argon2, hash, utf8(password))).toBe(true)
      expect(verifyArgon2(argon2, hash, utf8(`${password}!`))).toBe(false)
    }
  })

  it('hashes every byte of the password: NULs, and UTF-8 rather than UTF-16 lengths', async () => {
    const argon2 = await Argon2Wasm.instantiate(wasm)
    const params = { variant: 'argon2id', version: 0x13, ...OWASP_ARGON2 } as const
    const salt = utf8('sixteen byte salt')
    const hash = (password: string) =>
      encodeBase64(argon2.hash(params, utf8(password), salt, 32), false)
    expect(hash('a\0b')).not.toBe(hash('a'))
    expect(hash('a\0b')).not.toBe(hash('a\0c'))
    // 'ü' is one UTF-16 unit and two UTF-8 bytes: a binding that passed string.length would
    // hash only 'p\xc3' and find these two equal.
    expect(hash('pü1')).not.toBe(hash('pü2'))
    expect(hash('')).toHaveLength(43)
  })

  it('keeps its memory near the OWASP cost, far below the 128 MB isolate limit', async () => {
    const argon2 = await Argon2Wasm.instantiate(wasm)
    const params = { variant: 'argon2id', version: 0x13, ...OWASP_ARGON2 } as const
    argon2.hash(params, utf8('pw'), new Uint8Array(16), 32)
    argon2.hash(params, utf8('pw'), new Uint8Array(16), 32)
    // 19 MiB of blocks on top of the module's own 16 MiB start: no leak between calls.
    expect(argon2.memoryBytes).toBeLessThan(48 * 1024 * 1024)
  })

  it('throws on parameters libargon2 refuses rather than returning a hash', async () => {
    const argon2 = await Argon2Wasm.instantiate(wasm)
    const params = { variant: 'argon2id', version: 0x13, ...OWASP_ARGON2 } as const
    expect(() => argon2.hash(params, utf8('pw'), new Uint8Array(4), 32)).toThrow(/argon2: /)
    // The instance is still usable afterwards.
    expect(argon2.hash(params, utf8('pw'), new Uint8Array(16), 32)).toHaveLength(32)
  })
})
