/**
 * The per-user session index in D1 (`user_sessions`) and write-through revocation: every change
 * to a user rewrites or deletes that user's session records, found here, in the same request or
 * CLI call. So the snapshot in a session record never outlives a change to its user, and the hot
 * path stays at one KV read. Every query about `user_sessions` lives here, bound.
 */

import { USER_COLUMNS, type UserRow } from '../accounts/users'
import type { SessionStore, UserSnapshot } from '../session'

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
        `SELECT id, kv_key FROM user_sessions WHERE user_id = ?1
         ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?2`,
      )
      .bind(userId, keep)
  }

  /**
   * Ends the given sessions: their rows, then their KV records. Rows go first so that a request
   * still holding one of these sessions, which writes its record back after the delete below,
   * finds no row when it confirms the write (`confirmSaved`) and deletes the record itself.
   */
  async endListed(store: SessionStore, rows: { id: string; kv_key: string }[]): Promise<void> {
    if (rows.length === 0) return
    await this.db
      .prepare('DELETE FROM user_sessions WHERE id IN (SELECT value FROM json_each(?1))')
      .bind(JSON.stringify(rows.map((row) => row.id)))
      .run()
    await Promise.all(rows.map((row) => store.delete(row.kv_key)))
  }

  /**
   * The user of a session while its row still exists and points at `kvKey`: null once the
   * session was ended (its row deleted) or re-keyed by another request.
   */
  async userOf(id: string, kvKey: string): Promise<UserRow | null> {
    return this.db
      .prepare(
        `SELECT ${USER_COLUMNS} FROM users
         WHERE id = (SELECT user_id FROM user_sessions WHERE id = ?1 AND kv_key = ?2)`,
      )
      .bind(id, kvKey)
      .first<UserRow>()
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

  /**
   * Ends every session of a user except `keepId`: deletes their rows, then their KV records
   * (see `endListed`).
   * Returns how many ended. Costs one D1 query, one KV delete per session and one D1 delete.
   */
  async endSessions(
    store: SessionStore,
    userId: number,
    keepId: string | null = null,
  ): Promise<number> {
    const { results } = await this.db
      .prepare('SELECT id, kv_key FROM user_sessions WHERE user_id = ?1 AND id IS NOT ?2')
      .bind(userId, keepId)
      .all<{ id: string; kv_key: string }>()
    // Exactly the rows selected: a session that logs in meanwhile keeps its row along with its
    // record, rather than losing the row and so escaping every later revocation.
    await this.endListed(store, results)
    return results.length
  }

  /**
   * Rewrites the snapshot in every live session record of a user (after a staff or name
   * change), sealed again, so the hot path sees the change without reading D1.
   */
  async rewriteSnapshots(store: SessionStore, user: UserSnapshot): Promise<number> {
    // Every row, not only those that look live: a row's expiry may lag its record's.
    const { results: rows } = await this.db
      .prepare(`SELECT ${COLUMNS} FROM user_sessions WHERE user_id = ?1`)
      .bind(user.id)
      .all<SessionIndexRow>()
    let rewritten = 0
    await Promise.all(
      rows.map(async (row) => {
        const record = await store.loadByKvKey(row.kv_key)
        if (!record) return
        if (record.data._auth_user_id !== String(user.id)) return
        record.user = user
        await store.save(row.kv_key, record)
        rewritten++
      }),
    )
    return rewritten
  }
}
