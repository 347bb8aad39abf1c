/**
 * The user commands (Django's `createsuperuser` and `changepassword` family) over the Worker's own
 * modules: every change goes through the accounts service (D1, then the user's live sessions,
 * then the audit log), exactly as the Worker's own changes do. Nothing here has its own SQL.
 */
import { type Accounts, CLI_ACTOR, createAccounts, tokenInfo } from '../../src/accounts'
import { groupNameProblem } from '../../src/accounts/groups'
import { parseDjangoDump } from '../../src/accounts/import'
import { MAX_PASSWORD_LENGTH, makePassword } from '../../src/accounts/passwords'
import { toSnapshot, type UserRow, usernameProblem } from '../../src/accounts/users'
import { validatePassword } from '../../src/accounts/validators'
import { ApiError } from '../../src/errors'
import { resetFactors } from '../../src/mfa/service'
import { recordSigner } from '../../src/session'
import { LoginThrottle } from '../../src/throttle'
import type { CliBindings } from './bindings'
import { CliError } from './errors'
import { loadHashers } from './hashers'
import { renderTable } from './table'
import { confirm, promptHidden, readFirstLine } from './terminal'

/** The streams a command talks through: data to stdout, messages to stderr. */
export interface Io {
  stdin: NodeJS.ReadStream
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
}

/** What a command works with; the bindings are opened on first use and closed by the caller. */
export class CommandContext {
  #services: Promise<Services> | undefined

  constructor(
    readonly io: Io,
    private readonly openBindings: () => Promise<CliBindings>,
    /** The flags that point another command at the same data (`--remote`, `--persist-to DIR`). */
    readonly targetFlags: string = '',
    readonly now: () => number = Date.now,
  ) {}

  /**
   * Runs a change through the accounts service. When KV or D1 fails part-way, the service undoes
   * it; the operator is told so, and that trying again is safe.
   */
  async change<T>(what: string, run: (accounts: Accounts) => Promise<T>): Promise<T> {
    const { accounts } = await this.services()
    try {
      return await run(accounts)
    } catch (error) {
      if (error instanceof ApiError && error.status === 503) {
        throw new CliError(
          `${what} failed: the user's sessions could not all be updated or ended, so the ` +
            'change was undone (see the messages above). Try again.',
        )
      }
      throw error
    }
  }

  /** A message for the operator (stderr). */
  say(line: string): void {
    this.io.stderr.write(`${line}\n`)
  }

  /** Data (stdout). */
  print(text: string): void {
    this.io.stdout.write(text)
  }

  /** The accounts service over the opened bindings. */
  services(): Promise<Services> {
    this.#services ??= Promise.all([this.openBindings(), loadHashers()]).then(
      ([bindings, hashers]) => ({
        bindings,
        accounts: createAccounts({
          db: bindings.db,
          kv: bindings.kv,
          records: recordSigner(bindings.secrets),
          hashers,
          secrets: bindings.secrets,
          now: this.now,
          // The events are stored in D1; stdout carries the commands' data, and stderr their
          // messages for the operator.
          log: () => {},
        }),
      }),
    )
    return this.#services
  }

  /** Closes the bindings if a command opened them. */
  async close(): Promise<void> {
    const services = await this.#services?.catch(() => null)
    await services?.bindings.close()
  }

  /** The user with this username, or a refusal naming it. */
  async user(username: string): Promise<UserRow> {
    const { accounts } = await this.services()
    const row = await accounts.users.getByUsername(username)
    if (!row) throw new CliError(`User '${username}' does not exist.`)
    return row
  }
}

/** What a command works with, over one set of bindings. */
export interface Services {
  bindings: CliBindings
  accounts: Accounts
}

/** Django's `changepassword` gives up after three tries. */
const MAX_PASSWORD_TRIES = 3

// Django's AbstractUser sizes.
const NAME_MAX_LENGTH = 150
const EMAIL_MAX_LENGTH = 254
/** A sanity check in the spirit of Django's EmailValidator (which allows `user@localhost`). */
const EMAIL_PATTERN = /^[^\s@]+@(localhost|([^\s@.]+\.)+[^\s@.]+)$/

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

