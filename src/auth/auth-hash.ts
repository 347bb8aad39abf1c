/**
 * Django's session auth hash and sessiongate's snapshot signature.
 *
 * `_auth_user_hash` is written exactly as Django writes it (`get_session_auth_hash`), so a
 * password change makes it stale. The snapshot signature binds the user snapshot stored beside the
 * session data to `_auth_user_id` and `_auth_user_hash` with SECRET_KEY, so the hot path can trust
 * the snapshot without reading D1, and write access to KV alone cannot mint a session.
 */
import { constantTimeEqual, saltedHmacHex, toHex } from '../crypto'
import type { UserSnapshot } from '../session'

/** Django's `key_salt` for `AbstractBaseUser.get_session_auth_hash`. */
const AUTH_HASH_SALT = 'django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash'
const SNAPSHOT_SALT = 'sessiongate.auth.snapshot'
const encoder = new TextEncoder()

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

/** The exact bytes signed: field order is fixed here, not taken from stored JSON. */
function snapshotMessage(userId: string, authHash: string, user: UserSnapshot): string {
  return JSON.stringify([
    userId,
    authHash,
    user.id,
    user.username,
    user.email,
    user.first_name,
    user.last_name,
    user.is_staff,
    user.is_superuser,
    user.last_login,
    user.date_joined,
  ])
}

/**
 * HMAC keys derived from each secret, imported once per isolate: the hot path then costs one
 * HMAC, not a digest, an import and an HMAC.
 */
const snapshotKeys = new Map<string, Promise<CryptoKey>>()

function snapshotKey(secret: string): Promise<CryptoKey> {
  let key = snapshotKeys.get(secret)
  if (!key) {
    key = crypto.subtle
      .digest('SHA-256', encoder.encode(SNAPSHOT_SALT + secret))
      .then((raw) =>
        crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']),
      )
    // Bounded: a Worker has SECRET_KEY plus a few fallbacks, never more than a handful.
    if (snapshotKeys.size > 16) snapshotKeys.clear()
    snapshotKeys.set(secret, key)
  }
  return key
}

async function snapshotMac(secret: string, message: string): Promise<string> {
  const key = await snapshotKey(secret)
  return toHex(await crypto.subtle.sign('HMAC', key, encoder.encode(message)))
}

/** Signs a snapshot with SECRET_KEY (the first secret). */
export function signSnapshot(
  secrets: readonly string[],
  userId: string,
  authHash: string,
  user: UserSnapshot,
): Promise<string> {
  return snapshotMac(secrets[0] as string, snapshotMessage(userId, authHash, user))
}

/** Whether `signature` signs this snapshot under SECRET_KEY or a fallback, in constant time. */
export async function verifySnapshot(
  secrets: readonly string[],
  signature: string,
  userId: string,
  authHash: string,
  user: UserSnapshot,
): Promise<boolean> {
  const message = snapshotMessage(userId, authHash, user)
  let valid = false
  for (const secret of secrets) {
    if (constantTimeEqual(signature, await snapshotMac(secret, message))) valid = true
  }
  return valid
}
