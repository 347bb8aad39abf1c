/**
 * Groups in D1 (Django's `auth_group` and `auth_user_groups`: tables `groups` and `user_groups`).
 * Every query about those tables lives here, bound. A user's group names are read with the user
 * (users.ts) and travel in the session snapshot, so memberships change only through the accounts
 * service, which rewrites the user's live sessions.
 */

/** Django's Group.name: at most 150 characters. */
export const GROUP_NAME_MAX_LENGTH = 150

/**
 * Why a group name is refused, or null when it is fine: Django allows any 1 to 150 characters;
 * names that differ only by spaces at either end, or hold control characters, would look alike
 * in the CLI and in every origin's log, so they are refused too.
 */
export function groupNameProblem(name: string): string | null {
  if (name.trim() === '') return 'A group name may not be blank.'
  if ([...name].length > GROUP_NAME_MAX_LENGTH) {
    return `Ensure a group name has no more than ${GROUP_NAME_MAX_LENGTH} characters.`
  }
  if (name.trim() !== name) return 'A group name may not start or end with spaces.'
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) {
    return 'A group name may not hold control characters.'
  }
  return null
}

/** D1 access to `groups` and `user_groups`. */
export class GroupRepository {
  constructor(private readonly db: D1Database) {}

  /** A statement creating the groups of these names that do not exist yet. */
  createStatement(names: readonly string[]): D1PreparedStatement {
    return this.db
      .prepare(
        // `WHERE true` lets SQLite parse the upsert clause after a SELECT.
        'INSERT INTO groups (name) SELECT value FROM json_each(?1) WHERE true ON CONFLICT (name) DO NOTHING',
      )
      .bind(JSON.stringify(names))
  }

  /** A statement adding the user (by id) to the named groups, which must exist. */
  addMemberStatement(userId: number, names: readonly string[]): D1PreparedStatement {
    return this.db
      .prepare(
        `INSERT INTO user_groups (user_id, group_id)
         SELECT ?1, id FROM groups WHERE name IN (SELECT value FROM json_each(?2))
         ON CONFLICT (user_id, group_id) DO NOTHING`,
      )
      .bind(userId, JSON.stringify(names))
  }

  /** A statement removing the user (by id) from the named groups. */
  removeMemberStatement(userId: number, names: readonly string[]): D1PreparedStatement {
    return this.db
      .prepare(
        `DELETE FROM user_groups WHERE user_id = ?1
           AND group_id IN (SELECT id FROM groups WHERE name IN (SELECT value FROM json_each(?2)))`,
      )
      .bind(userId, JSON.stringify(names))
  }

  /**
   * A statement adding the user found by `username` to the named groups (which must exist): for
   * the Django import, whose new users have no id before their batch runs.
   */
  addByUsernameStatement(username: string, names: readonly string[]): D1PreparedStatement {
    return this.db
      .prepare(
        `INSERT INTO user_groups (user_id, group_id)
         SELECT users.id, groups.id FROM users, groups
         WHERE users.username = ?1 AND groups.name IN (SELECT value FROM json_each(?2))
         ON CONFLICT (user_id, group_id) DO NOTHING`,
      )
      .bind(username, JSON.stringify(names))
  }

  /** A statement removing the user found by `username` from every group. */
  clearStatement(username: string): D1PreparedStatement {
    return this.db
      .prepare('DELETE FROM user_groups WHERE user_id = (SELECT id FROM users WHERE username = ?1)')
      .bind(username)
  }
}