/** Django's `normalize_username`: NFKC, so look-alike spellings cannot make a second account. */
function normalizeUsername(username: string): string {
  const normalized = username.normalize('NFKC')
  const problem = usernameProblem(normalized)
  if (problem) throw new CliError(problem)
  return normalized
}

/** Django's `normalize_email` (the domain part lower-cased), refusing what cannot be an address. */
function normalizeEmail(email: string): string {
  const trimmed = email.trim()
  if (trimmed === '') return ''
  const at = trimmed.lastIndexOf('@')
  const normalized = `${trimmed.slice(0, at)}@${trimmed.slice(at + 1).toLowerCase()}`
  if (at < 1 || !EMAIL_PATTERN.test(normalized) || normalized.length > EMAIL_MAX_LENGTH) {
    throw new CliError('Enter a valid email address.')
  }
  return normalized
}

function checkName(field: string, value: string): string {
  if ([...value].length > NAME_MAX_LENGTH) {
    throw new CliError(`${field}: Ensure this value has at most ${NAME_MAX_LENGTH} characters.`)
  }
  return value
}

type PasswordOwner = Pick<UserRow, 'username' | 'email' | 'first_name' | 'last_name'>

/** What keeps a password out: `hard` always, `soft` (the validators) unless bypassed. */
async function passwordProblems(
  password: string,
  owner: PasswordOwner,
): Promise<{ hard: string | null; soft: string[] }> {
  if (password === '') return { hard: "Blank passwords aren't allowed.", soft: [] }
  if (password.length > MAX_PASSWORD_LENGTH) {
    // The Worker refuses longer passwords at login, so such a user could never log in.
    return {
      hard: `Passwords longer than ${MAX_PASSWORD_LENGTH} characters are not accepted.`,
      soft: [],
    }
  }
  // `await`: the validators may grow an asynchronous one (a common-password list to load).
  return { hard: null, soft: await validatePassword(password, owner) }
}

/**
 * A new password for `owner`, by Django's rules: one line from stdin when it is not a terminal
 * (refused with every validator message unless `validate` is off); otherwise typed twice without
 * echo, and when a validator objects, Django's createsuperuser question whether to bypass it.
 */
async function newPassword(
  context: CommandContext,
  owner: PasswordOwner,
  validate: boolean,
  action: string,
): Promise<string> {
  const { stdin } = context.io
  if (!stdin.isTTY) {
    const password = await readFirstLine(stdin)
    if (password === null) {
      throw new CliError(
        'No password on standard input: pipe one line, or run in a terminal to be prompted.',
      )
    }
    const { hard, soft } = await passwordProblems(password, owner)
    if (hard) throw new CliError(hard)
    if (validate && soft.length > 0) {
      for (const message of soft) context.say(message)
      throw new CliError(
        'Password refused; choose another, or pass --no-validate to bypass the validators.',
      )
    }
    return password
  }
  for (let attempt = 0; attempt < MAX_PASSWORD_TRIES; attempt++) {
    const password = await promptHidden('Password: ', stdin, context.io.stderr)
    const again = await promptHidden('Password (again): ', stdin, context.io.stderr)
    if (password !== again) {
      context.say("Error: Your passwords didn't match.")
      continue
    }
    const { hard, soft } = await passwordProblems(password, owner)
    if (hard) {
      context.say(`Error: ${hard}`)
      continue
    }
    if (validate && soft.length > 0) {
      for (const message of soft) context.say(message)
      const question = `Bypass password validation and ${action} anyway? [y/N]: `
      if (!(await confirm(question, stdin, context.io.stderr))) continue
    }
    return password
  }
  throw new CliError(`Aborting after ${MAX_PASSWORD_TRIES} attempts.`)
}

