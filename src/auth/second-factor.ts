/**
 * The second step of a sign-in. When a first factor names a user who has a second one, the
 * session keeps a pending step instead of a login (`awaitSecondFactor`): who, how they signed in
 * so far, until when (300 s), and how many wrong answers so far. A code (`signInWithCode`) or a
 * passkey (`signInWithPasskey`) completes it through `completeSignIn`, in the same browser
 * session; five wrong answers drop it. A passkey that verified its user also signs in alone.
 *
 * The step is session data under a key starting with `_`, so it is sealed with the record, never
 * shown by `/auth/session`, and gone at logout; until it completes the session names no user, so
 * `/auth/me` answers 401.
 */
import type { UserRow } from '../accounts'
import { Throttled, ValidationError } from '../errors'
import {
  assertionClaim,
  dropLoginChallenge,
  type RelyingParty,
  verifyAssertion,
} from '../mfa/passkeys'
import type { SecondFactorMethod } from '../mfa/repository'
import { INCORRECT_CODE, mfaOf, verifySecondFactorCode } from '../mfa/service'
import type { Session } from '../session'
import type { FederatedSession } from '../sso/repository'
import type { LoginAttempt } from '../throttle'
import { constantTimeEqual } from '../utils/crypto'
import { isObject } from '../utils/json'
import { SESSION_KEY } from './login'
import type { Proof, SignInContext, SignInResult } from './sign-in'
import { completeSignIn } from './sign-in'

/** A code from an authenticator app, or a recovery code, for the pending step. */
export interface CodeFactor {
  kind: 'code'
  code: string
}

/** A WebAuthn assertion: completes a pending step, or signs in alone. */
export interface PasskeyFactor {
  kind: 'passkey'
  credential: unknown
  /** The relying party of this request (RP ID and accepted origins). */
  rp: RelyingParty
}

export const NO_PENDING_STEP = 'No sign-in is waiting for a second factor.'
export const PASSKEY_SIGN_IN_FAILED = 'Passkey sign-in failed.'

/** How long the second step may take. */
export const SECOND_STEP_SECONDS = 300
/** Wrong answers after which the pending step is dropped (the user starts again). */
export const SECOND_STEP_FAILURES = 5

const PENDING_KEY = '_mfa_pending'

/** The pending step, as the session keeps it. */
export interface PendingStep {
  user: number
  username: string
  /** `amr` of the first factor. */
  amr: string[]
  /** The first factor's name in the `login` event. */
  method: string
  backend?: string
  /** The identity provider's session, when the first factor was a sign-in through one. */
  federated?: FederatedSession
  methods: SecondFactorMethod[]
  /** Until when the step may be completed (ms). */
  expires: number
  failures: number
}

function isPendingStep(value: unknown): value is PendingStep {
  return (
    isObject(value) &&
    Number.isSafeInteger(value.user) &&
    typeof value.username === 'string' &&
    Array.isArray(value.amr) &&
    value.amr.every((item) => typeof item === 'string') &&
    typeof value.method === 'string' &&
    (value.backend === undefined || typeof value.backend === 'string') &&
    (value.federated === undefined || isObject(value.federated)) &&
    Array.isArray(value.methods) &&
    typeof value.expires === 'number' &&
    Number.isSafeInteger(value.failures)
  )
}

/** The session's live pending step, or null; an expired one is dropped. */
export function pendingStep(session: Session, now: number): PendingStep | null {
  const stored = session.get(PENDING_KEY)
  if (stored === undefined) return null
  if (!isPendingStep(stored) || stored.expires <= now) {
    session.delete(PENDING_KEY)
    return null
  }
  return stored
}

/** Forgets the pending step, if any (a completed sign-in, or too many wrong answers). */
export function dropPendingStep(session: Session): void {
  if (session.has(PENDING_KEY)) session.delete(PENDING_KEY)
}

/**
 * Keeps a pending step for `user`, who proved `proof` and has `methods` as second factors. The
 * first factor's throttle check (`proof.guard`) runs now, as the login would have run it. A
 * different user's session is flushed and the key cycled, as a login does: a key known before the
 * first factor is worthless after it.
 */
export async function awaitSecondFactor(
  { accounts, session }: SignInContext,
  user: UserRow,
  proof: Proof,
  methods: SecondFactorMethod[],
): Promise<void> {
  if (proof.guard) proof.guard.check(await accounts.db.batch(proof.guard.statements))
  const current = session.get(SESSION_KEY)
  if (current !== undefined && current !== String(user.id)) session.flush()
  session.cycleKey()
  const step: PendingStep = {
    user: user.id,
    username: user.username,
    amr: [...proof.amr],
    method: proof.method,
    methods,
    expires: accounts.now() + SECOND_STEP_SECONDS * 1000,
    failures: 0,
  }
  if (proof.backend !== undefined) step.backend = proof.backend
  if (proof.federated !== undefined) step.federated = proof.federated
  session.set(PENDING_KEY, step)
}

/** `amr` once the second factor `added` completed a first factor's `amr`. */
function withSecondFactor(amr: readonly string[], added: string): string[] {
  return [...new Set([...amr, added, 'mfa'])]
}

