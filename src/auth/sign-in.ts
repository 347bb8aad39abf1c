/**
 * The sign-in pipeline: the one way into a session, whatever the first factor. A sign-in is
 *
 *   a first factor (a password, a passkey) → checks (active, throttle) → a second factor when the
 *   user has one (a pending step in the session, second-factor.ts) → `login()` → the event,
 *
 * in one function that takes no Hono context: the JSON API and the HTML sign-in page only adapt
 * HTTP to it, and whatever they say about a failure comes from the error it throws.
 */
import type { Accounts, Actor } from '../accounts'
import { checkPassword, makePassword } from '../accounts/passwords'
import type { UserRow } from '../accounts/users'
import { validatePassword } from '../accounts/validators'
import type { EmailVerification } from '../config'
import { ApiError, NOT_AUTHENTICATED, ValidationError } from '../errors'
import {
  type FactorCounts,
  MfaRepository,
  type SecondFactorMethod,
  secondFactorMethods,
} from '../mfa/repository'
import type { Session } from '../session'
import type { FederatedSession } from '../sso/repository'
import { type IdentityFactor, signInWithIdentity } from '../sso/sign-in'
import type { BatchedCheck, LoginThrottle } from '../throttle'
import { authenticate, decoyPick, INVALID_CREDENTIALS, login, updateSessionAuthHash } from './login'
import {
  awaitSecondFactor,
  type CodeFactor,
  dropPendingStep,
  type PasskeyFactor,
  signInWithCode,
  signInWithPasskey,
} from './second-factor'

/** A password typed on the sign-in form or sent to the API. */
export interface PasswordFactor {
  kind: 'password'
  username: string
  password: string
}

/** What proves who the user is. */
export type FirstFactor = PasswordFactor | PasskeyFactor | IdentityFactor

/** A first factor, or the code of the second step. */
export type Factor = FirstFactor | CodeFactor

/** How a sign-in ended: signed in, or waiting for a second factor by one of `methods`. */
export type SignInResult =
  | { status: 'signed-in'; user: UserRow }
  | { status: 'second-factor'; methods: SecondFactorMethod[] }

/** Everything a sign-in works with, from the request. */
export interface SignInContext {
  accounts: Accounts
  /** The request's session: its key is cycled at login. */
  session: Session
  throttle: LoginThrottle
  /** The client: its address counts for the throttle, and it is named in the events. */
  actor: Actor
  /** EMAIL_VERIFICATION: with `mandatory`, an unverified user is not signed in. Default `none`. */
  emailVerification?: EmailVerification
  /**
   * Runs bookkeeping after the response (the Worker's `waitUntil`), so a successful sign-in does
   * not wait for its audit row.
   */
  defer: (work: Promise<unknown>) => void
}

/**
 * Signs the client in, or throws: for a password, 400 `Unable to log in with provided
 * credentials.` for an unknown user, a wrong password and an inactive user alike, 429 when
 * throttled (second-factor.ts for codes and passkeys). On success the session holds the user (key
 * cycled) and the user is returned as now stored; a user with a second factor is not signed in by
 * a password alone: the session keeps a pending step, and the methods that complete it are
 * returned.
 */
export async function signIn(context: SignInContext, factor: Factor): Promise<SignInResult> {
  switch (factor.kind) {
    case 'password':
      return signInWithPassword(context, factor)
    case 'code':
      return signInWithCode(context, factor)
    case 'passkey':
      return signInWithPasskey(context, factor)
    case 'sso':
      return signInWithIdentity(context, factor)
  }
}

/** The answer to the right password of a user who has not verified their e-mail. */
export const EMAIL_NOT_VERIFIED = 'E-mail is not verified.'

/** How a first factor proved the user, for `completeSignIn`. */
export interface Proof {
  /** RFC 8176 `amr` values of the factor (`pwd` for a password). */
  amr: readonly string[]
  /** `_auth_user_backend`; default Django's ModelBackend. */
  backend?: string
  /** What the `login` event records as `method`. */
  method: string
  /** Statements the login's own batch must pass (the throttle's success check). */
  guard?: BatchedCheck
  /** The user's second factors, when the first factor's own queries read them. */
  factors?: FactorCounts
  /** The identity provider's session, for a sign-in through one (back-channel logout). */
  federated?: FederatedSession
}

/**
 * The steps every sign-in shares once a first factor has named the user: the checks (the user is
 * active), then, unless the proof already holds two factors (`mfa`), the second step for a user
 * who has a second factor, then `login()` (key cycled, snapshot and `amr` stored, index row),
 * then the event. Every factor ends here, so none can skip a check.
 */
