/**
 * Django's `authenticate()`, `login()` and `logout()`, over D1 users and KV sessions. The sign-in
 * flows (sign-in.ts) call them; nothing else does.
 */

import type { Accounts, Actor } from '../accounts'
import { checkPassword, makePassword } from '../accounts/passwords'
import { toSnapshot, type UserRow } from '../accounts/users'
import { ValidationError } from '../errors'
import type { Session } from '../session'
import { kvKeyFor } from '../session/key'
import { type FederatedSession, IdentityRepository } from '../sso/repository'
import type { BatchedCheck } from '../throttle'
import { saltedHmacHex } from '../utils/crypto'
import { sessionAuthHash } from './auth-hash'
import type { SessionIndexRow } from './session-index'

/** DRF's message for every failed login, whatever the reason. */
export const INVALID_CREDENTIALS = 'Unable to log in with provided credentials.'

/** Django's session keys for the logged-in user. */
export const SESSION_KEY = '_auth_user_id'
const BACKEND_SESSION_KEY = '_auth_user_backend'
export const HASH_SESSION_KEY = '_auth_user_hash'
/** The backend path Django records; sessiongate's backend behaves as Django's ModelBackend. */
const MODEL_BACKEND = 'django.contrib.auth.backends.ModelBackend'

/**
 * Django's ModelBackend.authenticate, given the user found by the typed username (null when there
 * is none; the caller reads it in a batch with the throttle's check): that user if active and the
 * password is theirs, or null. An outdated hash is upgraded after a successful check (never after
 * a failed one).
 *
 * Unknown and inactive users cost the same hashing work as a wrong password. Hashes cost what
 * their parameters say, and an imported Django hash (PBKDF2 at 1,000,000 iterations: over a
 * second in JavaScript) costs far more than a new one: so for an unknown username the password
 * is checked against `decoyHash`, the hash of a real user chosen by a keyed hash of the typed
 * username (see `decoyPick`). The time a failure takes then follows the real users' hashes, and
 * the same username always costs the same, so timing cannot tell who exists.
 */
export async function authenticate(
  accounts: Accounts,
  user: UserRow | null,
  password: string,
  decoyHash: string | null = null,
): Promise<UserRow | null> {
  // With neither, the hasher still runs (on no hash), as Django's make_password(password).
  const check = await checkPassword(accounts.hashers, password, user ? user.password : decoyHash)
  if (!user || !check.valid || user.is_active !== 1) return null
  if (check.mustUpdate) {
    const upgraded = await makePassword(accounts.hashers, password)
    await accounts.users.setPassword(user.id, upgraded)
    return { ...user, password: upgraded }
  }
  return user
}

const DECOY_SALT = 'sessiongate.auth.decoy'

/**
 * Which real user's hash an unknown `username` is checked against: 48 bits of an HMAC keyed by
 * SECRET_KEY, so the choice is fixed for a username but cannot be predicted without the key.
 */
export async function decoyPick(username: string, secret: string): Promise<number> {
  const hex = await saltedHmacHex(DECOY_SALT, username, secret)
  return Number.parseInt(hex.slice(0, 12), 16)
}

/** How a login happened. */
export interface LoginOptions {
  /** The client's User-Agent, for `/auth/sessions`. */
  userAgent: string
  /** How the user proved who they are (RFC 8176 `amr` values, e.g. `["pwd"]`). */
  amr: readonly string[]
  /** `_auth_user_backend`. Default Django's ModelBackend (a password). */
  backend?: string
  /** Statements that must pass in the login's own batch (the throttle's success check). */
  guard?: BatchedCheck
  /** The identity provider's session it came from, indexed for back-channel logout. */
  federated?: FederatedSession
}

/**
 * Django's `login()`: a different user's session is flushed first; the key is always cycled, so
 * a key known before login (session fixation) is worthless after it, while an anonymous session's
 * data survives under the new key. Stores the auth keys, the signed snapshot, `last_login` and the
 * index row, in one D1 batch. Returns the user as now stored.
 *
 * `how.guard` (the throttle's success check) runs first in that batch; when its check refuses,
 * the login is undone and the session flushed, as when the password changed meanwhile.
 */
