/**
 * The current password, asked again before a signed-in user changes their factors (so a session
 * left open is not enough to take over the account's second factor). Users without a usable
 * password (Django's `!` prefix: signed up through an identity provider) have nothing to type.
 * Guessing here counts as guessing at the sign-in form: the same throttle, the same buckets.
 */
import type { Accounts, Actor, UserRow } from '../accounts'
import { checkPassword } from '../accounts/passwords'
import { ValidationError } from '../errors'
import type { LoginThrottle } from '../throttle'

export const INCORRECT_PASSWORD = 'Incorrect password.'

/**
 * Checks `password` (from the request body, any type) against the user's stored one: 400
 * `Incorrect password.` when it is missing or wrong, 429 when throttled. Passes at once for a
 * user without a usable password.
 */
export async function confirmPassword(
  { accounts, throttle, actor }: { accounts: Accounts; throttle: LoginThrottle; actor: Actor },
  user: UserRow,
  password: unknown,
): Promise<void> {
  if (!accounts.hashers.isPasswordUsable(user.password)) return
  const attempt = await throttle.attempt(actor.ip ?? 'unknown', user.username)
  await attempt.check()
  const typed = typeof password === 'string' ? password : ''
  if (typed === '') throw new ValidationError(INCORRECT_PASSWORD)
  const check = await checkPassword(accounts.hashers, typed, user.password)
  if (!check.valid) {
    await attempt.recordFailure()
    throw new ValidationError(INCORRECT_PASSWORD)
  }
  await attempt.recordSuccess()
}