/**
 * A wrong answer at the pending step: counted for the user (a 429 once over MFA_FAILURE_LIMIT in
 * the window, from anywhere) and in the step (a 429, and the step dropped, at the fifth), then
 * answered with `message`.
 */
async function refuse(
  context: SignInContext,
  step: PendingStep,
  attempt: LoginAttempt,
  method: string,
  message: string,
): Promise<never> {
  const { accounts, session, actor } = context
  step.failures += 1
  await accounts.events.record(
    {
      type: 'mfa_failed',
      user: { id: step.user, username: step.username },
      detail: { method, failures: step.failures },
    },
    actor,
  )
  try {
    await attempt.recordFailure()
  } catch (error) {
    session.delete(PENDING_KEY)
    throw error
  }
  if (step.failures >= SECOND_STEP_FAILURES) {
    session.delete(PENDING_KEY)
    // Nothing to wait for but a new sign-in: the user's failures still count across steps.
    throw new Throttled(1)
  }
  session.set(PENDING_KEY, step)
  throw new ValidationError(message)
}

/** The user of a pending step, still there and active, or the step is dropped (400). */
async function stepUser(context: SignInContext, step: PendingStep): Promise<UserRow> {
  const user = await context.accounts.users.getById(step.user)
  if (user?.is_active !== 1) {
    context.session.delete(PENDING_KEY)
    throw new ValidationError(NO_PENDING_STEP)
  }
  return user
}

/**
 * Completes the pending step with a code from the user's authenticator app or a recovery code.
 * 400 `Incorrect code.`, 400 when no step is pending, 429 when throttled or at the fifth wrong
 * code (the step is dropped).
 */
export async function signInWithCode(
  context: SignInContext,
  factor: CodeFactor,
): Promise<SignInResult> {
  const { accounts, session, throttle, actor } = context
  const step = pendingStep(session, accounts.now())
  if (!step) throw new ValidationError(NO_PENDING_STEP)
  const attempt = await throttle.secondFactor(actor.ip ?? 'unknown', step.username)
  await attempt.check()
  const user = await stepUser(context, step)
  const method = await verifySecondFactorCode(accounts, user.id, factor.code)
  if (!method) return refuse(context, step, attempt, 'code', INCORRECT_CODE)
  return completeSignIn(context, user, {
    amr: withSecondFactor(step.amr, 'otp'),
    backend: step.backend,
    federated: step.federated,
    method: `${step.method}+${method}`,
    guard: attempt.successCheck(),
  })
}

/**
 * Signs in with a passkey: during a pending step, one of that user's passkeys completes it;
 * otherwise a discoverable passkey whose authenticator verified the user (a PIN, a biometric)
 * signs in alone. 400 `Passkey sign-in failed.` for anything that does not verify.
 */
export async function signInWithPasskey(
  context: SignInContext,
  factor: PasskeyFactor,
): Promise<SignInResult> {
  const { accounts, session, throttle, actor } = context
  const now = accounts.now()
  const step = pendingStep(session, now)
  const mfa = mfaOf(accounts)
  const claim = assertionClaim(factor.credential)
  const row = claim && (await mfa.passkeyByCredential(claim.credentialId))

  if (step) {
    const attempt = await throttle.secondFactor(actor.ip ?? 'unknown', step.username)
    await attempt.check()
    if (!row || row.user_id !== step.user) {
      dropLoginChallenge(session)
      return refuse(context, step, attempt, 'passkey', PASSKEY_SIGN_IN_FAILED)
    }
    const verified = await verifyAssertion(session, factor.rp, row, factor.credential, false, now)
    const user = await stepUser(context, step)
    if (!verified || !(await mfa.usePasskey(row, verified.signCount, iso(now)))) {
      return refuse(context, step, attempt, 'passkey', PASSKEY_SIGN_IN_FAILED)
    }
    return completeSignIn(context, user, {
      amr: withSecondFactor(step.amr, 'hwk'),
      backend: step.backend,
      federated: step.federated,
      method: `${step.method}+passkey`,
      guard: attempt.successCheck(),
    })
  }

  // Alone, the passkey must be discoverable (it names its user) and verify the user itself.
  const handleMatches =
    row?.handle != null &&
    claim?.userHandle != null &&
    constantTimeEqual(claim.userHandle, row.handle)
  const verified =
    row && handleMatches
      ? await verifyAssertion(session, factor.rp, row, factor.credential, true, now)
      : null
  if (!row || !handleMatches) dropLoginChallenge(session)
  const user = verified && row ? await accounts.users.getById(row.user_id) : null
  if (!user || !verified || !row || !(await mfa.usePasskey(row, verified.signCount, iso(now)))) {
    await accounts.events.record(
      {
        type: 'login_failed',
        user: user ? { id: user.id, username: user.username } : null,
        detail: { reason: 'passkey' },
      },
      actor,
    )
    throw new ValidationError(PASSKEY_SIGN_IN_FAILED)
  }
  return completeSignIn(context, user, { amr: ['hwk', 'mfa'], method: 'passkey' })
}

function iso(now: number): string {
  return new Date(now).toISOString()
}
