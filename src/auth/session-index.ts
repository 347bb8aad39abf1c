/**
 * The per-user session index in D1 (`user_sessions`): one row per logged-in session, the exact
 * list behind `/auth/sessions`, "log out everywhere" and write-through revocation (the accounts
 * service finds a user's session records here when the user changes). Every query about
 * `user_sessions` lives here, bound.
 */

export interface SessionIndexRow {
  id: string
  user_id: number
  kv_key: string
  created_at: number
  last_seen: number
  expires_at: number
  user_agent: string
}

const COLUMNS = 'id, user_id, kv_key, created_at, last_seen, expires_at, user_agent'

/**
 * Live sessions a user may hold; a login past it ends the oldest. It keeps every whole-user
 * operation inside a Worker's per-request limits: ending all sessions costs one KV delete per
 * session, rewriting snapshots two KV operations per session, and production allows 1,000
 * subrequests per request.
 */
export const MAX_SESSIONS_PER_USER = 100

/** Longest user agent kept: enough to recognise a browser, bounded so rows stay small. */
const USER_AGENT_MAX = 512

/** D1 access to `user_sessions`. */
export class SessionIndex {
  constructor(private readonly db: D1Database) {}

  /**
   * A statement that records (or re-points, after a key cycle) a session of a user. With
   * `whilePassword`, the row is written only while the user's stored hash is still that one, so
   * a login racing a password change cannot leave a session the change did not end (the
   * statement then changes no row).
   */
  upsertStatement(row: SessionIndexRow, whilePassword?: string): D1PreparedStatement {
    const condition =
      whilePassword === undefined
        ? 'WHERE true'
        : 'WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2 AND password = ?8)'
    const statement = this.db.prepare(
      `INSERT INTO user_sessions (id, user_id, kv_key, created_at, last_seen, expires_at, user_agent)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 ${condition}
       ON CONFLICT (id) DO UPDATE SET user_id = ?2, kv_key = ?3, created_at = ?4, last_seen = ?5,
         expires_at = ?6, user_agent = ?7`,
    )
    const values = [
      row.id,
      row.user_id,
      row.kv_key,
      row.created_at,
      row.last_seen,
      row.expires_at,
      row.user_agent.slice(0, USER_AGENT_MAX),
    ]
    return whilePassword === undefined
      ? statement.bind(...values)
      : statement.bind(...values, whilePassword)
  }

  /** The sessions of a user that have not expired, newest first. */
  async listForUser(userId: number, now: number): Promise<SessionIndexRow[]> {
    const { results } = await this.db
      .prepare(
        `SELECT ${COLUMNS} FROM user_sessions
         WHERE user_id = ?1 AND expires_at > ?2 ORDER BY created_at DESC`,
      )
      .bind(userId, now)
      .all<SessionIndexRow>()
    return results
  }

  /**
   * Deletes the rows of a user's sessions that expired before `before`. A row's `expires_at`
   * may lag its record's (the sliding refresh and saves move the record; the row follows at the
   * next `touch`, at most 5 minutes of activity later), so callers pass a cut-off one session
   * age plus that interval in the past: a row is never dropped while its record may live, which
   * would let the session escape revocation.
   */
  async prune(userId: number, before: number): Promise<void> {
    await this.db
      .prepare('DELETE FROM user_sessions WHERE user_id = ?1 AND expires_at < ?2')
      .bind(userId, before)
      .run()
  }

  /** `prune` for every user (the daily clean-up); returns how many rows went. */
  async pruneAll(before: number): Promise<number> {
    const result = await this.db
      .prepare('DELETE FROM user_sessions WHERE expires_at < ?1')
      .bind(before)
      .run()
    return result.meta.changes
  }

  /** The row with this public id if it belongs to the user, else null. */
  async getForUser(id: string, userId: number): Promise<SessionIndexRow | null> {
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM user_sessions WHERE id = ?1 AND user_id = ?2`)
      .bind(id, userId)
      .first<SessionIndexRow>()
  }

  /**
   * A statement listing a user's sessions beyond the newest `keep` (for `endOverflow`), to run
   * in the same batch as the login that may have pushed the user over the limit.
   */
  overflowStatement(userId: number, keep = MAX_SESSIONS_PER_USER): D1PreparedStatement {
    return this.db
      .prepare(
        `SELECT ${COLUMNS} FROM user_sessions WHERE user_id = ?1
         ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?2`,
      )
      .bind(userId, keep)
  }

  /**
   * The user id of a session while its row still exists and points at `kvKey`: null once the
   * session was ended (its row deleted) or re-keyed by another request.
   */
  async userIdOf(id: string, kvKey: string): Promise<number | null> {
    return this.db
      .prepare('SELECT user_id FROM user_sessions WHERE id = ?1 AND kv_key = ?2')
      .bind(id, kvKey)
      .first<number>('user_id')
  }

  /** Every row of a user's sessions but `keepId`'s (expired ones too: see `prune`). */
  async listAll(userId: number, keepId: string | null = null): Promise<SessionIndexRow[]> {
    const { results } = await this.db
      .prepare(`SELECT ${COLUMNS} FROM user_sessions WHERE user_id = ?1 AND id IS NOT ?2`)
      .bind(userId, keepId)
      .all<SessionIndexRow>()
    return results
  }

  /** The rows of these sessions (by public id) that still exist, whoever's they are. */
  async listByIds(ids: readonly string[]): Promise<SessionIndexRow[]> {
    if (ids.length === 0) return []
    const { results } = await this.db
      .prepare(`SELECT ${COLUMNS} FROM user_sessions WHERE id IN (SELECT value FROM json_each(?1))`)
      .bind(JSON.stringify(ids))
      .all<SessionIndexRow>()
    return results
  }

  /** A statement deleting exactly these rows (by public id), for a batch. */
  deleteStatement(ids: readonly string[]): D1PreparedStatement {
    return this.db
      .prepare('DELETE FROM user_sessions WHERE id IN (SELECT value FROM json_each(?1))')
      .bind(JSON.stringify(ids))
  }

  /** A statement putting a deleted row back as it was (to undo a revocation that failed). */
  restoreStatement(row: SessionIndexRow): D1PreparedStatement {
    return this.upsertStatement(row)
  }

  /** Forgets one session. */
  async remove(id: string): Promise<void> {
    await this.removeStatement(id).run()
  }

  /** `remove` as a statement, to run in a batch. */
  removeStatement(id: string): D1PreparedStatement {
    return this.db.prepare('DELETE FROM user_sessions WHERE id = ?1').bind(id)
  }

  /** Points a session's row at its new KV key after `cycleKey()`. */
  async repoint(id: string, kvKey: string, now: number, expiresAt: number): Promise<void> {
    await this.db
      .prepare(
        'UPDATE user_sessions SET kv_key = ?1, created_at = ?2, last_seen = ?2, expires_at = ?3 WHERE id = ?4',
      )
      .bind(kvKey, now, expiresAt, id)
      .run()
  }

  /** Records activity (at most once per 5 minutes per session: see `LastSeen`). */
  async touch(id: string, lastSeen: number, expiresAt: number): Promise<void> {
    await this.db
      .prepare(
        'UPDATE user_sessions SET last_seen = ?1, expires_at = max(expires_at, ?2) WHERE id = ?3',
      )
      .bind(lastSeen, expiresAt, id)
      .run()
  }
}
