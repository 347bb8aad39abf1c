/**
 * Hashes written by real Django 5.2 (test/fixtures/django/README.md says how): every one must
 * verify with its password, refuse another, and ask to be upgraded to our default.
 */
import wasm from '@phi-ag/argon2/argon2.wasm'
import { describe, expect, it } from 'vitest'
import { FIXTURE_PASSWORDS } from '../../../test/fixtures/django/passwords'
import users from '../../../test/fixtures/django/users.json'
import vectors from '../../../test/fixtures/django/vectors.json'
import { createHashers, identifyHasher } from './index'

const hashers = createHashers(wasm)

const usable = users.filter((user) => hashers.isPasswordUsable(user.fields.password))

describe("Django 5.2's dumpdata auth.user fixture", () => {
  it('holds every hasher, an unusable password and inactive, staff and superuser accounts', () => {
    const algorithms = new Set(usable.map((user) => identifyHasher(user.fields.password)))
    expect([...algorithms].sort()).toEqual(['argon2', 'pbkdf2_sha1', 'pbkdf2_sha256', 'scrypt'])
    expect(users.filter((user) => !hashers.isPasswordUsable(user.fields.password))).toHaveLength(1)
    expect(users.some((user) => !user.fields.is_active)).toBe(true)
    expect(users.some((user) => user.fields.is_staff && !user.fields.is_superuser)).toBe(true)
    expect(users.some((user) => user.fields.is_superuser)).toBe(true)
  })

  for (const user of usable) {
    const { username, password: encoded } = user.fields
    const algorithm = identifyHasher(encoded)
    it(`verifies ${username}'s ${algorithm} hash made by Django 5.2 and asks for an upgrade`, async () => {
      const password = FIXTURE_PASSWORDS[username]
      if (password === undefined) throw new Error(`no password listed for ${username}`)
      expect(await hashers.checkPassword(password, encoded)).toEqual({
        valid: true,
        mustUpdate: true,
      })
      expect(await hashers.checkPassword(`${password}x`, encoded)).toEqual({
        valid: false,
        mustUpdate: false,
      })
    })
  }

  it('verifies the non-ASCII argon2 password as UTF-8 (dora)', async () => {
    const dora = users.find((user) => user.fields.username === 'dora')
    expect(dora?.fields.password).toMatch(/^argon2\$argon2id\$/)
    const encoded = dora?.fields.password ?? null
    expect((await hashers.checkPassword('pässwörd-ünïcode-1', encoded)).valid).toBe(true)
    // Same letters, decomposed: other bytes, so Django would refuse them too.
    const decomposed = 'pässwörd-ünïcode-1'.normalize('NFD')
    expect((await hashers.checkPassword(decomposed, encoded)).valid).toBe(false)
  })

  it("refuses every password for the unusable one (frank's)", async () => {
    const frank = users.find((user) => user.fields.username === 'frank')
    expect(frank?.fields.password).toMatch(/^!/)
    expect(await hashers.checkPassword('', frank?.fields.password ?? '')).toEqual({
      valid: false,
      mustUpdate: false,
    })
  })
})

describe('edge-case hashes made by Django 5.2', () => {
  for (const { note, password, encoded } of vectors) {
    it(`verifies ${encoded.split('$')[0]}: ${note}`, async () => {
      expect((await hashers.checkPassword(password, encoded)).valid).toBe(true)
      expect((await hashers.checkPassword(`${password}x`, encoded)).valid).toBe(false)
    })
  }

  it('accepts trailing NULs on PBKDF2 and scrypt hashes, as Django does, but not on argon2', async () => {
    // HMAC zero-pads keys shorter than its 64-byte block, so PBKDF2 (and scrypt, built on it)
    // cannot tell "a\0b" from "a\0b\0". Django 5.2 answers True for both; so do we.
    const byPrefix = (prefix: string) => {
      const found = vectors.find((v) => v.note.startsWith('NUL') && v.encoded.startsWith(prefix))
      if (!found) throw new Error(`no NUL vector for ${prefix}`)
      return found
    }
    const pbkdf2 = byPrefix('pbkdf2_sha256$')
    expect((await hashers.checkPassword('a\0b\0', pbkdf2.encoded)).valid).toBe(true)
    expect((await hashers.checkPassword('a', pbkdf2.encoded)).valid).toBe(false)
    const argon2 = byPrefix('argon2$')
    expect((await hashers.checkPassword('a\0b\0', argon2.encoded)).valid).toBe(false)
    expect((await hashers.checkPassword('a', argon2.encoded)).valid).toBe(false)
  })
})
