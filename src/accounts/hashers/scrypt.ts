/**
 * Django's `ScryptPasswordHasher`: `scrypt$<n>$<salt>$<r>$<p>$<base64 hash>` (work factor first,
 * then the salt; 64-byte hash), derived with `node:crypto`'s native scrypt, which workerd
 * provides under `nodejs_compat` and Node has always had.
 */

import { scrypt } from 'node:crypto'
import { constantTimeEqual } from '../../utils/crypto'
import { decodeBase64, encodeBase64, utf8 } from './encoding'

/** Django's `dklen`. */
const SCRYPT_HASH_BYTES = 64

/**
 * Django leaves `maxmem` at 0, which OpenSSL reads as 32 MiB: a hash needing more was never
 * written by Django. Counting memory as OpenSSL does, 128 * r * (N + 2 + p) bytes, Django's
 * defaults (N = 2^14, r = 8, p = 5) take 16 MiB, an eighth of a Worker isolate's 128 MB.
 */
const SCRYPT_MAX_MEMORY = 32 * 1024 * 1024

/**
 * Production Workers refuse scrypt when N * r * p exceeds 2^20 (workerd's `checkScryptCost`),
 * and local workerd may not: refuse it here first, so tests fail where production would.
 * Django's defaults cost 655,360.
 */
export const SCRYPT_MAX_COST = 2 ** 20

/** A parsed Django scrypt hash. */
export interface ScryptHash {
  n: number
  r: number
  p: number
  /** Django's salt is text and is hashed as its UTF-8 bytes. */
  salt: string
  hash: Uint8Array
}

const NUMBER = '([1-9][0-9]{0,9})'
const FORMAT = new RegExp(
  `^scrypt\\$${NUMBER}\\$([^$]+)\\$${NUMBER}\\$${NUMBER}\\$([A-Za-z0-9+/=]+)$`,
)

/**
 * Parses `scrypt$...`, or returns `null` when `encoded` is not in Django's exact format or its
 * parameters are ones Django could not have used (N not a power of two above 1, more than
 * {@link SCRYPT_MAX_MEMORY}) or production Workers would refuse (over {@link SCRYPT_MAX_COST}).
 */
export function parseScrypt(encoded: string): ScryptHash | null {
  const match = FORMAT.exec(encoded)
  if (!match) return null
  const [, nText, salt = '', rText, pText, hashText = ''] = match
  const n = Number(nText)
  const r = Number(rText)
  const p = Number(pText)
  if (n < 2 || (n & (n - 1)) !== 0 || n > 2 ** 30) return null
  if (n * r * p > SCRYPT_MAX_COST || 128 * r * (n + 2 + p) > SCRYPT_MAX_MEMORY) return null
  const hash = decodeBase64(hashText, true)
  if (!hash || hash.length !== SCRYPT_HASH_BYTES) return null
  return { n, r, p, salt, hash }
}

/** Writes a scrypt hash back in Django's format (`base64.b64encode`, padded). */
export function encodeScrypt(hash: ScryptHash): string {
  return `scrypt$${hash.n}$${hash.salt}$${hash.r}$${hash.p}$${encodeBase64(hash.hash, true)}`
}

/** scrypt of the password bytes with Django's salt (its UTF-8 bytes) and the stored N, r, p. */
function deriveScrypt(
  password: Uint8Array,
  salt: string,
  n: number,
  r: number,
  p: number,
  length = SCRYPT_HASH_BYTES,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    // maxmem has headroom over SCRYPT_MAX_MEMORY because BoringSSL (workerd) and OpenSSL (Node)
    // count slightly differently; parseScrypt has already applied Django's own limit.
    const options = { N: n, r, p, maxmem: 2 * SCRYPT_MAX_MEMORY }
    scrypt(password, utf8(salt), length, options, (error, key) => {
      if (error) reject(error)
      else resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength))
    })
  })
}

/** Django's `ScryptPasswordHasher.verify`: derive with the stored parameters, compare. */
export async function verifyScrypt(hash: ScryptHash, password: Uint8Array): Promise<boolean> {
  const derived = await deriveScrypt(password, hash.salt, hash.n, hash.r, hash.p, hash.hash.length)
  return constantTimeEqual(derived, hash.hash)
}
