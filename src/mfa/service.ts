/**
 * Changes to a user's second factors, each one call through the accounts service (`apply`): the
 * D1 write, then the user's sessions, then the audit event, undone with a 503 should the sessions
 * not follow. Adding a factor leaves sessions alone; removing one ends every other session of
 * the user (the one making the change stays), as a password change does, since removing a factor
 * is what a user does who fears it is in someone else's hands; `mfa-reset` ends them all.
 *
 * Recovery codes stand in for the factors they back up: the set goes when the last authenticator
 * app or passkey goes, and alone they never ask for a second step.
 */
import type { Accounts, Actor, UserRow } from '../accounts'
import { NotFound, ValidationError } from '../errors'
import { LOWER_ALPHANUMERIC, randomString } from '../utils/crypto'
import type { NewCredential } from './passkeys'
import { hashRecoveryCode, newRecoveryCodes } from './recovery-codes'
import { MfaRepository, type PasskeyRow, type StoredFactors } from './repository'
import { matchTotp, newTotpSecret, otpauthUrl, TotpSealer, totpSecretText } from './totp'

export const INCORRECT_CODE = 'Incorrect code.'
const TOTP_ACTIVE = 'TOTP is already active.'
const TOTP_NOT_STARTED = 'TOTP set-up has not been started.'
const NO_FACTOR = 'No second factor is active.'
export const PASSKEY_REGISTRATION_FAILED = 'Passkey registration failed.'

/**
 * Asks for the current password (`confirmPassword`): called once the change is known to apply,
 * so a 404 or a 400 about the factors' state comes first.
 */
export type Reauthenticate = () => Promise<void>

/** The longest passkey name kept. */
const PASSKEY_NAME_MAX = 64

/** A passkey as the API shows it. */
export interface PasskeyView {
  id: string
  name: string
  created: string
  last_used: string | null
}

/** `GET /auth/mfa`. */
export interface MfaStatus {
  totp: boolean
  recovery_codes: { total: number; unused: number }
  passkeys: PasskeyView[]
}

/** The repository over the service's database (stateless: one per call costs nothing). */
export function mfaOf(accounts: Accounts): MfaRepository {
  return new MfaRepository(accounts.db)
}

function passkeyView(row: PasskeyRow): PasskeyView {
  return { id: row.id, name: row.name, created: row.created_at, last_used: row.last_used }
}

function iso(accounts: Accounts): string {
  return new Date(accounts.now()).toISOString()
}

/** What the user has set up. */
export async function mfaStatus(accounts: Accounts, userId: number): Promise<MfaStatus> {
  const stored = await mfaOf(accounts).stored(userId)
  return {
    totp: stored.totp?.confirmed === 1,
    recovery_codes: {
      total: stored.codes.length,
      unused: stored.codes.filter((code) => code.used_at === null).length,
    },
    passkeys: stored.passkeys.map(passkeyView),
  }
}

/**
 * Starts setting up an authenticator app: a new secret, stored sealed and not active until a code
 * from it is confirmed (starting again replaces it). 400 when an app is already active.
 */
export async function startTotp(
  accounts: Accounts,
  user: UserRow,
  issuer: string,
  reauthenticate: Reauthenticate,
): Promise<{ secret: string; otpauth_url: string }> {
  const mfa = mfaOf(accounts)
  if ((await mfa.totp(user.id))?.confirmed === 1) throw new ValidationError(TOTP_ACTIVE)
  await reauthenticate()
  const secret = newTotpSecret()
  const sealed = await new TotpSealer(accounts.secrets).seal(user.id, secret)
  await mfa.startTotpStatement(user.id, sealed, iso(accounts)).run()
  return { secret: totpSecretText(secret), otpauth_url: otpauthUrl(issuer, user.username, secret) }
}

/**
 * Confirms the app being set up with a code from it: TOTP becomes active, and a new set of
 * recovery codes (returned, shown this once) replaces any old one. The code is used up.
 */
