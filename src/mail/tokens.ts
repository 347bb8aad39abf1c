/**
 * Django's password reset links, exactly: `PasswordResetTokenGenerator` tokens and
 * `urlsafe_base64_encode` user ids. A link made by a Django app sharing SECRET_KEY and the user
 * rows works here, and one made here works there (test/fixtures/django holds vectors made by
 * real Django). Pure: no I/O, the clock passed in.
 *
 * A token is `<base36 seconds since 2001-01-01>-<hash>`, the hash every other character of the
 * hex HMAC-SHA256 (`salted_hmac`, key salt below) of the user's id, password hash, last login
 * (to the second, as naive text), the timestamp and the e-mail. So it dies when the password or
 * the last login changes, and when the e-mail does.
 */
import { constantTimeEqual, saltedHmacHex } from '../utils/crypto'

/** Django's `PasswordResetTokenGenerator.key_salt`. */
export const PASSWORD_RESET_SALT = 'django.contrib.auth.tokens.PasswordResetTokenGenerator'

/** Midnight, 1 January 2001: Django counts token timestamps from there. */
const EPOCH_2001_MS = Date.UTC(2001, 0, 1)

/** Django's `base36_to_int` refuses more than 13 characters (larger than any 64-bit int). */
const BASE36 = /^[0-9a-z]{1,13}$/

/** What a token covers of a user. */
export interface TokenUser {
  id: number
  password: string
  last_login: string | null
  email: string
}

/** Seconds since 2001-01-01 (Django's `_num_seconds(_now())`, with TIME_ZONE = "UTC"). */
export function tokenTimestamp(nowMs: number): number {
  return Math.floor((nowMs - EPOCH_2001_MS) / 1000)
}

/**
 * `str(last_login.replace(microsecond=0, tzinfo=None))`: `YYYY-MM-DD HH:MM:SS` in UTC, or `''`
 * for a user who never logged in. D1 keeps last_login as ISO 8601 UTC text, with milliseconds
 * when sessiongate wrote it and without when imported from Django: both give the same string.
 */
export function loginTimestamp(lastLogin: string | null): string {
  if (lastLogin === null || lastLogin === '') return ''
  const time = Date.parse(lastLogin)
  if (Number.isNaN(time)) return ''
  return new Date(time).toISOString().slice(0, 19).replace('T', ' ')
}

/** Django's `_make_hash_value(user, timestamp)`. */
function hashValue(user: TokenUser, timestamp: number): string {
  return `${user.id}${user.password}${loginTimestamp(user.last_login)}${timestamp}${user.email}`
}

async function tokenAt(
  user: TokenUser,
  timestamp: number,
  secret: string,
  salt: string,
): Promise<string> {
  const hex = await saltedHmacHex(salt, hashValue(user, timestamp), secret)
  // Django shortens the URL by keeping every other character (`hexdigest()[::2]`).
  let hash = ''
  for (let i = 0; i < hex.length; i += 2) hash += hex[i]
  return `${timestamp.toString(36)}-${hash}`
}

/**
 * A token for `user` at `nowMs`, signed with `secret` (SECRET_KEY). `salt` defaults to Django's
 * password reset salt; another salt makes tokens for another purpose that never pass for these.
 */
export function makeToken(
  user: TokenUser,
  secret: string,
  nowMs: number,
  salt = PASSWORD_RESET_SALT,
): Promise<string> {
  return tokenAt(user, tokenTimestamp(nowMs), secret, salt)
}

/**
 * Whether `token` is valid for `user` under one of `secrets` (SECRET_KEY, then the fallbacks)
 * and no older than `timeoutSeconds` at `nowMs` (Django's `check_token`). Every secret is tried,
 * so the time taken does not tell which one matched.
 */
export async function checkToken(
  user: TokenUser,
  token: unknown,
  secrets: readonly string[],
  nowMs: number,
  timeoutSeconds: number,
  salt = PASSWORD_RESET_SALT,
): Promise<boolean> {
  if (typeof token !== 'string') return false
  const dash = token.indexOf('-')
  if (dash < 0) return false
  const stamp = token.slice(0, dash)
  if (!BASE36.test(stamp)) return false
  const timestamp = Number.parseInt(stamp, 36)
  if (!Number.isSafeInteger(timestamp)) return false
  let valid = false
  for (const secret of secrets) {
    if (constantTimeEqual(await tokenAt(user, timestamp, secret, salt), token)) valid = true
  }
  return valid && tokenTimestamp(nowMs) - timestamp <= timeoutSeconds
}

/** Django's `urlsafe_base64_encode(force_bytes(pk))`: base64url of the id's digits, unpadded. */
export function encodeUid(id: number): string {
  return btoa(String(id)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

/**
 * The user id in a `uid` (Django's `urlsafe_base64_decode(uidb64).decode()`, then the pk), or
 * null when it is not one.
 */
export function decodeUid(uid: unknown): number | null {
  if (typeof uid !== 'string' || uid.length === 0 || uid.length > 32) return null
  if (!/^[A-Za-z0-9_-]+$/.test(uid)) return null
  let digits: string
  try {
    const padded = uid + '='.repeat((4 - (uid.length % 4)) % 4)
    digits = atob(padded.replaceAll('-', '+').replaceAll('_', '/'))
  } catch {
    return null
  }
  if (!/^[1-9]\d{0,15}$/.test(digits)) return null
  const id = Number(digits)
  return Number.isSafeInteger(id) ? id : null
}
