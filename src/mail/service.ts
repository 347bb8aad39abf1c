/**
 * Password reset, e-mail verification and sign-up: the flows that send e-mail. Each takes no Hono
 * context (the routes only adapt HTTP to them) and changes users only through the accounts
 * service.
 *
 * No answer tells whether an address has an account: a reset or verification request for an
 * unknown address sends allauth's "unknown account" notice instead of the link, so both cost a
 * lookup and one send, and a backend failure is the same 503 either way.
 */
import type { Accounts, Actor, UserRow } from '../accounts'
import { makePassword } from '../accounts/passwords'
import { usernameProblem } from '../accounts/users'
import { validatePassword } from '../accounts/validators'
import { completeSignIn, type SignInContext, type SignInResult } from '../auth/sign-in'
import type { EmailVerification } from '../config'
import { PermissionDenied, ValidationError } from '../errors'
import { IdentityRepository } from '../sso/repository'
import type { LoginThrottle } from '../throttle'
import type { Mailer } from '.'
import { passwordResetMessage, unknownAccountMessage, verificationMessage } from './templates'
import { checkToken, decodeUid, encodeUid, makeToken, type TokenUser } from './tokens'

export const RESET_SENT = 'Password reset e-mail has been sent.'
export const RESET_DONE = 'Password has been reset with the new password.'
export const INVALID_RESET_LINK = 'Invalid or expired password reset link.'
export const VERIFICATION_SENT = 'Verification e-mail sent.'
export const EMAIL_VERIFIED = 'E-mail verified.'
export const INVALID_VERIFICATION_LINK = 'Invalid or expired verification link.'
export const SIGNUP_CLOSED = 'Sign-up is closed.'
export const USERNAME_TAKEN = 'A user with that username already exists.'
export const EMAIL_TAKEN = 'A user with that e-mail address already exists.'
/** Django's EmailValidator message. */
export const INVALID_EMAIL = 'Enter a valid email address.'

/** The salt of verification keys: they never pass for password reset tokens, nor these for them. */
const VERIFICATION_SALT = 'sessiongate.mail.EmailVerification'
/** allauth's EMAIL_CONFIRMATION_EXPIRE_DAYS: a verification link works for three days. */
const VERIFICATION_TIMEOUT_SECONDS = 3 * 86_400
/** Django's AbstractUser.email: at most 254 characters (RFC 5321's path limit). */
const EMAIL_MAX_LENGTH = 254

/** What the e-mail flows work with, from the request and the settings. */
export interface MailContext {
  accounts: Accounts
  mailer: Mailer
  throttle: LoginThrottle
  actor: Actor
  /** Where links start: SITE_URL, else the request's own origin (never a client's guess). */
  base: string
  /** PASSWORD_RESET_TIMEOUT in seconds. */
  passwordResetTimeout: number
  emailVerification: EmailVerification
  /**
   * Runs bookkeeping after the response (the Worker's `waitUntil`): the audit rows of a request
   * for a known address, which a request for an unknown one would not wait for.
   */
  defer: (work: Promise<unknown>) => void
}

/**
 * The e-mail address in a request, trimmed, or a 400 (Django's EmailField: at most 254
 * characters, one `@`, a domain with a dot or `localhost`).
 */
export function emailField(value: unknown, field = 'email'): string {
  const fail = (message: string): never => {
    throw new ValidationError(message, { [field]: [message] })
  }
  if (value === undefined || value === null) fail('This field is required.')
  if (typeof value !== 'string') fail('Not a valid string.')
  const email = (value as string).trim()
  if (email === '') fail('This field may not be blank.')
  if (!isEmail(email)) fail(INVALID_EMAIL)
  return email
}