export async function confirmTotp(
  accounts: Accounts,
  user: UserRow,
  code: string,
  actor: Actor,
): Promise<string[]> {
  const mfa = mfaOf(accounts)
  const stored = await mfa.stored(user.id)
  const totp = stored.totp
  if (totp?.confirmed === 1) throw new ValidationError(TOTP_ACTIVE)
  if (!totp) throw new ValidationError(TOTP_NOT_STARTED)
  const opened = await new TotpSealer(accounts.secrets).open(user.id, totp.secret)
  const step = opened && matchTotp(opened.secret, code, accounts.now(), null)
  if (step === null || step === undefined) throw new ValidationError(INCORRECT_CODE)
  const codes = newRecoveryCodes()
  const hashes = await Promise.all(
    codes.map(async (one) => (await hashRecoveryCode(one)) as string),
  )
  await accounts.apply(
    {
      before: user,
      write: [
        mfa.confirmTotpStatement(user.id, totp.secret, step),
        ...mfa.replaceCodesStatements(user.id, hashes, iso(accounts)),
      ],
      undo: [
        mfa.unconfirmTotpStatement(user.id),
        ...mfa.restoreCodesStatements(user.id, stored.codes),
      ],
      revocation: 'none',
      event: { type: 'mfa_enabled', user, detail: { method: 'totp' } },
    },
    actor,
  )
  return codes
}

/** Statements removing the recovery codes too, when `remaining` leaves no factor they back up. */
function orphanedCodes(mfa: MfaRepository, user: UserRow, remaining: number) {
  return remaining === 0 ? [mfa.deleteCodesStatement(user.id)] : []
}

/** Statements putting every stored row back, to undo a removal. */
function restoreAll(mfa: MfaRepository, userId: number, stored: StoredFactors) {
  return [
    ...(stored.totp ? [mfa.restoreTotpStatement(stored.totp)] : []),
    ...mfa.restoreCodesStatements(userId, stored.codes),
    ...stored.passkeys.map((row) => mfa.insertPasskeyStatement(row)),
  ]
}

/** Removes the user's authenticator app; ends the user's other sessions. 404 when none is active. */
export async function disableTotp(
  accounts: Accounts,
  user: UserRow,
  actor: Actor,
  keepSession: string | null,
  reauthenticate: Reauthenticate,
): Promise<void> {
  const mfa = mfaOf(accounts)
  const stored = await mfa.stored(user.id)
  if (stored.totp?.confirmed !== 1) throw new NotFound()
  await reauthenticate()
  await accounts.apply(
    {
      before: user,
      write: [
        mfa.deleteTotpStatement(user.id),
        ...orphanedCodes(mfa, user, stored.passkeys.length),
      ],
      undo: restoreAll(mfa, user.id, stored),
      revocation: 'end-sessions',
      keepSession,
      event: { type: 'mfa_disabled', user, detail: { method: 'totp' } },
    },
    actor,
  )
}

/** A new set of recovery codes (returned, shown this once); the old set stops working. */
export async function regenerateRecoveryCodes(
  accounts: Accounts,
  user: UserRow,
  actor: Actor,
  reauthenticate: Reauthenticate,
): Promise<string[]> {
  const mfa = mfaOf(accounts)
  const stored = await mfa.stored(user.id)
  if (stored.totp?.confirmed !== 1 && stored.passkeys.length === 0) {
    throw new ValidationError(NO_FACTOR)
  }
  await reauthenticate()
  const codes = newRecoveryCodes()
  const hashes = await Promise.all(
    codes.map(async (one) => (await hashRecoveryCode(one)) as string),
  )
  await accounts.apply(
    {
      before: user,
      write: mfa.replaceCodesStatements(user.id, hashes, iso(accounts)),
      undo: mfa.restoreCodesStatements(user.id, stored.codes),
      revocation: 'none',
      event: { type: 'mfa_enabled', user, detail: { method: 'recovery_code' } },
    },
    actor,
  )
  return codes
}

/** A passkey name as typed: trimmed, at most 64 characters, "Passkey" when blank. */
export function passkeyName(typed: unknown): string {
  const name = typeof typed === 'string' ? typed.trim() : ''
  return name === '' ? 'Passkey' : name.slice(0, PASSKEY_NAME_MAX)
}