export async function completeSignIn(
  context: SignInContext,
  user: UserRow,
  proof: Proof,
): Promise<SignInResult> {
  const { accounts, session, actor, defer } = context
  if (user.is_active !== 1) throw new ValidationError(INVALID_CREDENTIALS)
  // allauth's mandatory verification: said only after the first factor proved the user, so it
  // tells nothing to someone without the password.
  if (context.emailVerification === 'mandatory' && user.email_verified !== 1) {
    throw new ValidationError(EMAIL_NOT_VERIFIED)
  }
  if (!proof.amr.includes('mfa')) {
    const counts = proof.factors ?? (await new MfaRepository(accounts.db).counts(user.id))
    const methods = secondFactorMethods(counts)
    if (methods.length > 0) {
      await awaitSecondFactor(context, user, proof, methods)
      return { status: 'second-factor', methods }
    }
  }
  dropPendingStep(session)
  const loggedIn = await login(accounts, session, user, {
    userAgent: actor.userAgent,
    amr: proof.amr,
    backend: proof.backend,
    guard: proof.guard,
    federated: proof.federated,
  })
  defer(
    accounts.events.record(
      {
        type: 'login',
        user: { id: user.id, username: user.username },
        detail: { method: proof.method },
      },
      { ...actor, session: session.id },
    ),
  )
  return { status: 'signed-in', user: loggedIn }
}

async function signInWithPassword(
  context: SignInContext,
  factor: PasswordFactor,
): Promise<SignInResult> {
  const { accounts, throttle, actor } = context
  // Django's AuthenticationForm normalizes the username (NFKC), as usernames are stored.
  const username = factor.username.normalize('NFKC')
  const attempt = await throttle.attempt(actor.ip ?? 'unknown', username)
  // Two D1 round trips in all: the throttle's check with the user (and the decoy hash for an
  // unknown username), then, after the hash, the throttle's last word with the login's writes.
  // D1 may be far from this location.
  const [locked, found, decoy, factors] = await accounts.db.batch([
    attempt.checkStatement(),
    accounts.users.byUsernameStatement(username),
    accounts.users.decoyHashStatement(await decoyPick(username, accounts.secrets[0] as string)),
    new MfaRepository(accounts.db).countsByUsernameStatement(username),
  ])
  const candidate = (found?.results[0] as UserRow | undefined) ?? null
  const named = candidate && { id: candidate.id, username: candidate.username }
  try {
    attempt.refuseIfLocked(locked)
    const user = await authenticate(
      accounts,
      candidate,
      factor.password,
      (decoy?.results[0] as { password: string } | undefined)?.password ?? null,
    )
    if (!user) {
      // Counted first: in a burst of guesses, the count is what decides who gets a 429.
      await attempt.recordFailure()
      const reason = !candidate ? 'unknown_user' : candidate.is_active ? 'password' : 'inactive'
      await accounts.events.record(
        { type: 'login_failed', user: named, detail: { username, reason } },
        actor,
      )
      throw new ValidationError(INVALID_CREDENTIALS)
    }
    return await completeSignIn(context, user, {
      amr: ['pwd'],
      method: 'password',
      guard: attempt.successCheck(),
      factors: factors?.results[0] as FactorCounts | undefined,
    })
  } catch (error) {
    if (error instanceof ApiError && error.status === 429) {
      await accounts.events.record(
        { type: 'login_throttled', user: named, detail: { username } },
        actor,
      )
    }
    throw error
  }
}

/** Django's PasswordChangeForm message for a wrong old password. */
const WRONG_OLD_PASSWORD = 'Your old password was entered incorrectly. Please enter it again.'

/**
 * A signed-in user changes their password (Django's `PasswordChangeView`): the old password is
 * checked under the login throttle (guessing it here counts as guessing at the sign-in form),
 * the new one against the validators; then the accounts service stores it and ends every other
 * session, and this one stays signed in under a new key (`update_session_auth_hash`).
 * Throws 400 with Django's messages, 429 when throttled, 401 when the user is gone.
 */
export async function changePassword(
  { accounts, session, throttle, actor }: Omit<SignInContext, 'defer'>,
  user: { id: number; username: string },
  oldPassword: string,
  newPassword: string,
): Promise<void> {
  const attempt = await throttle.attempt(actor.ip ?? 'unknown', user.username)
  await attempt.check()
  const row = await accounts.users.getById(user.id)
  if (!row) throw NOT_AUTHENTICATED
  const check = await checkPassword(accounts.hashers, oldPassword, row.password)
  if (!check.valid) {
    await attempt.recordFailure()
    throw new ValidationError(`old_password: ${WRONG_OLD_PASSWORD}`, {
      old_password: [WRONG_OLD_PASSWORD],
    })
  }
  // The right old password clears the pair's failures, like a login (or is a 429 if a burst of
  // concurrent guesses reached the limit meanwhile).
  await attempt.recordSuccess()
  const problems = validatePassword(newPassword, row)
  if (problems.length > 0) {
    throw new ValidationError(problems.join(' '), { new_password: problems })
  }
  const encoded = await makePassword(accounts.hashers, newPassword)
  const { user: changed } = await accounts.setPassword(row, encoded, actor, {
    keepSession: session.id,
  })
  if (!changed) throw NOT_AUTHENTICATED
  await updateSessionAuthHash(accounts, session, changed)
}
