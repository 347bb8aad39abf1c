/**
 * Password handling around the hashers: NFKC normalization (so the same password typed on
 * different keyboards or input methods hashes the same) and the length cap.
 */
import type { Hashers, PasswordCheck } from './hashers'

/** Longest password accepted: hashing longer input would only be a denial of service. */
export const MAX_PASSWORD_LENGTH = 4096

/** NFKC form of a password. NUL and every other code point are kept: nothing is truncated. */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC')
}

/** A new hash of the normalized password (Django's `make_password`). */
export function makePassword(hashers: Hashers, password: string): Promise<string> {
  return hashers.makePassword(normalizePassword(password))
}

/**
 * Checks a password against a stored hash: the normalized form first, then, only when the input
 * was not already in NFKC form, the raw one, because Django does not normalize and a hash
 * imported from Django may be of the raw input. Passwords over the cap cost the same hashing
 * work as a wrong one (no length oracle) and never match.
 */
export async function checkPassword(
  hashers: Hashers,
  password: string,
  encoded: string | null,
): Promise<PasswordCheck> {
  if (password.length > MAX_PASSWORD_LENGTH) {
    await hashers.checkPassword('', null)
    return { valid: false, mustUpdate: false }
  }
  const normalized = normalizePassword(password)
  const check = await hashers.checkPassword(normalized, encoded)
  if (check.valid || normalized === password) return check
  const raw = await hashers.checkPassword(password, encoded)
  // A match on the raw form is stored again, normalized, at the next opportunity.
  return raw.valid ? { valid: true, mustUpdate: true } : raw
}
