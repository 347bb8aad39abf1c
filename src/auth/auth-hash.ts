/**
 * Django's session auth hash. `_auth_user_hash` is written exactly as Django writes it
 * (`get_session_auth_hash`), so a password change makes it stale. (What lets the hot path trust
 * the user snapshot without D1 is the record's seal: session/record.ts.)
 */
import { constantTimeEqual, saltedHmacHex } from '../utils/crypto'

/** Django's `key_salt` for `AbstractBaseUser.get_session_auth_hash`. */
const AUTH_HASH_SALT = 'django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash'

/** Django's `get_session_auth_hash()`: salted HMAC-SHA256 of the stored password hash. */
export function sessionAuthHash(passwordHash: string, secret: string): Promise<string> {
  return saltedHmacHex(AUTH_HASH_SALT, passwordHash, secret)
}

/**
 * Whether `candidate` is the auth hash of `passwordHash` under SECRET_KEY or any fallback, in
 * constant time (Django's `_get_user` with SECRET_KEY_FALLBACKS).
 */
export async function verifySessionAuthHash(
  candidate: unknown,
  passwordHash: string,
  secrets: readonly string[],
): Promise<boolean> {
  if (typeof candidate !== 'string') return false
  let valid = false
  for (const secret of secrets) {
    // No early exit: every key is tried, so timing does not tell which one matched.
    if (constantTimeEqual(candidate, await sessionAuthHash(passwordHash, secret))) valid = true
  }
  return valid
}
