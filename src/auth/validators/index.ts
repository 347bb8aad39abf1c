/**
 * Django's default password validators (AUTH_PASSWORD_VALIDATORS).
 */
import type { UserRow } from '../users'

/** Django's MinimumLengthValidator default. */
export const MIN_PASSWORD_LENGTH = 8

/** Every message of every validator that `password` fails, in Django's wording. */
export function validatePassword(
  password: string,
  _user: Pick<UserRow, 'username' | 'email' | 'first_name' | 'last_name'>,
): string[] {
  const problems: string[] = []
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    problems.push(
      `This password is too short. It must contain at least ${MIN_PASSWORD_LENGTH} characters.`,
    )
  }
  if (/^\d+$/.test(password)) problems.push('This password is entirely numeric.')
  return problems
}
