/**
 * Users in D1 (Django's `auth_user`). Every query about the `users` table lives here, bound.
 */
import type { UserSnapshot } from '../session'

/** A row of `users` as D1 returns it (booleans as 0/1). */
export interface UserRow {
  id: number
  password: string
  last_login: string | null
  is_superuser: number
  username: string
  first_name: string
  last_name: string
  email: string
  is_staff: number
  is_active: number
  date_joined: string
  email_verified: number
  /** The user's group names, sorted, as a JSON array (read with the row, never stored here). */
  groups: string
}

/** The fields a new user may be given; Django's defaults for the rest. */
export interface NewUser {
  username: string
  password: string
  email?: string
  first_name?: string
  last_name?: string
  is_staff?: boolean
  is_superuser?: boolean
  is_active?: boolean
  email_verified?: boolean
  date_joined?: string
  last_login?: string | null
}

/** Django's `username` field: 150 characters of letters, digits and @ . + - _ */
const USERNAME_MAX_LENGTH = 150
const USERNAME_PATTERN = /^[\p{L}\p{N}@.+\-_]+$/u

/** Why a username is invalid (Django's UnicodeUsernameValidator), or null when it is valid. */
export function usernameProblem(username: string): string | null {
  if (username.length === 0) return 'This field may not be blank.'
  if (username.length > USERNAME_MAX_LENGTH) {
    return `Ensure this field has no more than ${USERNAME_MAX_LENGTH} characters.`
  }
  if (!USERNAME_PATTERN.test(username)) {
    return 'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'
  }
  return null
}

/**
 * Django's `_unicode_ci_compare`: two e-mail addresses are the same when their NFKC forms match
 * ignoring case (so `ß` and `SS`, or `ﬁ` and `fi`, do).
 */
export function sameEmail(a: string, b: string): boolean {
  const fold = (value: string) => value.normalize('NFKC').toUpperCase().toLowerCase()
  return fold(a) === fold(b)
}

/** USER as docs/api.md describes it, as the session snapshot holds it: never the password hash. */
export function toSnapshot(row: UserRow): UserSnapshot {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    first_name: row.first_name,
    last_name: row.last_name,
    is_staff: row.is_staff === 1,
    is_superuser: row.is_superuser === 1,
    last_login: row.last_login,
    date_joined: row.date_joined,
    email_verified: row.email_verified === 1,
    groups: JSON.parse(row.groups) as string[],
  }
}

/** Every column of `users`, in table order. */
const USER_COLUMNS =
  'id, password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined, email_verified'

/** A `UserRow` as selected from `users`: its columns and its group names, sorted. */
const USER_SELECT = `${USER_COLUMNS}, (
    SELECT json_group_array(name) FROM (
      SELECT groups.name FROM user_groups JOIN groups ON groups.id = user_groups.group_id
      WHERE user_groups.user_id = users.id ORDER BY groups.name
    )
  ) AS groups`

/** D1 access to `users`. */
export class UserRepository {
  constructor(private readonly db: D1Database) {}

  /** The user with this id, or null. */
  async getById(id: number): Promise<UserRow | null> {
    return this.db
      .prepare(`SELECT ${USER_SELECT} FROM users WHERE id = ?1`)
      .bind(id)
      .first<UserRow>()
  }

  /** The users with this e-mail address, compared without regard to case (at most `limit`). */
  async withEmail(email: string, limit = 2): Promise<UserRow[]> {
    const { results } = await this.db
      .prepare(
        `SELECT ${USER_SELECT} FROM users WHERE email != '' AND lower(email) = lower(?1) LIMIT ?2`,
      )
      .bind(email, limit)
      .all<UserRow>()
    return results
  }

  /** The user with this username (case-sensitive, as Django's ModelBackend), or null. */
  async getByUsername(username: string): Promise<UserRow | null> {
    return this.byUsernameStatement(username).first<UserRow>()
  }

  /** `getByUsername` as a statement, to run in a batch: at most one row. */
  byUsernameStatement(username: string): D1PreparedStatement {
    return this.db.prepare(`SELECT ${USER_SELECT} FROM users WHERE username = ?1`).bind(username)
  }

  /**
   * A statement giving the stored hash of one real user, picked by `pick` (any non-negative
   * integer): the one with the first id at or after `pick mod max(id) + 1`. A failed login for an
   * unknown username checks the password against it, so it costs what a real user's hash costs
   * (see `authenticate`); at most one row, none when there are no users.
   */
  decoyHashStatement(pick: number): D1PreparedStatement {
    return this.db
      .prepare(
        `SELECT password FROM users
         WHERE id >= (?1 % (SELECT max(id) FROM users)) + 1 ORDER BY id LIMIT 1`,
      )
      .bind(pick)
  }

