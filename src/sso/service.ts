/**
 * Changes to a user's identities, each one call through the accounts service (`apply`): the D1
 * write, then the sessions, then the audit event. Linking an identity adds a way to sign in and
 * leaves sessions alone; unlinking one is refused when it is the user's only way to sign in.
 */
import type { Accounts, Actor, UserRow } from '../accounts'
import { NotFound, ValidationError } from '../errors'
import { MfaRepository } from '../mfa/repository'
import { LOWER_ALPHANUMERIC, randomString } from '../utils/crypto'
import { IdentityRepository, type IdentityRow } from './repository'

export const ONLY_WAY_TO_SIGN_IN =
  'This identity is your only way to sign in: set a password or add a passkey first.'

/** An identity as the API shows it. */
export interface IdentityView {
  id: string
  provider: string
  subject: string
  email: string
  created: string
}

export function identitiesOf(accounts: Accounts): IdentityRepository {
  return new IdentityRepository(accounts.db)
}

function view(row: IdentityRow): IdentityView {
  return {
    id: row.id,
    provider: row.provider,
    subject: row.subject,
    email: row.email,
    created: row.created_at,
  }
}

/** The user's linked identities (`GET /auth/identities`). */
export async function listIdentities(accounts: Accounts, userId: number): Promise<IdentityView[]> {
  return (await identitiesOf(accounts).forUser(userId)).map(view)
}

/** Links `subject` at `provider` to the user; the event says how (`signup`, `email`, `connect`). */
export async function linkIdentity(
  accounts: Accounts,
  user: UserRow,
  link: { provider: string; subject: string; email: string; how: 'signup' | 'email' | 'connect' },
  actor: Actor,
): Promise<IdentityRow> {
  const identities = identitiesOf(accounts)
  const now = new Date(accounts.now()).toISOString()
  const row: IdentityRow = {
    // 22 characters of a 36-letter alphabet = 113 bits: a handle nobody guesses.
    id: randomString(LOWER_ALPHANUMERIC, 22),
    user_id: user.id,
    provider: link.provider,
    subject: link.subject,
    email: link.email,
    created_at: now,
    last_used: now,
  }
  await accounts.apply(
    {
      before: user,
      write: [identities.insertStatement(row)],
      undo: [identities.deleteStatement(user.id, row.id)],
      revocation: 'none',
      event: {
        type: 'sso_linked',
        user,
        detail: { provider: link.provider, identity: row.id, how: link.how },
      },
    },
    actor,
  )
  return row
}

/**
 * Unlinks one identity of the user (`DELETE /auth/identities/{id}`). 404 when it is not theirs;
 * 400 when it is their only way to sign in (no usable password, no passkey, no other identity).
 */
export async function unlinkIdentity(
  accounts: Accounts,
  user: UserRow,
  id: string,
  actor: Actor,
): Promise<void> {
  const identities = identitiesOf(accounts)
  const all = await identities.forUser(user.id)
  const row = all.find((identity) => identity.id === id)
  if (!row) throw new NotFound()
  if (all.length === 1 && !accounts.hashers.isPasswordUsable(user.password)) {
    const { passkeys } = await new MfaRepository(accounts.db).counts(user.id)
    if (passkeys === 0) throw new ValidationError(ONLY_WAY_TO_SIGN_IN)
  }
  await accounts.apply(
    {
      before: user,
      write: [identities.deleteStatement(user.id, id)],
      undo: [identities.insertStatement(row)],
      revocation: 'none',
      event: {
        type: 'sso_unlinked',
        user,
        detail: { provider: row.provider, identity: row.id },
      },
    },
    actor,
  )
}
