/**
 * Users imported from Django: the JSON of `manage.py dumpdata auth.user` (or `auth.group
 * auth.user`, or `auth`). Password hashes are kept as they are: Django's pbkdf2, argon2 and scrypt
 * hashes verify here and are upgraded at the user's next login, so nobody has to reset a password.
 * Django's primary keys are kept as ids. Groups come along: the `auth.group` records, and each
 * user's `groups`, by pk or by natural key (`["editors"]`, as `--natural-foreign` writes them).
 *
 * `parseDjangoDump` is pure and judges every record, so one bad record is reported beside the
 * others instead of stopping the import. `importUsers` writes what parsed, with bound statements.
 */

import { isObject } from '../utils/json'
import { GroupRepository, groupNameProblem } from './groups'
import { identifyHasher } from './hashers'
import { type NewUser, UserRepository, type UserRow, usernameProblem } from './users'

/** A user from a dump: every field of `NewUser`, and Django's pk (null: D1 assigns one). */
export interface ImportedUser extends Required<Omit<NewUser, 'email_verified'>> {
  id: number | null
  /**
   * The user's group names, sorted; null when the record has no `groups` field (an existing
   * user's groups are then left as they are, as `loaddata` leaves them).
   */
  groups: string[] | null
}

/** What {@link parseDjangoDump} found. */
export interface DumpParse {
  /** The records that can be imported, in file order. */
  users: ImportedUser[]
  /** The names of the file's `auth.group` records, sorted. */
  groups: string[]
  /** One line per record that cannot be imported, naming it. */
  errors: string[]
  /** Imported anyway, but worth a look: passwords that cannot log in, permissions dropped. */
  warnings: string[]
}

/** The model `dumpdata auth.user` writes. */
const USER_MODEL = 'auth.user'
/** Django's groups, which `dumpdata auth` writes before the users. */
const GROUP_MODEL = 'auth.group'

// Django's auth_user column sizes (AbstractUser): a longer value was not written by Django.
const NAME_MAX_LENGTH = 150
const EMAIL_MAX_LENGTH = 254

/**
 * DjangoJSONEncoder's datetimes: `2025-01-15T09:30:00Z`, with milliseconds and a `+01:00` offset
 * when the time zone is not UTC, and without any zone when USE_TZ is off.
 */
const DATETIME_PATTERN =
  /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/

/**
 * A dumped datetime as the ISO 8601 UTC text the Worker writes (`toISOString()`), or null when it
 * is not one. A naive datetime (USE_TZ = False) is read as UTC, Django's own storage zone.
 */
export function normalizeDatetime(value: string): string | null {
  const match = DATETIME_PATTERN.exec(value)
  if (!match) return null
  const zoned = match[3] ? value : `${value}Z`
  const time = Date.parse(zoned.replace(' ', 'T'))
  return Number.isNaN(time) ? null : new Date(time).toISOString()
}

/** Reads one record's fields; returns the user or the problems that keep it out. */
function parseFields(
  fields: Record<string, unknown>,
  id: number | null,
): { user: ImportedUser | null; problems: string[] } {
  const problems: string[] = []

  function text(name: string, fallback: string | null, maxLength?: number): string {
    const value = fields[name]
    if (value === undefined && fallback !== null) return fallback
    if (typeof value !== 'string') {
      problems.push(`${name} must be a string`)
      return ''
    }
    if (maxLength !== undefined && value.length > maxLength) {
      problems.push(`${name} is longer than ${maxLength} characters`)
    }
    return value
  }

  // A field left out takes its Django model default, as loaddata would give it.
  function flag(name: string, fallback: boolean): boolean {
    const value = fields[name]
    if (value === undefined) return fallback
    if (typeof value !== 'boolean') problems.push(`${name} must be true or false`)
    return value === true
  }

  function datetime(name: string, nullable: boolean): string | null {
    const value = fields[name]
    if (value === null && nullable) return null
    if (typeof value !== 'string') {
      problems.push(nullable ? `${name} must be a datetime or null` : `${name} must be a datetime`)
      return null
    }
    const normalized = normalizeDatetime(value)
    if (normalized === null) problems.push(`${name} is not an ISO 8601 datetime: ${value}`)
    return normalized
  }

  const username = text('username', null)
  const usernameError = typeof fields.username === 'string' ? usernameProblem(username) : null
  if (usernameError) problems.push(`username: ${usernameError}`)
  const password = text('password', null)
  const user: ImportedUser = {
    id,
    groups: null,
    username,
    password,
    email: text('email', '', EMAIL_MAX_LENGTH),
    first_name: text('first_name', '', NAME_MAX_LENGTH),
    last_name: text('last_name', '', NAME_MAX_LENGTH),
    is_staff: flag('is_staff', false),
    is_superuser: flag('is_superuser', false),
    is_active: flag('is_active', true),
    last_login: fields.last_login === undefined ? null : datetime('last_login', true),
    date_joined: datetime('date_joined', false) ?? '',
  }
  return { user: problems.length === 0 ? user : null, problems }
}