/** Options of {@link createUser}. */
export interface CreateOptions {
  email?: string
  firstName?: string
  lastName?: string
  staff: boolean
  superuser: boolean
  validate: boolean
}

/** `create`: Django's createsuperuser (and a plain user without `--superuser`). */
export async function createUser(
  context: CommandContext,
  rawUsername: string,
  options: CreateOptions,
): Promise<void> {
  const username = normalizeUsername(rawUsername)
  const owner = {
    username,
    email: normalizeEmail(options.email ?? ''),
    first_name: checkName('first name', options.firstName ?? ''),
    last_name: checkName('last name', options.lastName ?? ''),
  }
  const { accounts } = await context.services()
  // Asked before the password, as Django does, so nobody types a password for nothing.
  if (await accounts.users.getByUsername(username)) {
    throw new CliError('That username is already taken.')
  }
  const password = await newPassword(context, owner, options.validate, 'create the user')
  const encoded = await makePassword(accounts.hashers, password)
  let row: UserRow
  try {
    row = await accounts.create(
      {
        ...owner,
        password: encoded,
        // Django's create_superuser: a superuser is always staff.
        is_staff: options.staff || options.superuser,
        is_superuser: options.superuser,
      },
      CLI_ACTOR,
    )
  } catch (error) {
    // Someone took the name between the check and the insert.
    if (/UNIQUE/i.test(String(error))) throw new CliError('That username is already taken.')
    throw error
  }
  const kind = row.is_superuser ? 'Superuser' : row.is_staff ? 'Staff user' : 'User'
  context.say(`${kind} '${row.username}' created successfully (id ${row.id}).`)
}

/** `passwd`: Django's changepassword; then every session of the user ends. */
export async function changePassword(
  context: CommandContext,
  username: string,
  validate: boolean,
): Promise<void> {
  const user = await context.user(username)
  const password = await newPassword(context, user, validate, 'change the password')
  const { ended } = await context.change('Changing the password', async (accounts) =>
    accounts.setPassword(user, await makePassword(accounts.hashers, password), CLI_ACTOR),
  )
  context.say(
    `Password changed successfully for user '${user.username}'; ${plural(ended, 'session')} ended.`,
  )
}

/** `deactivate`: is_active off (Django refuses such users at login); every session ends. */
export async function deactivateUser(context: CommandContext, username: string): Promise<void> {
  const user = await context.user(username)
  const ended = await context.change(`Deactivating '${user.username}'`, async (accounts) =>
    user.is_active
      ? (await accounts.setFlags(user, { is_active: false }, CLI_ACTOR)).ended
      : // Already inactive: end whatever sessions were left (say, after a change made in SQL).
        accounts.endSessions(user, CLI_ACTOR),
  )
  const state = user.is_active ? 'deactivated' : 'was already inactive'
  context.say(`User '${user.username}' ${state}; ${plural(ended, 'session')} ended.`)
}

/**
 * `verify-email`: marks the user's e-mail verified, as a followed verification link does (an
 * operator's way in for a user made here, with EMAIL_VERIFICATION=mandatory). Live sessions see
 * it at once.
 */
export async function verifyEmail(context: CommandContext, username: string): Promise<void> {
  const user = await context.user(username)
  if (user.email_verified) {
    context.say(`The e-mail of '${user.username}' is already verified.`)
    return
  }
  await context.change(`Verifying the e-mail of '${user.username}'`, (accounts) =>
    accounts.verifyEmail(user, CLI_ACTOR),
  )
  context.say(`The e-mail of '${user.username}' is verified.`)
}

/** `activate`: is_active on. */
export async function activateUser(context: CommandContext, username: string): Promise<void> {
  const user = await context.user(username)
  if (user.is_active) {
    context.say(`User '${user.username}' is already active.`)
    return
  }
  await context.change(`Activating '${user.username}'`, (accounts) =>
    accounts.setFlags(user, { is_active: true }, CLI_ACTOR),
  )
  context.say(`User '${user.username}' activated.`)
}

