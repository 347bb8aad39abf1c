/**
 * Recovery codes: ten single-use lookup secrets, shown once and stored only as their SHA-256.
 *
 * Each code is 25 characters of Crockford's base32 alphabet (125 bits, from the CSPRNG), written
 * in five groups of five. Past 112 bits a lookup secret may be stored under a plain hash, with no
 * salt or slow hasher (ASVS 6.5.2), and then a code is found by its hash in one indexed query, so
 * checking one costs no password-hashing work and reveals nothing by its timing.
 */
import { randomString, sha256Hex } from '../utils/crypto'

/** How many codes a set holds. */
export const RECOVERY_CODE_COUNT = 10
/** Crockford's base32: no I, L, O or U, so no code reads two ways. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
/** 25 characters of a 32-letter alphabet = 125 bits. */
const CODE_LENGTH = 25
const GROUP = 5

/** A new set of codes, as shown to the user (`xxxxx-xxxxx-xxxxx-xxxxx-xxxxx`). */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const code = randomString(ALPHABET, CODE_LENGTH)
    return code.match(new RegExp(`.{${GROUP}}`, 'g'))?.join('-') ?? code
  })
}

/**
 * A typed code in its canonical form, or null when it cannot be one: case, spaces and dashes
 * ignored, and the letters Crockford's base32 reads as digits (I and L as 1, O as 0) mapped.
 */
export function normalizeRecoveryCode(typed: string): string | null {
  const code = typed
    .toLowerCase()
    .replace(/[\s-]+/g, '')
    .replace(/[il]/g, '1')
    .replace(/o/g, '0')
  if (code.length !== CODE_LENGTH) return null
  for (const char of code) if (!ALPHABET.includes(char)) return null
  return code
}

/** What is stored of a code: the SHA-256 hex of its canonical form. */
export async function hashRecoveryCode(code: string): Promise<string | null> {
  const canonical = normalizeRecoveryCode(code)
  return canonical === null ? null : sha256Hex(canonical)
}