/** The label of a record in messages: its position, and its pk and username when it has them. */
function describeRecord(position: number, record: unknown): string {
  const parts = [`record ${position}`]
  if (isObject(record)) {
    if (record.pk !== undefined) parts.push(`pk ${JSON.stringify(record.pk)}`)
    const username = isObject(record.fields) ? record.fields.username : undefined
    if (typeof username === 'string') parts.push(`'${username}'`)
  }
  return parts.join(', ')
}

/**
 * A user's `groups` as dumpdata writes them: a list of group pks, or of natural keys (`["name"]`
 * with `--natural-foreign`). Null (with the problem) when it is neither.
 */
function groupReferences(value: unknown): { refs: (number | string)[] } | { problem: string } {
  const problem = 'groups must be a list of group pks or natural keys'
  if (!Array.isArray(value)) return { problem }
  const refs: (number | string)[] = []
  for (const item of value) {
    if (Number.isSafeInteger(item) && (item as number) > 0) refs.push(item as number)
    else if (Array.isArray(item) && item.length === 1 && typeof item[0] === 'string') {
      refs.push(item[0])
    } else return { problem }
  }
  return { refs }
}

/** Reads an `auth.group` record into `byPk` and `names`, or says why it cannot be. */
function readGroup(
  record: Record<string, unknown>,
  byPk: Map<number, string>,
  names: Set<string>,
): string | null {
  const pk = record.pk
  if (pk !== undefined && pk !== null && !(Number.isSafeInteger(pk) && (pk as number) > 0)) {
    return 'pk must be a positive integer'
  }
  const name = isObject(record.fields) ? record.fields.name : undefined
  if (typeof name !== 'string') return 'name must be a string'
  const problem = groupNameProblem(name)
  if (problem) return `name: ${problem}`
  if (typeof pk === 'number') byPk.set(pk, name)
  names.add(name)
  return null
}

/**
 * Reads the parsed JSON of `manage.py dumpdata auth.user` (an array of `{model, pk, fields}`),
 * with the `auth.group` records when the dump has them. Every record is judged on its own: the
 * bad ones are listed in `errors` (by position, pk and username), the rest returned. A username
 * or pk that appears twice keeps its first record. Records of other models (a full `dumpdata`)
 * are left out with one error line naming them. Fields a record leaves out take Django's
 * defaults; datetimes become ISO 8601 UTC text. A user's groups named by a pk that no group
 * record of the file has are left out with a warning.
 */