/**
 * `staff` and `superuser`: sets the flag; the accounts service then rewrites the snapshot in
 * every live session so the gateway's policy sees it at once. Re-sealing needs SECRET_KEY;
 * without it the sessions end instead.
 */
export async function setRole(
  context: CommandContext,
  username: string,
  flag: 'is_staff' | 'is_superuser',
  value: boolean,
): Promise<void> {
  const user = await context.user(username)
  const role = flag === 'is_staff' ? 'staff' : 'a superuser'
  const now = value ? `now ${role}` : `no longer ${role}`
  if ((user[flag] === 1) === value) {
    context.say(`User '${user.username}' is already ${value ? '' : 'not '}${role}.`)
    return
  }
  const { bindings } = await context.services()
  const { rewritten, ended } = await context.change(`Setting ${flag}`, (accounts) =>
    accounts.setFlags(user, { [flag]: value }, CLI_ACTOR),
  )
  if (bindings.secrets.length > 0) {
    context.say(
      `User '${user.username}' is ${now}; ${plural(rewritten, 'live session')} updated ` +
        `(signed with SECRET_KEY from ${bindings.secretSource}).`,
    )
    return
  }
  const source = bindings.where === 'remote' ? 'the environment' : 'the environment or .dev.vars'
  context.say(
    `User '${user.username}' is ${now}. No SECRET_KEY in ${source} to re-sign the live sessions ` +
      `with, so they were ended instead: ${plural(ended, 'session')} ended.`,
  )
}

/**
 * `group`: adds the user to a group (created on first use) or removes them from it; the
 * accounts service rewrites the snapshot in every live session, so the gateway's routes see the
 * change at once. Re-sealing needs SECRET_KEY; without it the sessions end instead.
 */
export async function setGroup(
  context: CommandContext,
  username: string,
  action: 'add' | 'remove',
  group: string,
): Promise<void> {
  const problem = groupNameProblem(group)
  if (problem) throw new CliError(problem)
  const user = await context.user(username)
  const member = action === 'add'
  const current = JSON.parse(user.groups) as string[]
  if (current.includes(group) === member) {
    context.say(`User '${user.username}' is already ${member ? 'in' : 'not in'} group '${group}'.`)
    return
  }
  const { bindings } = await context.services()
  const { rewritten, ended } = await context.change(
    `${member ? 'Adding' : 'Removing'} group '${group}'`,
    (accounts) => accounts.setGroup(user, group, member, CLI_ACTOR),
  )
  const done = `User '${user.username}' ${member ? 'added to' : 'removed from'} group '${group}'`
  if (bindings.secrets.length > 0) {
    context.say(
      `${done}; ${plural(rewritten, 'live session')} updated ` +
        `(signed with SECRET_KEY from ${bindings.secretSource}).`,
    )
    return
  }
  const source = bindings.where === 'remote' ? 'the environment' : 'the environment or .dev.vars'
  context.say(
    `${done}. No SECRET_KEY in ${source} to re-sign the live sessions with, so they were ` +
      `ended instead: ${plural(ended, 'session')} ended.`,
  )
}

/** `delete`: ends every session, then deletes the user. */
export async function deleteUser(
  context: CommandContext,
  username: string,
  assumeYes: boolean,
): Promise<void> {
  const user = await context.user(username)
  if (!assumeYes && context.io.stdin.isTTY) {
    const question = `Delete user '${user.username}' (id ${user.id}) and end their sessions? [y/N]: `
    if (!(await confirm(question, context.io.stdin, context.io.stderr))) {
      throw new CliError('Nothing deleted.')
    }
  }
  const ended = await context.change(`Deleting '${user.username}'`, (accounts) =>
    accounts.delete(user, CLI_ACTOR),
  )
  context.say(`User '${user.username}' deleted; ${plural(ended, 'session')} ended.`)
}