function isEmail(email: string): boolean {
  if (email.length > EMAIL_MAX_LENGTH) return false
  const at = email.lastIndexOf('@')
  const local = email.slice(0, at)
  const domain = email.slice(at + 1).toLowerCase()
  if (at < 1 || local.length > 64 || /[\s@<>(),;:\\"[\]]/.test(local)) return false
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false
  if (domain === 'localhost') return true
  const label = /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u
  const labels = domain.split('.')
  return labels.length >= 2 && labels.every((part) => label.test(part))
}

/** A counted e-mail request: 429 past the limits for this address or this network. */
async function countRequest(context: MailContext, email: string): Promise<void> {
  const attempt = await context.throttle.mail(context.actor.ip ?? 'unknown', email)
  await attempt.recordFailure()
}

/**
 * Django's PasswordResetForm.get_users: active users of the address with a usable password; and
 * those whose unusable password an identity provider's sign-up gave them, so that they can add
 * one (a user whose password an operator made unusable has no linked identity, and gets none).
 */
async function resettableUsers(accounts: Accounts, email: string): Promise<UserRow[]> {
  const active = (await accounts.users.byEmail(email)).filter((user) => user.is_active === 1)
  const identities = new IdentityRepository(accounts.db)
  const resettable = await Promise.all(
    active.map(
      async (user) =>
        accounts.hashers.isPasswordUsable(user.password) ||
        (await identities.forUser(user.id)).length > 0,
    ),
  )
  return active.filter((_, index) => resettable[index])
}

/**
 * `POST /auth/password/reset`: one e-mail to each active user of the address with a usable
 * password, holding a link to set a new one; the unknown-account notice when there is none.
 * Throws 503 when e-mail cannot be sent, 429 when throttled.
 */
export async function requestPasswordReset(context: MailContext, email: string): Promise<void> {
  const { accounts, mailer, base, actor } = context
  mailer.assertConfigured()
  await countRequest(context, email)
  const users = await resettableUsers(accounts, email)
  if (users.length === 0) {
    await mailer.send(unknownAccountMessage(email, base, 'password-reset'))
    return
  }
  for (const user of users) {
    const token = await makeToken(user, accounts.secrets[0] as string, accounts.now())
    const link = `${base}/auth/password/reset/confirm?uid=${encodeUid(user.id)}&token=${token}`
    await mailer.send(passwordResetMessage(user, base, link))
    context.defer(accounts.events.record({ type: 'password_reset_requested', user }, actor))
  }
}

/**
 * The user a reset link is for, when it is valid now (Django's PasswordResetConfirmView), else
 * null: an unknown uid and a bad, used or expired token alike.
 */
export async function resetLinkUser(
  { accounts, passwordResetTimeout }: Pick<MailContext, 'accounts' | 'passwordResetTimeout'>,
  uid: unknown,
  token: unknown,
): Promise<UserRow | null> {
  const id = decodeUid(uid)
  const user = id === null ? null : await accounts.users.getById(id)
  if (!user) return null
  const valid = await checkToken(
    user,
    token,
    accounts.secrets,
    accounts.now(),
    passwordResetTimeout,
  )
  return valid ? user : null
}

/**
 * `POST /auth/password/reset/confirm`: sets the new password through the accounts service, which
 * ends every session of the user. The link dies with it (its token covers the password hash). A
 * reset does not sign in. Throws 400 for a bad link or a password the validators refuse.
 */
export async function confirmPasswordReset(
  context: MailContext,
  uid: unknown,
  token: unknown,
  newPassword: string,
): Promise<void> {
  const { accounts, actor } = context
  const user = await resetLinkUser(context, uid, token)
  if (!user) throw new ValidationError(INVALID_RESET_LINK)
  const problems = validatePassword(newPassword, user)
  if (problems.length > 0) {
    throw new ValidationError(problems.join(' '), { new_password: problems })
  }
  const encoded = await makePassword(accounts.hashers, newPassword)
  await accounts.setPassword(user, encoded, actor, { event: 'password_reset' })
}

/** What a verification key covers: the id, the address and whether it is verified yet. */
function verificationSubject(user: UserRow): TokenUser {
  return { id: user.id, password: String(user.email_verified), last_login: null, email: user.email }
}

/** Sends the verification e-mail to `user` (a link to the page whose button confirms it). */
async function sendVerification(context: MailContext, user: UserRow): Promise<void> {
  const { accounts, mailer, base, actor } = context
  const token = await makeToken(
    verificationSubject(user),
    accounts.secrets[0] as string,
    accounts.now(),
    VERIFICATION_SALT,
  )
  const key = `${encodeUid(user.id)}:${token}`
  await mailer.send(verificationMessage(user, base, `${base}/auth/email/verify?key=${key}`))
  context.defer(accounts.events.record({ type: 'email_verification_sent', user }, actor))
}

/**
 * `POST /auth/email/verify/resend`: a new link to each active, unverified user of the address;
 * the unknown-account notice when there is none. Throws 503 when e-mail cannot be sent, 429 when
 * throttled.
 */
export async function resendVerification(context: MailContext, email: string): Promise<void> {
  context.mailer.assertConfigured()
  await countRequest(context, email)
  const users = (await context.accounts.users.byEmail(email)).filter(
    (user) => user.is_active === 1 && user.email_verified !== 1,
  )
  if (users.length === 0) {
    await context.mailer.send(unknownAccountMessage(email, context.base, 'verification'))
    return
  }
  for (const user of users) await sendVerification(context, user)
}

/**
 * `POST /auth/email/verify`: marks the address of the key's user verified, through the accounts
 * service. A key works once (it covers the verified flag) and for three days. Throws 400 for
 * any other key.
 */
export async function verifyEmail(
  { accounts, actor }: Pick<MailContext, 'accounts' | 'actor'>,
  key: unknown,
): Promise<void> {
  const [uid, token] = typeof key === 'string' ? key.split(':', 2) : []
  const id = decodeUid(uid)
  const user = id === null ? null : await accounts.users.getById(id)
  const valid =
    user !== null &&
    user.is_active === 1 &&
    (await checkToken(
      verificationSubject(user),
      token,
      accounts.secrets,
      accounts.now(),
      VERIFICATION_TIMEOUT_SECONDS,
      VERIFICATION_SALT,
    ))
  if (!valid || !user) throw new ValidationError(INVALID_VERIFICATION_LINK)
  await accounts.verifyEmail(user, actor)
}

/** What `POST /auth/register` asks for. */
export interface Registration {
  username: string
  email: string
  password: string
}

/** How a sign-up ended: signed in, or waiting for the address to be verified. */
export type RegistrationResult = SignInResult | { status: 'verification-sent' }

/**
 * `POST /auth/register`: creates the user through the accounts service (a `signup` event), then
 * signs them in through the sign-in pipeline, or, with mandatory verification, only sends the
 * link. With optional verification the link is sent too, and a failure to send it does not undo
 * the sign-up. Throws 403 when sign-up is closed, 400 with Django's and allauth's messages, 429
 * when throttled, 503 when a mandatory link cannot be sent.
 */
export async function register(
  context: MailContext & { signupOpen: boolean; signIn: SignInContext },
  fields: Registration,
): Promise<RegistrationResult> {
  const { accounts, actor, emailVerification } = context
  if (!context.signupOpen) throw new PermissionDenied(SIGNUP_CLOSED)
  if (emailVerification === 'mandatory') context.mailer.assertConfigured()
  const username = fields.username.normalize('NFKC')
  const problem = usernameProblem(username)
  if (problem) throw new ValidationError(problem, { username: [problem] })
  await countRequest(context, fields.email || `user:${username}`)
  const problems = validatePassword(fields.password, { username, email: fields.email })
  if (problems.length > 0) throw new ValidationError(problems.join(' '), { password: problems })
  if (await accounts.users.getByUsername(username)) {
    throw new ValidationError(USERNAME_TAKEN, { username: [USERNAME_TAKEN] })
  }
  if (fields.email && (await accounts.users.byEmail(fields.email)).length > 0) {
    throw new ValidationError(EMAIL_TAKEN, { email: [EMAIL_TAKEN] })
  }
  const password = await makePassword(accounts.hashers, fields.password)
  let user: UserRow
  try {
    user = await accounts.create(
      {
        username,
        email: fields.email,
        password,
        date_joined: new Date(accounts.now()).toISOString(),
      },
      actor,
      { event: 'signup' },
    )
  } catch (error) {
    // Two sign-ups for one username at once: the UNIQUE constraint decides, as in Django.
    if (/UNIQUE/i.test(String(error))) {
      throw new ValidationError(USERNAME_TAKEN, { username: [USERNAME_TAKEN] })
    }
    throw error
  }
  if (emailVerification === 'mandatory') {
    await sendVerification(context, user)
    return { status: 'verification-sent' }
  }
  if (emailVerification === 'optional' && user.email) {
    await sendVerification(context, user).catch(() => {
      // Logged by the mailer; the user can ask again (`/auth/email/verify/resend`).
    })
  }
  return completeSignIn(context.signIn, user, { amr: ['pwd'], method: 'signup' })
}