export function parseDjangoDump(json: unknown): DumpParse {
  const result: DumpParse = { users: [], groups: [], errors: [], warnings: [] }
  if (!Array.isArray(json)) {
    result.errors.push('expected a JSON array of records, as `manage.py dumpdata auth.user` writes')
    return result
  }
  const usernames = new Set<string>()
  const ids = new Set<number>()
  const otherModels = new Map<string, number>()
  const groupsByPk = new Map<number, string>()
  const groupNames = new Set<string>()
  // Resolved once every record is read: dumpdata writes groups first, but a file may not.
  const memberships: { user: ImportedUser; refs: (number | string)[] }[] = []
  let withPermissions = 0

  json.forEach((record: unknown, index) => {
    const label = describeRecord(index + 1, record)
    if (!isObject(record)) {
      result.errors.push(`${label}: not an object`)
      return
    }
    if (record.model === GROUP_MODEL) {
      const problem = readGroup(record, groupsByPk, groupNames)
      if (problem) result.errors.push(`${label} (auth.group): ${problem}`)
      return
    }
    if (record.model !== USER_MODEL) {
      const model = typeof record.model === 'string' ? record.model : '(no model)'
      otherModels.set(model, (otherModels.get(model) ?? 0) + 1)
      return
    }
    const pk = record.pk
    // `dumpdata --natural-primary` leaves the pk out: the user then gets a new id.
    if (pk !== undefined && pk !== null && !(Number.isSafeInteger(pk) && (pk as number) > 0)) {
      result.errors.push(`${label}: pk must be a positive integer`)
      return
    }
    const id = typeof pk === 'number' ? pk : null
    if (!isObject(record.fields)) {
      result.errors.push(`${label}: fields must be an object`)
      return
    }
    const { user, problems } = parseFields(record.fields, id)
    const references =
      record.fields.groups === undefined ? null : groupReferences(record.fields.groups)
    if (references && 'problem' in references) problems.push(references.problem)
    if (!user || problems.length > 0) {
      result.errors.push(`${label}: ${problems.join('; ')}`)
      return
    }
    if (usernames.has(user.username)) {
      result.errors.push(`${label}: username '${user.username}' appears earlier in the file`)
      return
    }
    if (id !== null && ids.has(id)) {
      result.errors.push(`${label}: pk ${id} appears earlier in the file`)
      return
    }
    usernames.add(user.username)
    if (id !== null) ids.add(id)
    result.users.push(user)
    if (references && 'refs' in references) memberships.push({ user, refs: references.refs })

    const permissions = record.fields.user_permissions
    if (Array.isArray(permissions) && permissions.length > 0) withPermissions++
    if (user.password.startsWith('!')) {
      result.warnings.push(`'${user.username}' has an unusable password: cannot log in`)
    } else if (identifyHasher(user.password) === null) {
      const algorithm = user.password.split('$', 1)[0] || '(empty)'
      result.warnings.push(
        `'${user.username}' has a password hash sessiongate cannot verify (${algorithm}): ` +
          'cannot log in until the password is set again',
      )
    }
  })

  if (otherModels.size > 0) {
    const list = [...otherModels].map(([model, count]) => `${model} (${count})`).join(', ')
    result.errors.push(`records of other models left out: ${list}`)
  }
  for (const { user, refs } of memberships) {
    const names = new Set<string>()
    for (const ref of refs) {
      const name = typeof ref === 'string' ? ref : groupsByPk.get(ref)
      if (name !== undefined && groupNameProblem(name) === null) {
        names.add(name)
        continue
      }
      const what = typeof ref === 'string' ? `'${ref}' is not a group name` : `pk ${ref} is not`
      result.warnings.push(
        typeof ref === 'string'
          ? `'${user.username}': group ${what}: left out`
          : `'${user.username}': group ${what} in the file (dump auth.group too): left out`,
      )
    }
    user.groups = [...names].sort()
  }
  result.groups = [...groupNames].sort()
  if (withPermissions > 0) {
    result.warnings.push(
      `${withPermissions} user(s) have permissions; sessiongate has none, so they are dropped`,
    )
  }
  return result
}

/** Options of {@link importUsers}. */
export interface ImportOptions {
  /** Overwrite users whose username already exists (their sessions end). Default false. */
  update?: boolean
  /** Groups to create besides the users' own: the dump's `auth.group` records. Default none. */
  groups?: readonly string[]
}

/** What {@link importUsers} did, by username. */
export interface ImportResult {
  created: string[]
  updated: string[]
  /** Existing users the dump matches field for field (nothing to write). */
  unchanged: string[]
  /** Existing users left alone (no `update`). */
  skipped: string[]
  /** One line per user that could not be written, with the reason. */
  failed: string[]
  /** Sessions ended because their user was overwritten. */
  sessionsEnded: number
}

/**
 * Statements per D1 batch: over `--remote`, a batch is one `wrangler d1 execute --command`, whose
 * SQL is one process argument, which Linux caps at 128 KiB; 50 users take about 40 KiB.
 */
const BATCH_SIZE = 50

const IMPORT_COLUMNS =
  'id, password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined'

function columnValues(user: ImportedUser): (string | number | null)[] {
  return [
    user.password,
    user.last_login,
    user.is_superuser ? 1 : 0,
    user.username,
    user.first_name,
    user.last_name,
    user.email,
    user.is_staff ? 1 : 0,
    user.is_active ? 1 : 0,
    user.date_joined,
  ]
}

function insertStatement(db: D1Database, user: ImportedUser): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO users (${IMPORT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`,
    )
    .bind(user.id, ...columnValues(user))
}

// The username is the match key, so it is never rewritten; the id stays that of the D1 row,
// because sessions and any other reference point at it.
function updateStatement(db: D1Database, id: number, user: ImportedUser): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE users SET password = ?2, last_login = ?3, is_superuser = ?4, first_name = ?6,
         last_name = ?7, email = ?8, is_staff = ?9, is_active = ?10, date_joined = ?11
       WHERE id = ?1 AND username = ?5`,
    )
    .bind(id, ...columnValues(user))
}

