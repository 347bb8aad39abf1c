/**
 * The API tokens of each user in D1 (`api_tokens`): the list behind `GET /auth/tokens` and the
 * index through which the accounts service finds a user's token records when the user changes.
 * The key itself is never stored; `kv_key` holds its SHA-256. Every query about `api_tokens`
 * lives here, bound.
 */

export interface TokenRow {
  id: string
  user_id: number
  name: string
  kv_key: string
  created_at: number
  /** null: never expires. */
  expires_at: number | null
  /** null: never used. */
  last_used: number | null
}

const COLUMNS = 'id, user_id, name, kv_key, created_at, expires_at, last_used'

/**
 * Tokens a user may hold at once. Like the session limit, it keeps whole-user operations
 * (deactivation deletes every record, a flag change rewrites every one) inside a Worker's 1,000
 * subrequests per request.
 */
export const MAX_TOKENS_PER_USER = 100

/** D1 access to `api_tokens`. */
export class TokenRepository {
  constructor(private readonly db: D1Database) {}

  /**
   * Records a new token, only while the user is active and under `MAX_TOKENS_PER_USER` live
   * tokens: a token made while a deactivation runs then has no row, and is never written to KV.
   * Returns whether the row was written.
   */
  async insert(row: TokenRow, now: number): Promise<boolean> {
    const result = await this.db
      .prepare(
        `INSERT INTO api_tokens (${COLUMNS})
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, NULL
         WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2 AND is_active = 1)
           AND (SELECT count(*) FROM api_tokens
                WHERE user_id = ?2 AND (expires_at IS NULL OR expires_at > ?7)) < ?8`,
      )
      .bind(
        row.id,
        row.user_id,
        row.name,
        row.kv_key,
        row.created_at,
        row.expires_at,
        now,
        MAX_TOKENS_PER_USER,
      )
      .run()
    return result.meta.changes === 1
  }

  /** The user's tokens that have not expired, newest first. */
  async listForUser(userId: number, now: number): Promise<TokenRow[]> {
    const { results } = await this.db
      .prepare(
        `SELECT ${COLUMNS} FROM api_tokens
         WHERE user_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)
         ORDER BY created_at DESC, id DESC`,
      )
      .bind(userId, now)
      .all<TokenRow>()
    return results
  }

  /** Every token row of the user, expired ones too (their records may still be in KV). */
  async listAll(userId: number): Promise<TokenRow[]> {
    const { results } = await this.db
      .prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE user_id = ?1`)
      .bind(userId)
      .all<TokenRow>()
    return results
  }

  /** The row with this id if it belongs to the user, else null. */
  async getForUser(id: string, userId: number): Promise<TokenRow | null> {
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE id = ?1 AND user_id = ?2`)
      .bind(id, userId)
      .first<TokenRow>()
  }

  /** Whether the token's row still exists (it was not revoked meanwhile). */
  async exists(id: string): Promise<boolean> {
    const row = await this.db
      .prepare('SELECT 1 AS found FROM api_tokens WHERE id = ?1')
      .bind(id)
      .first()
    return row !== null
  }

  /** A statement deleting exactly these rows, for a batch. */
  deleteStatement(ids: readonly string[]): D1PreparedStatement {
    return this.db
      .prepare('DELETE FROM api_tokens WHERE id IN (SELECT value FROM json_each(?1))')
      .bind(JSON.stringify(ids))
  }

  /** A statement putting a deleted row back as it was (to undo a revocation that failed). */
  restoreStatement(row: TokenRow): D1PreparedStatement {
    return this.db
      .prepare(`INSERT OR REPLACE INTO api_tokens (${COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`)
      .bind(
        row.id,
        row.user_id,
        row.name,
        row.kv_key,
        row.created_at,
        row.expires_at,
        row.last_used,
      )
  }

  /** Records use (at most once per 5 minutes per token and isolate: see `LastSeen`). */
  async touch(id: string, lastUsed: number): Promise<void> {
    await this.db
      .prepare('UPDATE api_tokens SET last_used = ?1 WHERE id = ?2')
      .bind(lastUsed, id)
      .run()
  }

  /** Deletes the rows of tokens that expired before `before` (the daily clean-up). */
  async pruneAll(before: number): Promise<number> {
    const result = await this.db
      .prepare('DELETE FROM api_tokens WHERE expires_at IS NOT NULL AND expires_at < ?1')
      .bind(before)
      .run()
    return result.meta.changes
  }
}
