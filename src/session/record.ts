/**
 * The session record stored in KV, and its parser. The record is JSON only: it is parsed with
 * `JSON.parse` and its shape checked, never evaluated.
 */

/** The user as the hot path needs it: everything of USER in the contract, never the password. */
export interface UserSnapshot {
  id: number
  username: string
  email: string
  first_name: string
  last_name: string
  is_staff: boolean
  is_superuser: boolean
  last_login: string | null
  date_joined: string
}

export interface SessionRecord {
  /** Format version, so a later change can read old records. */
  v: 1
  /** Public handle (see `generatePublicId`). */
  id: string
  /** Django's session dict: `_auth_user_*` keys beside the application's. */
  data: Record<string, unknown>
  /** When this session key was issued (ms since the epoch). */
  createdAt: number
  /** When the session ends (ms); checked on every read, KV's TTL only cleans up. */
  expiresAt: number
  /** Snapshot of the logged-in user, so an authenticated request needs no D1 query. */
  user?: UserSnapshot
  /** HMAC over the auth keys and the snapshot (see `verifySnapshot` in auth/auth-hash.ts). */
  sig?: string
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isUserSnapshot(value: unknown): value is UserSnapshot {
  return (
    isObject(value) &&
    Number.isSafeInteger(value.id) &&
    typeof value.username === 'string' &&
    typeof value.email === 'string' &&
    typeof value.first_name === 'string' &&
    typeof value.last_name === 'string' &&
    typeof value.is_staff === 'boolean' &&
    typeof value.is_superuser === 'boolean' &&
    (value.last_login === null || typeof value.last_login === 'string') &&
    typeof value.date_joined === 'string'
  )
}

/** Parses a stored record; anything malformed is null (treated as no session), never a throw. */
export function parseRecord(text: string | null): SessionRecord | null {
  if (text === null) return null
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (
    !isObject(value) ||
    value.v !== 1 ||
    typeof value.id !== 'string' ||
    !isObject(value.data) ||
    !Number.isFinite(value.createdAt) ||
    !Number.isFinite(value.expiresAt) ||
    (value.user !== undefined && !isUserSnapshot(value.user)) ||
    (value.sig !== undefined && typeof value.sig !== 'string')
  ) {
    return null
  }
  return value as unknown as SessionRecord
}
