/**
 * The session record stored in KV, sealed, and its parser. The record is JSON only: it is parsed
 * with `JSON.parse` and its shape checked, never evaluated.
 *
 * Only the gateway mints sessions. Every record carries a seal, an HMAC under SECRET_KEY over the
 * KV key it is stored under and the whole record (data, user snapshot, public id, times), so
 * write access to KV alone cannot make, move, extend or edit a session: a record copied under
 * another key, given a later `expiresAt` or another snapshot, fails its seal and is no session.
 */
import type { HmacSigner } from '../utils/crypto'
import { isObject, parseJson } from '../utils/json'

/** The user as the hot path needs it: everything of USER (docs/api.md), never the password. */
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
  /** Whether the user proved they read `email`. */
  email_verified: boolean
  /** Django group names, sorted. */
  groups: string[]
}

export interface SessionRecord {
  /** Format version: 2 is sealed. Unsealed version-1 records are no session. */
  v: 2
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
  /**
   * How the session signed in (RFC 8176 `amr` values: `pwd`, `otp`, `hwk`, `mfa`...), for
   * `GET /auth/me`, the assertion and policies that need a second factor.
   */
  amr?: string[]
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}

/** Whether a parsed JSON value has the shape of a `UserSnapshot`. */
export function isUserSnapshot(value: unknown): value is UserSnapshot {
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
    typeof value.date_joined === 'string' &&
    typeof value.email_verified === 'boolean' &&
    isStringArray(value.groups)
  )
}

/** Parses a record's JSON; anything malformed is null (treated as no session), never a throw. */
function parseRecord(text: string): SessionRecord | null {
  const value = parseJson(text)
  if (
    !isObject(value) ||
    value.v !== 2 ||
    typeof value.id !== 'string' ||
    !isObject(value.data) ||
    !Number.isFinite(value.createdAt) ||
    !Number.isFinite(value.expiresAt) ||
    (value.user !== undefined && !isUserSnapshot(value.user)) ||
    (value.amr !== undefined && !isStringArray(value.amr))
  ) {
    return null
  }
  return value as unknown as SessionRecord
}

/**
 * The stored form is the record's JSON with the seal as its first member:
 * `{"seal":"<64 hex>",<the rest of JSON.stringify(record)>}`. Still one JSON object, and the
 * signed bytes are exactly the stored ones, so opening a record re-serializes nothing.
 */
const SEAL_PREFIX = '{"seal":"'
const SEAL_END = SEAL_PREFIX.length + 64
const SEALED_BODY = SEAL_END + 2

/** What the seal signs: the KV key, then the record's JSON as stored. */
function sealMessage(kvKey: string, json: string): string {
  return `${kvKey}\n${json}`
}

/**
 * The stored text of a JSON object under `kvKey`, sealed with the signer's first secret. Session
 * records and API token records (src/tokens) are sealed this way, each with its own signer salt.
 */
export async function sealJson(signer: HmacSigner, kvKey: string, json: string): Promise<string> {
  const seal = await signer.sign(sealMessage(kvKey, json))
  return `${SEAL_PREFIX}${seal}",${json.slice(1)}`
}

/**
 * The JSON text sealed as `text` under `kvKey`, or null when there is none or its seal does not
 * verify (under SECRET_KEY or a fallback). Nothing is parsed before the seal is checked, so a
 * forged value costs one HMAC and nothing more.
 */
export async function openSealed(
  signer: HmacSigner,
  kvKey: string,
  text: string | null,
): Promise<string | null> {
  if (
    text === null ||
    !text.startsWith(SEAL_PREFIX) ||
    text.slice(SEAL_END, SEALED_BODY) !== '",'
  ) {
    return null
  }
  const json = `{${text.slice(SEALED_BODY)}`
  const seal = text.slice(SEAL_PREFIX.length, SEAL_END)
  return (await signer.verify(seal, sealMessage(kvKey, json))) ? json : null
}

/** The stored text of `record` under `kvKey`, sealed with the signer's first secret. */
export function sealRecord(
  signer: HmacSigner,
  kvKey: string,
  record: SessionRecord,
): Promise<string> {
  return sealJson(signer, kvKey, JSON.stringify(record))
}

/**
 * The record stored as `text` under `kvKey`, or null when there is none, its seal does not verify
 * (under SECRET_KEY or a fallback) or it is malformed.
 */
export async function openRecord(
  signer: HmacSigner,
  kvKey: string,
  text: string | null,
): Promise<SessionRecord | null> {
  const json = await openSealed(signer, kvKey, text)
  return json === null ? null : parseRecord(json)
}
