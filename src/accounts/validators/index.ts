/**
 * Django's default password validators (the four of `AUTH_PASSWORD_VALIDATORS` in a new Django
 * project), with Django's messages, in Django's order, plus the length cap that hashing needs.
 *
 * They judge the password as it will be stored: NFKC-normalized (see ../passwords.ts), so that a
 * full-width "ｐａｓｓｗｏｒｄ", which logs in as "password", is refused as common too.
 */
import { MAX_PASSWORD_LENGTH, normalizePassword } from '../passwords'
import { commonPasswords } from './common-passwords'
import { SequenceMatcher } from './difflib'
import { pyIsDigit, pyLen, pyLower, pySplitNonWord, pyStrip } from './python'

export { MAX_PASSWORD_LENGTH } from '../passwords'
export { SequenceMatcher } from './difflib'

/** MinimumLengthValidator's default `min_length`. */
const MIN_PASSWORD_LENGTH = 8
/** UserAttributeSimilarityValidator's default `max_similarity`. */
const MAX_SIMILARITY = 0.7

/** The user fields the similarity check reads; a missing or empty one is skipped, as in Django. */
export interface PasswordUser {
  username?: string | null
  first_name?: string | null
  last_name?: string | null
  email?: string | null
}

/** UserAttributeSimilarityValidator's default attributes, with `auth_user`'s verbose names. */
const USER_ATTRIBUTES = [
  ['username', 'username'],
  ['first_name', 'first name'],
  ['last_name', 'last name'],
  ['email', 'email address'],
] as const

/**
 * Django's `exceeds_maximum_length_ratio`: a password ten times longer than a value can never be
 * similar enough to it, so SequenceMatcher is skipped (it bounds the work on long passwords).
 */
function exceedsMaximumLengthRatio(
  password: string,
  maxSimilarity: number,
  value: string,
): boolean {
  const passwordLength = pyLen(password)
  const valueLength = pyLen(value)
  return passwordLength >= 10 * valueLength && valueLength < (maxSimilarity / 2) * passwordLength
}

/**
 * UserAttributeSimilarityValidator: the message for the first of username, first name, last name
 * and email address that the password is too similar to, or null. Each value is compared whole
 * and in the parts that `\W+` splits it into (so an email's local part and domain labels count),
 * by difflib's `quick_ratio()` >= `maxSimilarity` (default 0.7), exactly as Django decides. Like
 * Django, it stops at the first attribute found similar.
 */
export function userAttributeSimilarityError(
  password: string,
  user: PasswordUser | null | undefined,
  maxSimilarity = MAX_SIMILARITY,
): string | null {
  if (!user) return null
  const lowered = pyLower(password)
  for (const [attribute, verboseName] of USER_ATTRIBUTES) {
    const value = user[attribute]
    if (!value || typeof value !== 'string') continue
    const valueLower = pyLower(value)
    for (const part of [...pySplitNonWord(valueLower), valueLower]) {
      if (exceedsMaximumLengthRatio(lowered, maxSimilarity, part)) continue
      if (new SequenceMatcher(lowered, part).quickRatio() >= maxSimilarity) {
        return `The password is too similar to the ${verboseName}.`
      }
    }
  }
  return null
}

/** MinimumLengthValidator: fewer than `minLength` (default 8) characters, counted as Python does. */
export function minimumLengthError(
  password: string,
  minLength = MIN_PASSWORD_LENGTH,
): string | null {
  if (pyLen(password) >= minLength) return null
  const noun = minLength === 1 ? 'character' : 'characters'
  return `This password is too short. It must contain at least ${minLength} ${noun}.`
}

/** CommonPasswordValidator: the lower-cased, stripped password is in Django's list. */
export function commonPasswordError(password: string): string | null {
  return commonPasswords().has(pyStrip(pyLower(password))) ? 'This password is too common.' : null
}

/** NumericPasswordValidator: Python's `password.isdigit()`. */
export function numericPasswordError(password: string): string | null {
  return pyIsDigit(password) ? 'This password is entirely numeric.' : null
}

/**
 * Not one of Django's: longer passwords are refused because login would refuse them (see
 * ../passwords.ts). Counted as `checkPassword` counts, in UTF-16 code units, so that every
 * password accepted here can log in.
 */
export function maximumLengthError(password: string): string | null {
  if (password.length <= MAX_PASSWORD_LENGTH) return null
  return `This password is too long. It must contain at most ${MAX_PASSWORD_LENGTH} characters.`
}

/**
 * Every message of every validator that `password` fails, in Django's wording and order
 * (similarity, minimum length, common, numeric), after the length cap; `[]` when it passes.
 * Django's own validators run on the NFKC form that would be stored. `user` may be null, as
 * Django's `validate_password(password, user=None)`: then similarity is not checked. The common
 * list is decoded on the first call, once per isolate.
 */
export function validatePassword(password: string, user: PasswordUser | null = null): string[] {
  const stored = normalizePassword(password)
  const problems = [
    maximumLengthError(password),
    userAttributeSimilarityError(stored, user),
    minimumLengthError(stored),
    commonPasswordError(stored),
    numericPasswordError(stored),
  ]
  return problems.filter((problem): problem is string => problem !== null)
}
