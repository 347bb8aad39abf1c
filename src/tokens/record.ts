/**
 * The token record stored in KV under `token:<sha256 hex of the key>`: what an authenticated
 * request needs (the token's public id, its user's snapshot, its expiry), sealed as session
 * records are (session/record.ts) but with a salt of its own. The seal covers the KV key (so the
 * key's hash), the id, the user id, the snapshot and the times: write access to KV cannot make a
 * token, move one to another key, give it a later expiry or another user.
 */
import { isUserSnapshot, openSealed, sealJson, type UserSnapshot } from '../session/record'
import { HmacSigner } from '../utils/crypto'
import { isObject, parseJson } from '../utils/json'

export interface TokenRecord {
  /** Format version. */
  v: 1
  /** The token's public id (`GET /auth/tokens`, `DELETE /auth/tokens/{id}`). */
  id: string
  userId: number
  /** When it was made (ms since the epoch). */
  createdAt: number
  /** When it stops working (ms), or null for never; checked on every read. */
  expiresAt: number | null
  /** The user as the hot path needs it: rewritten with every change to the user. */
  user: UserSnapshot
}

const TOKEN_SALT = 'sessiongate.token.record'

/** What seals token records; one per app, so the keys are imported once. */
export function tokenSigner(secrets: readonly string[]): HmacSigner {
  return new HmacSigner(TOKEN_SALT, secrets)
}

function parseTokenRecord(json: string): TokenRecord | null {
  const value = parseJson(json)
  if (
    !isObject(value) ||
    value.v !== 1 ||
    typeof value.id !== 'string' ||
    !Number.isSafeInteger(value.userId) ||
    !Number.isFinite(value.createdAt) ||
    (value.expiresAt !== null && !Number.isFinite(value.expiresAt)) ||
    !isUserSnapshot(value.user) ||
    value.user.id !== value.userId
  ) {
    return null
  }
  return value as unknown as TokenRecord
}

/** The stored text of `record` under `kvKey`, sealed. */
export function sealTokenRecord(
  signer: HmacSigner,
  kvKey: string,
  record: TokenRecord,
): Promise<string> {
  return sealJson(signer, kvKey, JSON.stringify(record))
}

/** The record stored as `text` under `kvKey`, or null when absent, unsealed or malformed. */
export async function openTokenRecord(
  signer: HmacSigner,
  kvKey: string,
  text: string | null,
): Promise<TokenRecord | null> {
  const json = await openSealed(signer, kvKey, text)
  return json === null ? null : parseTokenRecord(json)
}
