/**
 * API token keys: what a client sends as `Authorization: Token <key>` (or `Bearer <key>`). Random,
 * shown once, and never stored: D1 and KV only ever see their SHA-256.
 */
import { ALPHANUMERIC, randomString, sha256Hex } from '../utils/crypto'

/** Every key starts with it, so a leaked one is recognisable (and secret scanners can match it). */
export const TOKEN_PREFIX = 'sgt_'
/** 40 characters of a 62-letter alphabet = 238 bits, past DRF's 160-bit `binascii.hexlify(20)`. */
const KEY_RANDOM_LENGTH = 40
/** What a key must look like to be looked up at all; anything else is refused without I/O. */
const KEY_PATTERN = /^sgt_[A-Za-z0-9]{40}$/
/** Prefix of every token record in KV (docs/storage.md). */
const TOKEN_KV_PREFIX = 'token:'

/** A new key from `crypto.getRandomValues`. */
export function generateTokenKey(): string {
  return TOKEN_PREFIX + randomString(ALPHANUMERIC, KEY_RANDOM_LENGTH)
}

/** The KV key of a token: `token:` + SHA-256 hex of the key. */
export async function tokenKvKey(key: string): Promise<string> {
  return TOKEN_KV_PREFIX + (await sha256Hex(key))
}

/** A token scheme or key after a comma, in a header that holds several. */
const JOINED_TOKEN = new RegExp(`,\\s*(token\\s|bearer\\s+${TOKEN_PREFIX})`, 'i')

/**
 * What an `Authorization` header says about tokens (DRF's `TokenAuthentication.authenticate`):
 * `none` when it names no token (absent, or another scheme such as Basic, or a Bearer value that
 * is not one of our keys: those are the origin's business), `invalid` for a `Token` header that is
 * malformed or a key of the wrong shape, else the key. Never a throw.
 */
export function parseAuthorization(
  header: string | undefined,
): { kind: 'none' } | { kind: 'invalid' } | { kind: 'key'; key: string } {
  if (header === undefined) return { kind: 'none' }
  // Two Authorization headers arrive joined by a comma: a token in the second must not pass as
  // part of the first's credential (and so reach the origin).
  if (header.includes(',') && JOINED_TOKEN.test(header)) return { kind: 'invalid' }
  const parts = header.trim().split(/\s+/)
  const scheme = parts[0]?.toLowerCase()
  if (scheme === 'bearer') {
    // A Bearer credential for the origin (its own JWTs, say) passes through untouched.
    if (!parts[1]?.startsWith(TOKEN_PREFIX)) return { kind: 'none' }
  } else if (scheme !== 'token') {
    return { kind: 'none' }
  }
  const key = parts[1]
  if (parts.length !== 2 || key === undefined || !KEY_PATTERN.test(key)) return { kind: 'invalid' }
  return { kind: 'key', key }
}

/**
 * Whether the header carries one of our keys, or claims to (`Token ...`): such a header is the
 * gateway's credential and never reaches an origin, like the session cookie.
 */
export function isTokenAuthorization(header: string | undefined): boolean {
  return parseAuthorization(header).kind !== 'none'
}