  /** The ids of these usernames (those that exist). */
  async idsOf(usernames: readonly string[]): Promise<{ id: number; username: string }[]> {
    const { results } = await this.db
      .prepare('SELECT id, username FROM users WHERE username IN (SELECT value FROM json_each(?1))')
      .bind(JSON.stringify(usernames))
      .all<{ id: number; username: string }>()
    return results
  }

  /** Every user, by id. */
  async list(): Promise<UserRow[]> {
    const { results } = await this.db
      .prepare(`SELECT ${USER_SELECT} FROM users ORDER BY id`)
      .all<UserRow>()
    return results
  }

  /** Inserts a user and returns the stored row. Fails on a duplicate username. */
  async create(user: NewUser): Promise<UserRow> {
    const row = await this.db
      .prepare(
        `INSERT INTO users (password, last_login, is_superuser, username, first_name, last_name,
           email, is_staff, is_active, date_joined, email_verified)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         RETURNING ${USER_COLUMNS}, '[]' AS groups`,
      )
      .bind(
        user.password,
        user.last_login ?? null,
        user.is_superuser ? 1 : 0,
        user.username,
        user.first_name ?? '',
        user.last_name ?? '',
        user.email ?? '',
        user.is_staff ? 1 : 0,
        user.is_active === false ? 0 : 1,
        user.date_joined ?? new Date().toISOString(),
        user.email_verified ? 1 : 0,
      )
      .first<UserRow>()
    if (!row) throw new Error('INSERT ... RETURNING returned no row')
    return row
  }

  /** A statement that stores a new password hash (for a batch with session changes). */
  setPasswordStatement(id: number, encoded: string): D1PreparedStatement {
    return this.db.prepare('UPDATE users SET password = ?1 WHERE id = ?2').bind(encoded, id)
  }

  /** A statement that records a login time (Django's `update_last_login`). */
  setLastLoginStatement(id: number, when: string): D1PreparedStatement {
    return this.db.prepare('UPDATE users SET last_login = ?1 WHERE id = ?2').bind(when, id)
  }

  /** Undoes `setLastLoginStatement(id, when)`, unless a later login has moved it since. */
  restoreLastLoginStatement(
    id: number,
    when: string,
    previous: string | null,
  ): D1PreparedStatement {
    return this.db
      .prepare('UPDATE users SET last_login = ?1 WHERE id = ?2 AND last_login = ?3')
      .bind(previous, id, when)
  }

  /**
   * Undoes `setPasswordStatement(id, encoded)`: puts `previous` back, unless the hash has moved
   * on since (another change won).
   */
  restorePasswordStatement(id: number, encoded: string, previous: string): D1PreparedStatement {
    return this.db
      .prepare('UPDATE users SET password = ?1 WHERE id = ?2 AND password = ?3')
      .bind(previous, id, encoded)
  }

  /** Stores a new password hash (an upgrade of the same password: nothing to revoke). */
  async setPassword(id: number, encoded: string): Promise<void> {
    await this.setPasswordStatement(id, encoded).run()
  }

  /**
   * The users whose e-mail is `email` ignoring ASCII case (SQLite's NOCASE, served by an index);
   * the caller narrows it to Django's Unicode-aware comparison (`sameEmail`).
   */
  async byEmail(email: string): Promise<UserRow[]> {
    const { results } = await this.db
      .prepare(`SELECT ${USER_SELECT} FROM users WHERE email = ?1 COLLATE NOCASE ORDER BY id`)
      .bind(email)
      .all<UserRow>()
    return results.filter((row) => sameEmail(row.email, email))
  }

  /** A statement setting `email_verified`. */
  setEmailVerifiedStatement(id: number, verified: boolean): D1PreparedStatement {
    return this.db
      .prepare('UPDATE users SET email_verified = ?1 WHERE id = ?2')
      .bind(verified ? 1 : 0, id)
  }

  /** A statement setting `is_active`, `is_staff` or `is_superuser`. */
  setFlagStatement(
    id: number,
    flag: 'is_active' | 'is_staff' | 'is_superuser',
    value: boolean,
  ): D1PreparedStatement {
    // The column name comes from the union above, never from input; the value is bound.
    return this.db.prepare(`UPDATE users SET ${flag} = ?1 WHERE id = ?2`).bind(value ? 1 : 0, id)
  }

  /** Deletes a user (their `user_sessions` rows go with them: ON DELETE CASCADE). */
  async delete(id: number): Promise<void> {
    await this.db.prepare('DELETE FROM users WHERE id = ?1').bind(id).run()
  }
}
