import { describe, expect, it } from 'vitest'
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from './recovery-codes'

describe('recovery codes', () => {
  it('makes ten distinct codes of 25 base32 characters (125 bits) in groups of five', () => {
    const codes = newRecoveryCodes()
    expect(codes).toHaveLength(10)
    expect(new Set(codes).size).toBe(10)
    for (const code of codes) {
      expect(code).toMatch(/^([0-9a-hjkmnp-tv-z]{5}-){4}[0-9a-hjkmnp-tv-z]{5}$/)
    }
  })

  it('reads a code however it is typed: case, spaces, dashes, and I/L/O for 1/1/0', async () => {
    const code = 'ab1c0-defgh-jkmnp-qrstv-wxyz9'
    const hash = await hashRecoveryCode(code)
    expect(hash).toMatch(/^[0-9a-f]{64}$/)
    for (const typed of [
      'AB1C0-DEFGH-JKMNP-QRSTV-WXYZ9',
      'ab1c0 defgh jkmnp qrstv wxyz9',
      'ab1c0defghjkmnpqrstvwxyz9',
      'abIcO-defgh-jkmnp-qrstv-wxyz9',
      'ablco-defgh-jkmnp-qrstv-wxyz9',
    ]) {
      expect(await hashRecoveryCode(typed)).toBe(hash)
    }
  })

  it('refuses what cannot be a code', () => {
    for (const typed of [
      '',
      '123456',
      'ab1c0-defgh-jkmnp-qrstv-wxyz',
      'ab1c0-defgh-jkmnp-qrstv-wxyzu',
      'ab1c0-defgh-jkmnp-qrstv-wxyz99',
    ]) {
      expect(normalizeRecoveryCode(typed)).toBeNull()
    }
  })
})