/** `end-sessions`: after a change made by hand in SQL, which bypasses write-through revocation. */
export async function endSessions(context: CommandContext, username: string): Promise<void> {
  const user = await context.user(username)
  const ended = await context.change(`Ending the sessions of '${user.username}'`, (accounts) =>
    accounts.endSessions(user, CLI_ACTOR),
  )
  context.say(`${plural(ended, 'session')} of '${user.username}' ended.`)
}

/** `unlock`: forgets the failed logins counted against a username (from every network). */
export async function unlock(context: CommandContext, username: string): Promise<void> {
  const { accounts } = await context.services()
  const cleared = await new LoginThrottle(accounts.db).unlock(username.normalize('NFKC'))
  context.say(`Login throttle of '${username}' cleared (${plural(cleared, 'network')}).`)
}

/** `events`: the audit log, newest first, for every user or one, as a table or JSON. */
export async function listEvents(
  context: CommandContext,
  username: string | null,
  options: { limit: number; json: boolean },
): Promise<void> {
  const { accounts } = await context.services()
  const rows = await accounts.events.latest(options.limit, username)
  if (options.json) {
    const events = rows.map((row) => ({ ...row, detail: JSON.parse(row.detail) }))
    context.print(`${JSON.stringify(events, null, 2)}\n`)
    return
  }
  if (rows.length === 0) {
    context.say('No events.')
    return
  }
  context.print(
    renderTable(
      ['id', 'at', 'type', 'username', 'ip', 'detail'],
      rows.map((row) => [
        String(row.id),
        row.at,
        row.type,
        row.username || '-',
        row.ip ?? '-',
        row.detail === '{}' ? '' : row.detail,
      ]),
    ),
  )
}

/** `list`: every user with their number of live sessions, as a table or JSON. */
export async function listUsers(context: CommandContext, json: boolean): Promise<void> {
  const { accounts } = await context.services()
  const rows = await accounts.users.list()
  const now = context.now()
  const counts = await Promise.all(
    rows.map(async (row) => (await accounts.index.listForUser(row.id, now)).length),
  )
  if (json) {
    const listed = rows.map((row, i) => ({
      ...toSnapshot(row),
      is_active: row.is_active === 1,
      sessions: counts[i] ?? 0,
    }))
    context.print(`${JSON.stringify(listed, null, 2)}\n`)
    return
  }
  if (rows.length === 0) {
    context.say('No users yet: create one with `npm run user -- create <username>`.')
    return
  }
  const yesNo = (value: number): string => (value === 1 ? 'yes' : 'no')
  context.print(
    renderTable(
      [
        'id',
        'username',
        'email',
        'staff',
        'superuser',
        'active',
        'last_login',
        'sessions',
        'groups',
      ],
      rows.map((row, i) => [
        String(row.id),
        row.username,
        row.email,
        yesNo(row.is_staff),
        yesNo(row.is_superuser),
        yesNo(row.is_active),
        row.last_login ?? '-',
        String(counts[i] ?? 0),
        (JSON.parse(row.groups) as string[]).join(',') || '-',
      ]),
    ),
  )
}

/**
 * `import`: a `manage.py dumpdata auth.user` file. Bad records are reported and the others still
 * imported; the exit is an error when any record was left out or failed.
 */
export async function importDump(
  context: CommandContext,
  file: string,
  text: string,
  update: boolean,
): Promise<void> {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new CliError(`${file} is not valid JSON: ${(error as Error).message}`)
  }
  const parsed = parseDjangoDump(json)
  for (const error of parsed.errors) context.say(`Invalid: ${error}`)
  for (const warning of parsed.warnings) context.say(`Warning: ${warning}`)

  const result = await context.change(`Importing ${file}`, (accounts) =>
    accounts.importUsers(parsed.users, { update, groups: parsed.groups }, CLI_ACTOR),
  )
  for (const failure of result.failed) context.say(`Failed: ${failure}`)

  const lines = [`Imported ${file}: ${plural(result.created.length, 'user')} created`]
  if (update) {
    lines.push(
      `${result.updated.length} updated (${plural(result.sessionsEnded, 'session')} ended)`,
    )
    lines.push(`${result.unchanged.length} unchanged`)
  } else if (result.skipped.length > 0) {
    lines.push(
      `${result.skipped.length} skipped as they already exist (${result.skipped.join(', ')}; ` +
        'pass --update to overwrite them)',
    )
  }
  const notImported = parsed.errors.length + result.failed.length
  if (notImported > 0) lines.push(`${notImported} not imported (see above)`)
  context.say(`${lines.join(', ')}.`)
  if (notImported > 0) throw new CliError('Some records were not imported.')
}