function sameAsRow(user: ImportedUser, row: UserRow): boolean {
  return (
    (user.groups === null || row.groups === JSON.stringify(user.groups)) &&
    row.password === user.password &&
    row.last_login === user.last_login &&
    row.is_superuser === (user.is_superuser ? 1 : 0) &&
    row.first_name === user.first_name &&
    row.last_name === user.last_name &&
    row.email === user.email &&
    row.is_staff === (user.is_staff ? 1 : 0) &&
    row.is_active === (user.is_active ? 1 : 0) &&
    row.date_joined === user.date_joined
  )
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * The statements writing a user's groups, beside the user's own: the groups it names are created
 * if need be, and an overwritten user leaves the groups the dump no longer gives it. Nothing when
 * the record said nothing about groups.
 */
function groupStatements(
  groups: GroupRepository,
  user: ImportedUser,
  updated: boolean,
): D1PreparedStatement[] {
  if (user.groups === null) return []
  const statements = updated ? [groups.clearStatement(user.username)] : []
  if (user.groups.length > 0) {
    statements.push(
      groups.createStatement(user.groups),
      groups.addByUsernameStatement(user.username, user.groups),
    )
  }
  return statements
}

/**
 * Writes parsed users to D1: new usernames are inserted with their Django pk; existing ones are
 * skipped, or with `update` overwritten in place (keeping their D1 id), their groups included.
 * A pk that already belongs to another username is refused. Writes go in batches of 50 users
 * (each user's statements with it, so a user and its groups are written together or not at all);
 * a batch that fails marks its users failed and the next batch still runs. After each batch,
 * `written` is told of every user it wrote (the accounts service ends an overwritten user's
 * sessions there) and returns the sessions it ended. The dump's groups that no user joins are
 * created last. Call it through `Accounts.importUsers`.
 */
export async function importUsers(
  db: D1Database,
  users: readonly ImportedUser[],
  options: ImportOptions,
  written: (user: ImportedUser, id: number, created: boolean) => Promise<number>,
): Promise<ImportResult> {
  const result: ImportResult = {
    created: [],
    updated: [],
    unchanged: [],
    skipped: [],
    failed: [],
    sessionsEnded: 0,
  }
  // One read of the whole table instead of two per user: over `wrangler d1 execute --remote`
  // every query is a process and a round trip.
  const existing = await new UserRepository(db).list()
  const byUsername = new Map(existing.map((row) => [row.username, row]))
  const usernameById = new Map(existing.map((row) => [row.id, row.username]))

  const groups = new GroupRepository(db)
  const writes: { user: ImportedUser; statements: D1PreparedStatement[]; updatedId?: number }[] = []
  for (const user of users) {
    const row = byUsername.get(user.username)
    if (row) {
      if (!options.update) result.skipped.push(user.username)
      else if (sameAsRow(user, row)) result.unchanged.push(user.username)
      else {
        writes.push({
          user,
          statements: [updateStatement(db, row.id, user), ...groupStatements(groups, user, true)],
          updatedId: row.id,
        })
      }
      continue
    }
    const holder = user.id === null ? undefined : usernameById.get(user.id)
    if (holder !== undefined) {
      result.failed.push(`'${user.username}': pk ${user.id} already belongs to '${holder}'`)
      continue
    }
    writes.push({
      user,
      statements: [insertStatement(db, user), ...groupStatements(groups, user, false)],
    })
  }

  for (let start = 0; start < writes.length; start += BATCH_SIZE) {
    const chunk = writes.slice(start, start + BATCH_SIZE)
    try {
      await db.batch(chunk.flatMap((write) => write.statements))
    } catch (error) {
      const reason = errorMessage(error)
      for (const { user } of chunk) result.failed.push(`'${user.username}': ${reason}`)
      continue
    }
    const inserted = new Map(
      (await new UserRepository(db).idsOf(chunk.map(({ user }) => user.username))).map((row) => [
        row.username,
        row.id,
      ]),
    )
    for (const { user, updatedId } of chunk) {
      const created = updatedId === undefined
      ;(created ? result.created : result.updated).push(user.username)
      const id = updatedId ?? inserted.get(user.username)
      if (id !== undefined) result.sessionsEnded += await written(user, id, created)
    }
  }
  const joined = new Set(writes.flatMap(({ user }) => user.groups ?? []))
  const alone = (options.groups ?? []).filter((name) => !joined.has(name))
  if (alone.length > 0) {
    try {
      await groups.createStatement(alone).run()
    } catch (error) {
      result.failed.push(
        `groups ${alone.map((name) => `'${name}'`).join(', ')}: ${errorMessage(error)}`,
      )
    }
  }
  return result
}