/** Stores a verified new passkey of the user. 400 when that credential is already registered. */
export async function addPasskey(
  accounts: Accounts,
  user: UserRow,
  name: string,
  credential: NewCredential,
  actor: Actor,
): Promise<PasskeyView> {
  const mfa = mfaOf(accounts)
  if (await mfa.passkeyByCredential(credential.credentialId)) {
    throw new ValidationError(PASSKEY_REGISTRATION_FAILED)
  }
  const row: PasskeyRow = {
    // 22 characters of a 36-letter alphabet = 113 bits: a handle nobody guesses.
    id: randomString(LOWER_ALPHANUMERIC, 22),
    user_id: user.id,
    credential_id: credential.credentialId,
    public_key: credential.publicKey,
    sign_count: credential.signCount,
    transports: JSON.stringify(credential.transports),
    name,
    created_at: iso(accounts),
    last_used: null,
  }
  await accounts.apply(
    {
      before: user,
      write: [mfa.insertPasskeyStatement(row)],
      undo: [mfa.deletePasskeyStatement(user.id, row.id)],
      revocation: 'none',
      event: { type: 'passkey_added', user, detail: { passkey: row.id, name } },
    },
    actor,
  )
  return passkeyView(row)
}

/** Removes one passkey of the user; ends the user's other sessions. 404 when it is not theirs. */
export async function removePasskey(
  accounts: Accounts,
  user: UserRow,
  id: string,
  actor: Actor,
  keepSession: string | null,
  reauthenticate: Reauthenticate,
): Promise<void> {
  const mfa = mfaOf(accounts)
  const stored = await mfa.stored(user.id)
  const row = stored.passkeys.find((passkey) => passkey.id === id)
  if (!row) throw new NotFound()
  await reauthenticate()
  const remaining = (stored.totp?.confirmed === 1 ? 1 : 0) + stored.passkeys.length - 1
  await accounts.apply(
    {
      before: user,
      write: [mfa.deletePasskeyStatement(user.id, id), ...orphanedCodes(mfa, user, remaining)],
      undo: [mfa.insertPasskeyStatement(row), ...mfa.restoreCodesStatements(user.id, stored.codes)],
      revocation: 'end-sessions',
      keepSession,
      event: { type: 'passkey_removed', user, detail: { passkey: id, name: row.name } },
    },
    actor,
  )
}

/**
 * Removes every factor of a user who lost them (`npm run user -- mfa-reset`) and ends all of the
 * user's sessions. Returns what was removed.
 */
export async function resetFactors(
  accounts: Accounts,
  user: UserRow,
  actor: Actor,
): Promise<{ totp: boolean; passkeys: number; recovery_codes: number; sessions: number }> {
  const mfa = mfaOf(accounts)
  const stored = await mfa.stored(user.id)
  const { ended } = await accounts.apply(
    {
      before: user,
      write: [
        mfa.deleteTotpStatement(user.id),
        mfa.deleteCodesStatement(user.id),
        mfa.deletePasskeysStatement(user.id),
      ],
      undo: restoreAll(mfa, user.id, stored),
      revocation: 'end-all',
      event: {
        type: 'mfa_disabled',
        user,
        detail: { method: 'all', reset: true, passkeys: stored.passkeys.length },
      },
    },
    actor,
  )
  return {
    totp: stored.totp?.confirmed === 1,
    passkeys: stored.passkeys.length,
    recovery_codes: stored.codes.length,
    sessions: ended,
  }
}

/**
 * Checks a code typed at the second step: a TOTP code from the user's app (used up, with every
 * code before it), or an unused recovery code (used up). Returns which it was, or null.
 */
export async function verifySecondFactorCode(
  accounts: Accounts,
  userId: number,
  code: string,
): Promise<'totp' | 'recovery_code' | null> {
  const mfa = mfaOf(accounts)
  const typed = code.replace(/\s+/g, '')
  if (/^\d{6}$/.test(typed)) {
    const totp = await mfa.totp(userId)
    if (totp?.confirmed !== 1) return null
    const sealer = new TotpSealer(accounts.secrets)
    const opened = await sealer.open(userId, totp.secret)
    const step = opened && matchTotp(opened.secret, typed, accounts.now(), totp.last_step)
    if (step === null || step === undefined || !opened) return null
    const resealed = opened.stale ? await sealer.seal(userId, opened.secret) : null
    return (await mfa.useTotpStep(userId, step, resealed)) ? 'totp' : null
  }
  const hash = await hashRecoveryCode(code)
  if (hash === null) return null
  return (await mfa.useCode(userId, hash, iso(accounts))) ? 'recovery_code' : null
}
