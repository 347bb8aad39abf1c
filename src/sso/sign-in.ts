/**
 * An identity provider's word as the first factor of the sign-in pipeline. The provider said who
 * signed in (client.ts checked how it said it); this finds the user that identity belongs to:
 * linked before, the signed-in user connecting it, an existing user with the same verified
 * e-mail (`link_by_email`), or a new user (`signup`), in that order, within `allowed_domains`.
 * The groups claim then sets the user's groups, and `completeSignIn` does the rest: active
 * check, second factor, login.
 */
import type { UserRow } from '../accounts'
import { groupNameProblem } from '../accounts/groups'
import { usernameProblem } from '../accounts/users'
import { SESSION_KEY } from '../auth/login'
import { completeSignIn, type SignInContext, type SignInResult } from '../auth/sign-in'
import type { SsoProvider } from '../config'
import { PermissionDenied, ValidationError } from '../errors'
import { LOWER_ALPHANUMERIC, randomString } from '../utils/crypto'
import type { VerifiedIdentity } from './client'
import { identitiesOf, linkIdentity } from './service'

/** A sign-in through an identity provider, once its answer was verified. */
export interface IdentityFactor {
  kind: 'sso'
  provider: SsoProvider
  identity: VerifiedIdentity
  /** The signed-in user who asked, with their password, to connect this provider; else null. */
  connect: number | null
}

export const DOMAIN_NOT_ALLOWED = 'This e-mail domain may not sign in here.'
/** A sign-up through the provider lost a race with another: the next try finds its account. */
const TRY_AGAIN = 'The sign-in could not be completed. Please try again.'
export const NO_ACCOUNT = 'No account is linked to this identity, and sign-up is closed.'
export const EMAIL_TAKEN =
  'An account with this e-mail address already exists: sign in to it, then connect this provider.'

/**
 * RFC 8176 has no value for "the user signed in at an identity provider"; `fed` says so without
 * claiming a factor. It never counts as `mfa`: the provider's own `amr` is not taken on trust.
 */
const FEDERATED_AMR = ['fed']

/** Whether the provider vouches for the e-mail's domain being one of `allowed_domains`. */
function domainAllowed(provider: SsoProvider, identity: VerifiedIdentity): boolean {
  if (provider.allowedDomains.length === 0) return true
  const domain = identity.email.split('@').at(-1)?.toLowerCase() ?? ''
  return (
    identity.emailVerified &&
    identity.email.includes('@') &&
    provider.allowedDomains.includes(domain)
  )
}

/** A free username for a new user, from what the provider calls them. */
async function freeUsername(
  context: SignInContext,
  provider: SsoProvider,
  identity: VerifiedIdentity,
): Promise<string> {
  const wanted = identity.username ?? identity.email.split('@')[0] ?? ''
  // Django's username characters only; 140 leaves room for a suffix within 150.
  let base = wanted
    .normalize('NFKC')
    .replace(/[^\p{L}\p{N}@.+\-_]/gu, '')
    .slice(0, 140)
  if (base === '' || usernameProblem(base))
    base = `${provider.id}-${randomString(LOWER_ALPHANUMERIC, 8)}`
  let candidate = base
  for (let attempt = 0; attempt < 5; attempt++) {
    if (!(await context.accounts.users.getByUsername(candidate))) return candidate
    candidate = `${base}-${randomString(LOWER_ALPHANUMERIC, 4)}`
  }
  return `${base}-${randomString(LOWER_ALPHANUMERIC, 8)}`
}

/** Refuses the sign-in (403) after recording why. */
async function refuse(
  context: SignInContext,
  provider: SsoProvider,
  identity: VerifiedIdentity,
  reason: string,
  message: string,
): Promise<never> {
  await context.accounts.events.record(
    {
      type: 'login_failed',
      user: null,
      detail: { reason, provider: provider.id, email: identity.email },
    },
    context.actor,
  )
  throw new PermissionDenied(message, 'sso_refused')
}

