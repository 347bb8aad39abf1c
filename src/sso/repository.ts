/**
 * Identities at identity providers (`user_identities`) and the sessions signed in through them
 * (`sso_sessions`). Every query about those tables lives here, bound. Identities change only
 * through the accounts service (src/sso/service.ts).
 */

/** A row of `user_identities`. */
export interface IdentityRow {
  id: string
  user_id: number
  provider: string
  subject: string
  email: string
  created_at: string
  last_used: string | null
}

const COLUMNS = 'id, user_id, provider, subject, email, created_at, last_used'

/** The provider session a sign-in came from, kept with the session for back-channel logout. */
export interface FederatedSession {
  provider: string
  subject: string
  /** The provider's session id (`sid`), when its ID token had one. */
  sid: string | null
}

/** D1 access to `user_identities` and `sso_sessions`. */
export class IdentityRepository {
  constructor(private readonly db: D1Database) {}

  /** The identity `subject` at `provider`, or null. */
  async find(provider: string, subject: string): Promise<IdentityRow | null> {
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM user_identities WHERE provider = ?1 AND subject = ?2`)
      .bind(provider, subject)
      .first<IdentityRow>()
  }

  /** The user's identities, oldest first. */
  async forUser(userId: number): Promise<IdentityRow[]> {
    const { results } = await this.db
      .prepare(`SELECT ${COLUMNS} FROM user_identities WHERE user_id = ?1 ORDER BY created_at, id`)
      .bind(userId)
      .all<IdentityRow>()
    return results
  }

  insertStatement(row: IdentityRow): D1PreparedStatement {
    return this.db
      .prepare(`INSERT INTO user_identities (${COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`)
      .bind(
        row.id,
        row.user_id,
        row.provider,
        row.subject,
        row.email,
        row.created_at,
        row.last_used,
      )
  }

  deleteStatement(userId: number, id: string): D1PreparedStatement {
    return this.db
      .prepare('DELETE FROM user_identities WHERE id = ?1 AND user_id = ?2')
      .bind(id, userId)
  }

  /** Records a sign-in with the identity: when, and the e-mail the provider gave. */
  async touch(id: string, email: string, at: string): Promise<void> {
    await this.db
      .prepare('UPDATE user_identities SET email = ?2, last_used = ?3 WHERE id = ?1')
      .bind(id, email, at)
      .run()
  }

  /**
   * A statement that ties the session (its public id) to the provider session it came from. Only
   * while the session's index row exists: a login that was refused wrote none.
   */
  bindSessionStatement(sessionId: string, from: FederatedSession): D1PreparedStatement {
    return this.db
      .prepare(
        `INSERT INTO sso_sessions (session_id, provider, subject, sid)
         SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM user_sessions WHERE id = ?1)
         ON CONFLICT (session_id) DO UPDATE SET provider = ?2, subject = ?3, sid = ?4`,
      )
      .bind(sessionId, from.provider, from.subject, from.sid)
  }

  /**
   * The public ids of the sessions a back-channel logout names: those of `subject`, or of `sid`,
   * or both when both are given (OpenID Connect Back-Channel Logout 1.0, section 2.4).
   */
  async sessionsOf(
    provider: string,
    subject: string | null,
    sid: string | null,
  ): Promise<string[]> {
    const { results } = await this.db
      .prepare(
        `SELECT session_id FROM sso_sessions WHERE provider = ?1
           AND (?2 IS NULL OR subject = ?2) AND (?3 IS NULL OR sid = ?3)`,
      )
      .bind(provider, subject, sid)
      .all<{ session_id: string }>()
    return results.map((row) => row.session_id)
  }
}