/**
 * `mfa-reset`: removes every second factor of a user who lost them (authenticator app, recovery
 * codes, passkeys) and ends all of the user's sessions; the password alone signs in again.
 */
export async function mfaReset(context: CommandContext, username: string): Promise<void> {
  const user = await context.user(username)
  const removed = await context.change(
    `Resetting the second factors of '${user.username}'`,
    (accounts) => resetFactors(accounts, user, CLI_ACTOR),
  )
  const factors = [
    ...(removed.totp ? ['the authenticator app'] : []),
    ...(removed.passkeys > 0 ? [plural(removed.passkeys, 'passkey')] : []),
    ...(removed.recovery_codes > 0 ? [plural(removed.recovery_codes, 'recovery code')] : []),
  ]
  const what = factors.length > 0 ? `removed ${factors.join(', ')}` : 'no factor to remove'
  context.say(
    `Second factors of '${user.username}' reset (${what}); ${plural(removed.sessions, 'session')} ended.`,
  )
}

/** `token create`: makes an API token for the user and prints its key (shown only this once). */
export async function createToken(
  context: CommandContext,
  username: string,
  options: { name: string; expiresIn: number | null; json: boolean },
): Promise<void> {
  const row = await context.user(username)
  const { accounts } = await context.services()
  if (!accounts.tokenStore.canSeal) {
    throw new CliError(
      'A token record is sealed with SECRET_KEY: set it in the environment (or, locally, in .dev.vars).',
    )
  }
  if (row.is_active !== 1) throw new CliError(`User '${username}' is inactive.`)
  const { token, key } = await context.change('Making the token', (service) =>
    service.createToken(row, { name: options.name, expiresIn: options.expiresIn }, CLI_ACTOR),
  )
  if (options.json) {
    context.print(`${JSON.stringify({ token: tokenInfo(token), key }, null, 2)}\n`)
    return
  }
  context.say(
    `Token '${token.name}' (${token.id}) made for '${username}'. Its key, shown only now:`,
  )
  context.print(`${key}\n`)
}

/** `token list`: the user's live tokens (never their keys), as a table or JSON. */
export async function listTokens(
  context: CommandContext,
  username: string,
  json: boolean,
): Promise<void> {
  const row = await context.user(username)
  const { accounts } = await context.services()
  const tokens = (await accounts.tokens.listForUser(row.id, context.now())).map(tokenInfo)
  if (json) {
    context.print(`${JSON.stringify(tokens, null, 2)}\n`)
    return
  }
  if (tokens.length === 0) {
    context.say(`'${username}' has no tokens.`)
    return
  }
  context.print(
    renderTable(
      ['id', 'name', 'created', 'expires', 'last_used'],
      tokens.map((token) => [
        token.id,
        token.name,
        token.created,
        token.expires ?? 'never',
        token.last_used ?? '-',
      ]),
    ),
  )
}

/** `token revoke`: ends one token of the user at once. */
export async function revokeToken(
  context: CommandContext,
  username: string,
  id: string,
): Promise<void> {
  const row = await context.user(username)
  const { accounts } = await context.services()
  const token = await accounts.tokens.getForUser(id, row.id)
  if (!token) throw new CliError(`'${username}' has no token '${id}'.`)
  await context.change('Revoking the token', (service) =>
    service.revokeToken(row, token, CLI_ACTOR),
  )
  context.say(`Token '${token.name}' (${id}) of '${username}' revoked.`)
}
