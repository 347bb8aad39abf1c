/**
 * Django's `AuthenticationMiddleware` for Hono: sets `c.var.user` (the user, or null) from the
 * session before any route runs.
 *
 * The hot path reads nothing: the session record carries a snapshot of the user, sealed with the
 * rest of the record (session/record.ts), and write-through revocation (session-index.ts) keeps it
 * current. Django's `_auth_user_hash` is still written, and verified whenever the user is read
 * from D1 (`confirmSaved`), so a session saved across a password change does not survive it.
 */
import type { MiddlewareHandler } from 'hono'
import type { Hashers } from '../accounts/hashers'
import { toSnapshot, UserRepository, type UserRow } from '../accounts/users'
import type { Env } from '../env'
import type { Session, SessionRecord, SessionVariables, UserSnapshot } from '../session'
import { SessionStore } from '../session'
import { inBackground } from '../utils/background'
import type { HmacSigner } from '../utils/crypto'
import { verifySessionAuthHash } from './auth-hash'
import { LastSeen } from './last-seen'
import { type AuthContext, HASH_SESSION_KEY, SESSION_KEY } from './login'
import { SessionIndex } from './session-index'

export type { AuthContext } from './login'

/** What the auth middleware sets on the context. */
export type AuthVariables = {
  /** The logged-in user, or null for an anonymous request. */
  user: UserSnapshot | null
  /** Users, sessions and hashers for the routes (login, logout, password change). */
  auth: AuthContext
}

export interface AuthMiddlewareOptions {
  hashers: Hashers
  /** SECRET_KEY first, then SECRET_KEY_FALLBACKS. */
  secrets: readonly string[]
  /** What seals session records (the session middleware's). */
  records: HmacSigner
  /** The clock (ms). Default `Date.now`. */
  now?: () => number
  /** Where `last_seen` writes are rate-limited. Default: a new `LastSeen()` for this app. */
  lastSeen?: LastSeen
}

/** Creates the auth middleware; it must run after the session middleware. */
export function authMiddleware(
  options: AuthMiddlewareOptions,
): MiddlewareHandler<{ Bindings: Env; Variables: SessionVariables & AuthVariables }> {
  const now = options.now ?? Date.now
  const lastSeen = options.lastSeen ?? new LastSeen()

  return async function authentication(c, next) {
    const auth: AuthContext = {
      db: c.env.DB,
      users: new UserRepository(c.env.DB),
      index: new SessionIndex(c.env.DB),
      store: new SessionStore(c.env.SESSIONS, options.records, now),
      hashers: options.hashers,
      secrets: options.secrets,
      now,
    }
    c.set('auth', auth)
    const session = c.var.session
    const user = resolveUser(session)
    c.set('user', user)
    if (user && lastSeen.shouldRecord(session.id, now())) {
      // The record's own expiry, or the one the sliding refresh is about to give it.
      const refreshed = now() + session.getExpiryAge() * 1000
      const expiresAt = session.needsRefresh() ? refreshed : (session.expiresAt ?? refreshed)
      inBackground(
        c,
        auth.index
          .touch(session.id, now(), expiresAt)
          .catch((error) => console.warn('last_seen update failed', error)),
      )
    }
    await next()
  }
}

/**
 * Django's `get_user(request)` over the sealed snapshot: the user the session is logged in as, or
 * null. A record that names a user without carrying that user's snapshot is not one the gateway
 * wrote: its auth keys are dropped (Django flushes such a session).
 */
export function resolveUser(session: Session): UserSnapshot | null {
  const userId = session.get(SESSION_KEY)
  if (userId === undefined) return null
  const snapshot = session.user
  if (snapshot && typeof userId === 'string' && String(snapshot.id) === userId) return snapshot
  session.flush()
  return null
}

/** KV takes one write per second per key: a delete right after this request's own put may fail. */
const KV_WRITE_SPACING_MS = 1_000

/**
 * Confirms a session record this request has just written. A revocation (a password change,
 * "log out everywhere", a deactivation, a staff change) may have run while the request held the
 * session, and the write then put back what it ended. So, after the write: the session's index
 * row must still point at this record, and its user be active, with the same password and the
 * snapshot's fields; otherwise the record is deleted. Revocation deletes rows before records,
 * so whichever write lands last, the session stays ended. Runs in the background.
 *
 * @param spacingMs the wait before that delete, default 1,000: KV takes one write per second
 *   per key, and this request has just written the record.
 */
export async function confirmSaved(
  auth: AuthContext,
  kvKey: string,
  record: SessionRecord,
  spacingMs = KV_WRITE_SPACING_MS,
): Promise<void> {
  const userId = record.data[SESSION_KEY]
  if (userId === undefined) return
  const user = await auth.index.userOf(record.id, kvKey)
  if (user && (await stillHolds(auth, user, userId, record))) return
  await scheduler.wait(spacingMs)
  await auth.store.delete(kvKey)
}

async function stillHolds(
  auth: AuthContext,
  user: UserRow,
  userId: unknown,
  record: SessionRecord,
): Promise<boolean> {
  if (user.is_active !== 1 || String(user.id) !== userId) return false
  if (record.user && !sameUser(record.user, toSnapshot(user))) return false
  return verifySessionAuthHash(record.data[HASH_SESSION_KEY], user.password, auth.secrets)
}

/** Whether a stored snapshot still shows the user as stored in D1. */
function sameUser(stored: UserSnapshot, current: UserSnapshot): boolean {
  // last_login moves with every login elsewhere, which rewrites no other session's snapshot.
  return (Object.keys(current) as (keyof UserSnapshot)[]).every(
    (field) => field === 'last_login' || stored[field] === current[field],
  )
}
