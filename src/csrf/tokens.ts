/**
 * Django's CSRF tokens (`django.middleware.csrf`), pure: a 32-character secret lives in the
 * cookie; pages get it masked as 64 characters (a fresh random mask, then the secret shifted by
 * it), so the token in a page changes on every request and cannot be read back by BREACH-style
 * compression attacks. Either form is accepted from the client.
 */
import { constantTimeEqual, randomString } from '../utils/crypto'

/** Django's CSRF_ALLOWED_CHARS, in Django's order (the masking arithmetic depends on it). */
export const CSRF_ALLOWED_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const CSRF_SECRET_LENGTH = 32
const CSRF_TOKEN_LENGTH = 2 * CSRF_SECRET_LENGTH
const VALID = /^[a-zA-Z0-9]+$/

/** A new secret: 32 characters of a 62-letter alphabet = 190 bits. */
export function newCsrfSecret(): string {
  return randomString(CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH)
}

/** Whether a value is a well-formed token: 32 (secret) or 64 (masked) allowed characters. */
function isWellFormedToken(value: string): boolean {
  return (
    (value.length === CSRF_SECRET_LENGTH || value.length === CSRF_TOKEN_LENGTH) && VALID.test(value)
  )
}

/** Django's `_mask_cipher_secret`: a random mask followed by (secret + mask) mod 62. */
export function maskSecret(secret: string, mask = newCsrfSecret()): string {
  let cipher = ''
  for (let i = 0; i < secret.length; i++) {
    const sum =
      CSRF_ALLOWED_CHARS.indexOf(secret[i] as string) +
      CSRF_ALLOWED_CHARS.indexOf(mask[i] as string)
    cipher += CSRF_ALLOWED_CHARS[sum % CSRF_ALLOWED_CHARS.length]
  }
  return mask + cipher
}

/** Django's `_unmask_cipher_token`: the secret inside a 64-character masked token. */
export function unmaskToken(token: string): string {
  const mask = token.slice(0, CSRF_SECRET_LENGTH)
  const cipher = token.slice(CSRF_SECRET_LENGTH)
  const size = CSRF_ALLOWED_CHARS.length
  let secret = ''
  for (let i = 0; i < cipher.length; i++) {
    const difference =
      CSRF_ALLOWED_CHARS.indexOf(cipher[i] as string) -
      CSRF_ALLOWED_CHARS.indexOf(mask[i] as string)
    secret += CSRF_ALLOWED_CHARS[(difference + size) % size]
  }
  return secret
}

/**
 * The secret carried by a cookie value (32 characters, or a legacy masked 64), or null when the
 * value is not a token at all.
 */
export function secretFromCookie(value: string | undefined): string | null {
  if (value === undefined || !isWellFormedToken(value)) return null
  return value.length === CSRF_TOKEN_LENGTH ? unmaskToken(value) : value
}

/** Django's `_does_token_match`: the request's token (masked or not) against the secret. */
export function tokenMatches(requestToken: string, secret: string): boolean {
  if (!isWellFormedToken(requestToken)) return false
  const candidate =
    requestToken.length === CSRF_TOKEN_LENGTH ? unmaskToken(requestToken) : requestToken
  return constantTimeEqual(candidate, secret)
}