/** The user this identity signs in as, linking or creating one as the entry allows. */
async function userFor(
  context: SignInContext,
  provider: SsoProvider,
  identity: VerifiedIdentity,
  connect: number | null,
): Promise<UserRow> {
  const { accounts, session, actor } = context
  const identities = identitiesOf(accounts)
  const linked = await identities.find(provider.id, identity.subject)
  if (linked) {
    await identities.touch(linked.id, identity.email, new Date(accounts.now()).toISOString())
    const user = await accounts.users.getById(linked.user_id)
    if (user) return user
  }
  const link = (user: UserRow, how: 'signup' | 'email' | 'connect') =>
    linkIdentity(
      accounts,
      user,
      { provider: provider.id, subject: identity.subject, email: identity.email, how },
      actor,
    )
  // A signed-in user who asked to connect (their password typed again: a session left open is
  // not enough to add a way into the account) gets the identity linked to their account.
  const current = session.get(SESSION_KEY)
  if (connect !== null && current === String(connect)) {
    const signedIn = await accounts.users.getById(connect)
    if (signedIn) {
      await link(signedIn, 'connect')
      return signedIn
    }
  }
  const sameEmail = identity.email !== '' ? await accounts.users.withEmail(identity.email) : []
  // Both ends must have verified the address: the provider's proves the person owns it, the
  // account's that its owner does (else anyone could sign up with a victim's address first, and
  // be joined by the victim's identity later).
  const owner = sameEmail.length === 1 ? (sameEmail[0] as UserRow) : null
  if (provider.linkByEmail && identity.emailVerified && owner?.email_verified === 1) {
    await link(owner, 'email')
    return owner
  }
  if (!provider.signup) return refuse(context, provider, identity, 'sso_no_account', NO_ACCOUNT)
  if (sameEmail.length > 0)
    return refuse(context, provider, identity, 'sso_email_taken', EMAIL_TAKEN)
  try {
    const user = await accounts.create(
      {
        username: await freeUsername(context, provider, identity),
        password: accounts.hashers.makeUnusablePassword(),
        email: identity.email,
        email_verified: identity.emailVerified,
        first_name: identity.firstName.slice(0, 150),
        last_name: identity.lastName.slice(0, 150),
      },
      actor,
      { event: 'signup' },
    )
    await link(user, 'signup')
    return user
  } catch (error) {
    // Two first sign-ins at once (one identity, or one username): the UNIQUE constraints decide.
    if (/UNIQUE/i.test(String(error))) throw new ValidationError(TRY_AGAIN)
    throw error
  }
}

/**
 * Signs in with a verified identity: 403 with the reason for an e-mail domain not allowed or an
 * identity that has no account (sign-up off); otherwise as every sign-in (400 for an inactive
 * user, a pending second step for a user with a second factor).
 */
export async function signInWithIdentity(
  context: SignInContext,
  factor: IdentityFactor,
): Promise<SignInResult> {
  const { accounts, actor } = context
  const { provider, identity } = factor
  if (!domainAllowed(provider, identity)) {
    return refuse(context, provider, identity, 'sso_domain', DOMAIN_NOT_ALLOWED)
  }
  let user = await userFor(context, provider, identity, factor.connect)
  if (identity.groups !== null) {
    // A name Django would refuse is left out rather than failing the sign-in.
    const groups = identity.groups.filter((name) => groupNameProblem(name) === null)
    user = (await accounts.setGroups(user, groups, actor)).user ?? user
  }
  await accounts.events.record(
    {
      type: 'sso_login',
      user: { id: user.id, username: user.username },
      detail: { provider: provider.id, subject: identity.subject },
    },
    actor,
  )
  return completeSignIn(context, user, {
    amr: FEDERATED_AMR,
    backend: `sessiongate.sso.${provider.id}`,
    method: `sso:${provider.id}`,
    federated: { provider: provider.id, subject: identity.subject, sid: identity.sid },
  })
}
