/**
 * Django's `PBKDF2PasswordHasher` (`pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`) and
 * `PBKDF2SHA1PasswordHasher` (`pbkdf2_sha1$...`): parse, derive and verify.
 */

import { constantTimeEqual } from '../../utils/crypto'
import { decodeBase64, encodeBase64, utf8 } from './encoding'
import { DIGEST_BYTES, type Pbkdf2Digest, pbkdf2Js } from './pbkdf2-js'

/**
 * The most PBKDF2 iterations that production Workers derive natively: workerd's
 * `DEFAULT_MAX_PBKDF2_ITERATIONS`, enforced for WebCrypto and `node:crypto` alike. Local workerd
 * (wrangler dev, vitest) has no such cap, so asking for more would pass every test and fail every
 * real login: above it, the rounds run in JavaScript instead.
 */
export const NATIVE_PBKDF2_MAX_ITERATIONS = 100_000

/** A parsed Django PBKDF2 hash. */
export interface Pbkdf2Hash {
  algorithm: 'pbkdf2_sha256' | 'pbkdf2_sha1'
  digest: Pbkdf2Digest
  iterations: number
  /** Django's salt is text and is hashed as its UTF-8 bytes. */
  salt: string
  hash: Uint8Array
}

// Django writes the count with `%d` and compares whole encoded strings, so a count with a leading
// zero or a sign never verifies there; it does not here either. Django refuses salts with `$`.
const FORMAT = /^(pbkdf2_sha256|pbkdf2_sha1)\$([1-9][0-9]{0,9})\$([^$]+)\$([A-Za-z0-9+/=]+)$/

/**
 * Parses `pbkdf2_sha256$...` or `pbkdf2_sha1$...`, or returns `null` when `encoded` is not in
 * Django's exact format, its hash is not a full digest, or it asks for more than `maxIterations`
 * (so a damaged or hostile row cannot make a login spin for minutes).
 */
export function parsePbkdf2(encoded: string, maxIterations: number): Pbkdf2Hash | null {
  const match = FORMAT.exec(encoded)
  if (!match) return null
  const [, algorithm = '', count = '', salt = '', hashText = ''] = match
  const digest: Pbkdf2Digest = algorithm === 'pbkdf2_sha256' ? 'sha256' : 'sha1'
  const iterations = Number(count)
  const hash = decodeBase64(hashText, true)
  if (iterations > maxIterations || !hash || hash.length !== DIGEST_BYTES[digest]) return null
  return {
    algorithm: digest === 'sha256' ? 'pbkdf2_sha256' : 'pbkdf2_sha1',
    digest,
    iterations,
    salt,
    hash,
  }
}

/** Writes a PBKDF2 hash back in Django's format (`base64.b64encode`, padded). */
export function encodePbkdf2(hash: Pbkdf2Hash): string {
  return `${hash.algorithm}$${hash.iterations}$${hash.salt}$${encodeBase64(hash.hash, true)}`
}

async function pbkdf2WebCrypto(
  digest: Pbkdf2Digest,
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  length: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', password, 'PBKDF2', false, ['deriveBits'])
  const hash = digest === 'sha256' ? 'SHA-256' : 'SHA-1'
  const bits = await crypto.subtle.deriveBits(
    { name: 'PBKDF2', hash, salt, iterations },
    key,
    length * 8,
  )
  return new Uint8Array(bits)
}

/**
 * PBKDF2-HMAC of the password bytes: natively (WebCrypto) up to
 * {@link NATIVE_PBKDF2_MAX_ITERATIONS} iterations, in JavaScript above, never natively above.
 */
export async function derivePbkdf2(
  digest: Pbkdf2Digest,
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  length: number,
): Promise<Uint8Array> {
  if (iterations <= NATIVE_PBKDF2_MAX_ITERATIONS) {
    try {
      return await pbkdf2WebCrypto(digest, password, salt, iterations, length)
    } catch {
      // The same bytes come out of the JavaScript path, only slower: a runtime that refuses an
      // input (a zero-length key, a lower cap one day) costs time, never a login.
    }
  }
  return pbkdf2Js(digest, password, salt, iterations, length)
}

/** Django's `PBKDF2PasswordHasher.verify`: derive with the stored salt and count, compare. */
export async function verifyPbkdf2(hash: Pbkdf2Hash, password: Uint8Array): Promise<boolean> {
  const derived = await derivePbkdf2(
    hash.digest,
    password,
    utf8(hash.salt),
    hash.iterations,
    hash.hash.length,
  )
  return constantTimeEqual(derived, hash.hash)
}