export async function login(
  accounts: Accounts,
  session: Session,
  user: UserRow,
  how: LoginOptions,
): Promise<UserRow> {
  const { userAgent, guard } = how
  const authHash = await sessionAuthHash(user.password, accounts.secrets[0] as string)
  const current = session.get(SESSION_KEY)
  if (current !== undefined && current !== String(user.id)) session.flush()
  session.cycleKey()

  const now = accounts.now()
  const loggedIn = { ...user, last_login: new Date(now).toISOString() }
  const snapshot = toSnapshot(loggedIn)
  session.set(SESSION_KEY, String(user.id))
  session.set(BACKEND_SESSION_KEY, how.backend ?? MODEL_BACKEND)
  session.set(HASH_SESSION_KEY, authHash)
  session.setUser(snapshot, how.amr)

  // One round trip: the guard's statements (the throttle's last word), then the login's writes.
  const guarded = guard?.statements ?? []
  const results = await accounts.db.batch([
    ...guarded,
    accounts.users.setLastLoginStatement(user.id, loggedIn.last_login),
    accounts.index.upsertStatement(
      {
        id: session.id,
        user_id: user.id,
        kv_key: await kvKeyFor(session.key as string),
        created_at: now,
        last_seen: now,
        expires_at: now + session.getExpiryAge() * 1000,
        user_agent: userAgent,
      },
      user.password,
    ),
    accounts.index.overflowStatement(user.id),
    ...(how.federated
      ? [new IdentityRepository(accounts.db).bindSessionStatement(session.id, how.federated)]
      : []),
  ])
  const [, indexed, overflow] = results.slice(guarded.length)
  try {
    guard?.check(results.slice(0, guarded.length))
  } catch (error) {
    // Refused after all: the login never happened. Its row goes, `last_login` goes back (unless
    // another login moved it since), and the half-made session is never saved.
    await accounts.db.batch([
      accounts.index.removeStatement(session.id),
      accounts.users.restoreLastLoginStatement(user.id, loggedIn.last_login, user.last_login),
    ])
    session.flush()
    throw error
  }
  if (!indexed?.meta.changes) {
    // The password changed (or the user went) between the check and now: that change ended the
    // user's sessions, so this one must not start. Flushing keeps the half-made session unsaved.
    session.flush()
    throw new ValidationError(INVALID_CREDENTIALS)
  }
  // Past MAX_SESSIONS_PER_USER, the oldest sessions end (see session-index.ts for why).
  await accounts.endListed((overflow?.results ?? []) as SessionIndexRow[])
  return loggedIn
}

/**
 * Django's `update_session_auth_hash()`: after the user's password changed, keeps this session
 * logged in under a new key with the new hash, and re-points its index row.
 */
export async function updateSessionAuthHash(
  accounts: Accounts,
  session: Session,
  user: UserRow,
): Promise<void> {
  session.cycleKey()
  const authHash = await sessionAuthHash(user.password, accounts.secrets[0] as string)
  const snapshot = toSnapshot(user)
  session.set(HASH_SESSION_KEY, authHash)
  session.setUser(snapshot)
  const now = accounts.now()
  await accounts.index.repoint(
    session.id,
    await kvKeyFor(session.key as string),
    now,
    now + session.getExpiryAge() * 1000,
  )
}

/**
 * Django's `logout()`: this session's record is deleted (now, so that a failure is a 503 and the
 * client keeps its cookie to try again: logout never reports success while the record exists),
 * then its index row; the session is flushed, so the response deletes the cookie. With
 * `everywhere`, every other session of the user ends too.
 */
export async function logout(
  accounts: Accounts,
  session: Session,
  user: { id: number; username: string } | null,
  actor: Actor,
  everywhere = false,
): Promise<void> {
  if (user && everywhere) {
    await accounts.endSessions(user, actor, {
      keepSession: session.id,
      event: 'logout_everywhere',
    })
  }
  const stored = session.loadedKvKey
  if (stored) await accounts.store.delete(stored)
  if (user) await accounts.index.remove(session.id)
  session.flush()
  if (stored) session.markDeleted(stored)
  if (user && !everywhere) await accounts.events.record({ type: 'logout', user }, actor)
}
