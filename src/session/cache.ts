/**
 * The session cache (SESSION_CACHE_SECONDS, like better-auth's cookie cache): a signed, short-lived
 * copy of a session's snapshot in a second cookie, so that safe requests to ordinary routes can
 * skip the KV read for that many seconds.
 *
 * What can be checked without a KV read is checked: the copy is an HMAC (its own salt) over the
 * session's KV key (so it is bound to this very session cookie value: another cookie, or none,
 * makes it worthless), the public session id, the snapshot, `amr`, when it was issued and when it
 * ends (never past the session's own expiry). Logout and every change to the session clear or
 * replace it, and a revocation made in this isolate (a password change, a deactivation, a flag
 * change, "log out everywhere") outdates every copy of that user's issued before it
 * (`RecentRevocations`). A revocation made elsewhere reaches a copy within its seconds: that is the
 * trade (docs/storage.md), beside KV's own 60 s.
 */

import type { Context } from 'hono'
import { HmacSigner, openJson, peekJson, sealJson } from '../utils/crypto'
import { isObject } from '../utils/json'
import { isUserSnapshot, type SessionRecord, type UserSnapshot } from './record'

/** The most SESSION_CACHE_SECONDS may be: KV's own propagation window. */
export const MAX_SESSION_CACHE_SECONDS = 60

/** What a copy holds: enough for `c.var.user`, the policy and the assertion. */
export interface CachedSession {
  /** The public session id. */
  id: string
  user: UserSnapshot
  amr: string[]
  /** When it was issued (ms). */
  issuedAt: number
  /** When it stops being used (ms): issue time + SESSION_CACHE_SECONDS, at most the session's. */
  expiresAt: number
  /** When the session itself ends (ms), as its record says. */
  sessionExpiresAt: number
}

/** What the session middleware needs for the cache (SESSION_CACHE_SECONDS above 0). */
export interface SessionCacheOptions {
  /** SESSION_CACHE_SECONDS, 1 to 60. */
  seconds: number
  signer: SessionCacheSigner
  /** The revocations made in this isolate, which outdate copies issued before them. */
  revocations: RecentRevocations
  /**
   * Whether this request may be answered from a copy: a safe method to a route that needs no
   * more than a signed-in user (never `/auth/*`, staff, superuser or MFA routes).
   */
  isCacheable: (c: Context) => boolean
}

/**
 * Browsers keep cookies up to 4,096 bytes; a copy larger than this (a user in very many groups)
 * is not issued, and that user's requests read KV as without the cache.
 */
export const MAX_CACHE_COOKIE_BYTES = 3_800

/** The copy of a session record to issue now. */
export function copyOf(
  record: SessionRecord,
  user: UserSnapshot,
  seconds: number,
  now: number,
): CachedSession {
  return {
    id: record.id,
    user,
    amr: record.amr ?? [],
    issuedAt: now,
    expiresAt: Math.min(now + seconds * 1000, record.expiresAt),
    sessionExpiresAt: record.expiresAt,
  }
}

/**
 * The record a copy stands for, with only what the hot path reads: the user id in Django's key,
 * the snapshot and `amr`. A session made from it is never saved (the middleware sees to that).
 */
export function recordOfCopy(copy: CachedSession): SessionRecord {
  return {
    v: 2,
    id: copy.id,
    data: { _auth_user_id: String(copy.user.id) },
    createdAt: copy.issuedAt,
    expiresAt: copy.sessionExpiresAt,
    user: copy.user,
    amr: copy.amr,
  }
}

const CACHE_SALT = 'sessiongate.session.cache'

/**
 * The cache cookie's name: the session cookie's with `_cache` after it, so a `__Host-` prefix
 * carries over (and with it the browser's rules for it).
 */
export function sessionCacheCookieName(sessionCookieName: string): string {
  return `${sessionCookieName}_cache`
}

/**
 * When, per user, this isolate last ended or rewrote that user's sessions. A copy issued before
 * it is not used. Bounded: entries older than the longest a copy lives are useless and dropped.
 */
export class RecentRevocations {
  readonly #at = new Map<number, number>()
  /**
   * Every copy issued before this is outdated: what a user forgotten to keep the map bounded
   * leaves behind (more revocations in a copy's lifetime than the map holds outdate everyone).
   */
  #floor = 0

  /** @param maxEntries users remembered at once (default 10,000: well under 1 MB). */
  constructor(private readonly maxEntries = 10_000) {}

  /** Remembers that the user's sessions were ended or rewritten at `now` (ms). */
  note(userId: number, now: number): void {
    this.#at.delete(userId)
    this.#at.set(userId, now)
    if (this.#at.size > this.maxEntries) {
      const [oldest, at] = this.#at.entries().next().value as [number, number]
      this.#at.delete(oldest)
      this.#floor = Math.max(this.#floor, at)
    }
  }

  /**
   * Whether a copy for the user issued at `issuedAt` came before a revocation. Strictly before:
   * a sign-in notes the session it replaces, then issues its own copy in the same millisecond.
   */
  outdates(userId: number, issuedAt: number): boolean {
    const at = this.#at.get(userId)
    return issuedAt < this.#floor || (at !== undefined && issuedAt < at)
  }
}

function asCached(value: unknown): CachedSession | null {
  if (
    !isObject(value) ||
    typeof value.id !== 'string' ||
    !isUserSnapshot(value.user) ||
    !Array.isArray(value.amr) ||
    !value.amr.every((item) => typeof item === 'string') ||
    !Number.isFinite(value.issuedAt) ||
    !Number.isFinite(value.expiresAt) ||
    !Number.isFinite(value.sessionExpiresAt)
  ) {
    return null
  }
  return value as unknown as CachedSession
}

/** Signs and opens the cache cookie's value: `<base64url JSON>.<hex HMAC>`. */
export class SessionCacheSigner {
  readonly #signer: HmacSigner

  /** @param secrets SECRET_KEY first, then SECRET_KEY_FALLBACKS. */
  constructor(secrets: readonly string[]) {
    this.#signer = new HmacSigner(CACHE_SALT, secrets)
  }

  /** The cookie value of `copy` for the session stored under `kvKey`. */
  seal(kvKey: string, copy: CachedSession): Promise<string> {
    return sealJson(this.#signer, copy, kvKey)
  }

  /**
   * When the copy in a cookie value ends (ms), read without checking its seal, or null when it
   * cannot be read. Only to decide whether to hand out a new copy (from a record just read from
   * KV), which a forged value can at most bring forward: never to trust it.
   */
  peekExpiresAt(value: string | undefined): number | null {
    return asCached(peekJson(value))?.expiresAt ?? null
  }

  /**
   * The copy in a cookie value for the session stored under `kvKey`, or null when it is absent,
   * forged, for another session, malformed or past its expiry. Never a throw.
   */
  async open(kvKey: string, value: string | undefined, now: number): Promise<CachedSession | null> {
    const copy = asCached(await openJson(this.#signer, value, kvKey))
    if (!copy || copy.expiresAt <= now) return null
    return copy
  }
}
