/**
 * Django's `AuthenticationMiddleware` for Hono, with DRF's `TokenAuthentication` beside it: sets
 * `c.var.user` (the user, or null) and `c.var.credential` from the session, or from an API token
 * in `Authorization`, before any route runs.
 *
 * The hot path reads nothing: the session record carries a snapshot of the user, sealed with the
 * rest of the record (session/record.ts), and write-through revocation (session-index.ts) keeps it
 * current. Django's `_auth_user_hash` is still written, and verified whenever the user is read
 * from D1 (`confirmSaved`), so a session saved across a password change does not survive it.
 */
import type { MiddlewareHandler } from 'hono'
import { type Accounts, type Actor, createAccounts, toSnapshot, type UserRow } from '../accounts'
import type { Hashers } from '../accounts/hashers'
import type { Env } from '../env'
import { InvalidToken } from '../errors'
import type { RequestVariables } from '../request'
import type { Session, SessionRecord, SessionVariables, UserSnapshot } from '../session'
import type { RecentRevocations } from '../session/cache'
import { parseAuthorization, tokenKvKey } from '../tokens/key'
import { inBackground } from '../utils/background'
import type { HmacSigner } from '../utils/crypto'
import { verifySessionAuthHash } from './auth-hash'
import { LastSeen } from './last-seen'
import { HASH_SESSION_KEY, SESSION_KEY } from './login'

/** What authenticated a request: the session cookie or an API token, and how it signed in. */
export interface Credential {
  kind: 'session' | 'token'
  /** The public id of the session or the token. */
  id: string
  /** RFC 8176 `amr`: the session's (`pwd`, `mfa`...), or `["token"]`. */
  amr: readonly string[]
}

/** The `amr` of every token-authenticated request. */
const TOKEN_AMR: readonly string[] = Object.freeze(['token'])

/** What the auth middleware sets on the context. */
export type AuthVariables = {
  /** The logged-in user, or null for an anonymous request. */
  user: UserSnapshot | null
  /** What authenticated the request; null when anonymous. */
  credential: Credential | null
  /** The accounts service over this request's bindings (login, logout, every user change). */
  accounts: Accounts
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
  /** Where tokens' `last_used` writes are rate-limited. Default: a new `LastSeen()`. */
  lastUsed?: LastSeen
  /** Told of every revocation (the session cache's check); see `RecentRevocations`. */
  revocations?: RecentRevocations
}

/** Creates the auth middleware; it must run after the session middleware. */
export function authMiddleware(
  options: AuthMiddlewareOptions,
): MiddlewareHandler<{ Bindings: Env; Variables: SessionVariables & AuthVariables }> {
  const now = options.now ?? Date.now
  const lastSeen = options.lastSeen ?? new LastSeen()
  const lastUsed = options.lastUsed ?? new LastSeen()

  // One service per bindings object, which workerd hands to every request of an isolate: the
  // service keeps no per-request state, and building it on every request, anonymous ones
  // included, was measurable on the hot path.
  const services = new WeakMap<Env, Accounts>()
  function accountsFor(env: Env): Accounts {
    let accounts = services.get(env)
    if (!accounts) {
      accounts = createAccounts({
        db: env.DB,
        kv: env.SESSIONS,
        records: options.records,
        hashers: options.hashers,
        secrets: options.secrets,
        now,
        revocations: options.revocations,
      })
      services.set(env, accounts)
    }
    return accounts
  }

  return async function authentication(c, next) {
    const accounts = accountsFor(c.env)
    c.set('accounts', accounts)
    const authorization = parseAuthorization(c.req.header('Authorization'))
    if (authorization.kind !== 'none') {
      // DRF's TokenAuthentication: a token that does not authenticate is a 401, never anonymous.
      if (authorization.kind === 'invalid') throw new InvalidToken()
      // One KV read, as for a session; the record is sealed to the key's hash (tokens/record.ts).
      const record = await accounts.tokenStore.load(await tokenKvKey(authorization.key))
      if (!record) throw new InvalidToken()
      c.set('user', record.user)
      c.set('credential', { kind: 'token', id: record.id, amr: TOKEN_AMR })
      if (lastUsed.shouldRecord(record.id, now())) {
        inBackground(
          c,
          accounts.tokens
            .touch(record.id, now())
            .catch((error) => console.warn('last_used update failed', error)),
        )
      }
      await next()
      return
    }
    const session = c.var.session
    const user = resolveUser(session)
    c.set('user', user)
    c.set('credential', user ? { kind: 'session', id: session.id, amr: session.amr ?? [] } : null)
    if (user && lastSeen.shouldRecord(session.id, now())) {
      // The record's own expiry, or the one the sliding refresh is about to give it.
      const refreshed = now() + session.getExpiryAge() * 1000
      const expiresAt = session.needsRefresh() ? refreshed : (session.expiresAt ?? refreshed)
      inBackground(
        c,
        accounts.index
          .touch(session.id, now(), expiresAt)
          .catch((error) => console.warn('last_seen update failed', error)),
      )
    }
    await next()
  }
}

/**
 * Who is acting in this request, for the audit log: the client's address and user agent, and
 * the public id of its session (the new one, after a sign-in).
 */
export function actorOf(c: {
  var: RequestVariables & SessionVariables
  req: { header(name: string): string | undefined }
}): Actor {
  const session = c.var.session
  return {
    ip: c.var.clientIp,
    userAgent: c.req.header('User-Agent') ?? '',
    session: session.key === null ? null : session.id,
  }
}

/**
 * Django's `get_user(request)` over the sealed snapshot: the user the session is logged in as, or
 * null. A record that names a user without carrying that user's snapshot is not one the gateway
 * wrote: its auth keys are dropped (Django flushes such a session).
 */
function resolveUser(session: Session): UserSnapshot | null {
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
  accounts: Accounts,
  kvKey: string,
  record: SessionRecord,
  spacingMs = KV_WRITE_SPACING_MS,
): Promise<void> {
  const userId = record.data[SESSION_KEY]
  if (userId === undefined) return
  const owner = await accounts.index.userIdOf(record.id, kvKey)
  const user = owner === null ? null : await accounts.users.getById(owner)
  if (user && (await stillHolds(accounts.secrets, user, userId, record))) return
  await scheduler.wait(spacingMs)
  await accounts.store.delete(kvKey)
}

async function stillHolds(
  secrets: readonly string[],
  user: UserRow,
  userId: unknown,
  record: SessionRecord,
): Promise<boolean> {
  if (user.is_active !== 1 || String(user.id) !== userId) return false
  if (record.user && !sameUser(record.user, toSnapshot(user))) return false
  return verifySessionAuthHash(record.data[HASH_SESSION_KEY], user.password, secrets)
}

/** Whether a stored snapshot still shows the user as stored in D1. */
function sameUser(stored: UserSnapshot, current: UserSnapshot): boolean {
  // last_login moves with every login elsewhere, which rewrites no other session's snapshot.
  return (Object.keys(current) as (keyof UserSnapshot)[]).every(
    (field) =>
      field === 'last_login' || JSON.stringify(stored[field]) === JSON.stringify(current[field]),
  )
}
