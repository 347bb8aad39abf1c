/**
 * Session keys: the cookie value. Random, and never stored: KV only ever sees their SHA-256.
 */
import { LOWER_ALPHANUMERIC, randomString, sha256Hex } from '../utils/crypto'

/** 32 characters of a 36-letter alphabet = 165 bits, as Django's `get_random_string(32, ...)`. */
const KEY_LENGTH = 32
/** What a cookie value must look like to be looked up at all; anything else is no session. */
const KEY_PATTERN = /^[a-z0-9]{32,128}$/
/** Prefix of every session record in KV (docs/storage.md). */
const SESSION_PREFIX = 'session:'

/** A new session key from `crypto.getRandomValues`. */
export function generateSessionKey(): string {
  return randomString(LOWER_ALPHANUMERIC, KEY_LENGTH)
}

/**
 * The session key carried by a cookie value, or null when the value cannot be one (wrong length or
 * alphabet): such a cookie means "no session", never an error.
 */
export function parseSessionKey(value: string | undefined | null): string | null {
  return typeof value === 'string' && KEY_PATTERN.test(value) ? value : null
}

/** The KV key of a session: `session:` + SHA-256 hex of the session key. */
export async function kvKeyFor(sessionKey: string): Promise<string> {
  return SESSION_PREFIX + (await sha256Hex(sessionKey))
}

/**
 * A public handle for `/auth/sessions`: 128 random bits, unrelated to the key, so it can be shown
 * and sent back without revealing anything that authenticates.
 */
export function generatePublicId(): string {
  return randomString(LOWER_ALPHANUMERIC, 25)
}
