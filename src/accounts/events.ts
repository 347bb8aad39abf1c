/**
 * The audit log: every security event is a row of `auth_events` and one JSON log line (so it
 * reaches Workers Logs and `wrangler tail` even when D1 does not answer). Passwords, codes,
 * tokens and session keys never appear in an event: `detail` carries only what a reviewer needs
 * (an attempted username, a reason, the names of changed flags). Every query about
 * `auth_events` lives here, bound.
 */

/** The kinds of event, as stored in `type`. */
export type EventType =
  | 'login'
  | 'login_failed'
  | 'login_throttled'
  | 'logout'
  | 'logout_everywhere'
  | 'password_changed'
  | 'password_reset_requested'
  | 'password_reset'
  | 'session_revoked'
  | 'user_created'
  | 'user_changed'
  | 'user_deactivated'
  | 'user_deleted'
  | 'user_imported'
  | 'email_verified'
  | 'email_verification_sent'
  | 'signup'
  | 'mfa_enabled'
  | 'mfa_disabled'
  | 'mfa_failed'
  | 'passkey_added'
  | 'passkey_removed'
  | 'sso_login'
  | 'sso_linked'
  | 'sso_unlinked'
  | 'sso_logout'
  | 'token_created'
  | 'token_revoked'

/** Who caused an event: the request's client, or an operator at the CLI. */
export interface Actor {
  /** The client's address (see `clientIpOf`); null from the CLI. */
  ip: string | null
  userAgent: string
  /** The public id of the session the request came with, if any. */
  session: string | null
}

/** The actor of the user CLI. */
export const CLI_ACTOR: Actor = { ip: null, userAgent: 'sessiongate-cli', session: null }

/** An event about to be recorded. */
export interface AuditEvent {
  type: EventType
  /** The user it concerns; null when there is none (a failed login for an unknown username). */
  user: { id: number; username: string } | null
  /** Small, secret-free facts about the event. */
  detail?: Record<string, unknown>
}

/** A stored event. */
export interface EventRow {
  id: number
  at: string
  type: EventType
  user_id: number | null
  username: string
  ip: string | null
  user_agent: string
  session: string | null
  detail: string
}

/** Longest user agent kept, as for sessions. */
const USER_AGENT_MAX = 512
const COLUMNS = 'id, at, type, user_id, username, ip, user_agent, session, detail'

/** D1 access to `auth_events`, and the log line of each event. */
export class EventLog {
  /**
   * @param log where each event's JSON line goes. Default `console.log` (Workers Logs, `wrangler
   *   tail`); the CLI, whose stdout carries data, passes its own.
   */
  constructor(
    private readonly db: D1Database,
    private readonly now: () => number = Date.now,
    private readonly log: (line: string) => void = console.log,
  ) {}

  /**
   * Records an event after the change it describes took effect: its JSON log line first, then
   * its row. A failure to store the row is logged, never thrown: the change has happened, and
   * the log line is already out.
   */
  async record(event: AuditEvent, actor: Actor): Promise<void> {
    const at = new Date(this.now()).toISOString()
    const detail = JSON.stringify(event.detail ?? {})
    this.log(
      JSON.stringify({
        event: event.type,
        at,
        user_id: event.user?.id ?? null,
        username: event.user?.username ?? '',
        ip: actor.ip,
        session: actor.session,
        detail: event.detail ?? {},
      }),
    )
    try {
      await this.db
        .prepare(
          `INSERT INTO auth_events (at, type, user_id, username, ip, user_agent, session, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
        )
        .bind(
          at,
          event.type,
          event.user?.id ?? null,
          event.user?.username ?? '',
          actor.ip,
          actor.userAgent.slice(0, USER_AGENT_MAX),
          actor.session,
          detail,
        )
        .run()
    } catch (error) {
      console.error('Storing an audit event failed', event.type, error)
    }
  }

  /** A user's events, newest first: at most `limit`, with ids below `before` when given. */
  async forUser(userId: number, limit: number, before: number | null): Promise<EventRow[]> {
    const { results } = await this.db
      .prepare(
        `SELECT ${COLUMNS} FROM auth_events WHERE user_id = ?1 AND id < ?2
         ORDER BY id DESC LIMIT ?3`,
      )
      .bind(userId, before ?? Number.MAX_SAFE_INTEGER, limit)
      .all<EventRow>()
    return results
  }

  /** Every user's events (or those naming `username`), newest first, at most `limit`. */
  async latest(limit: number, username: string | null = null): Promise<EventRow[]> {
    const { results } = await this.db
      .prepare(
        `SELECT ${COLUMNS} FROM auth_events WHERE ?1 IS NULL OR username = ?1
         ORDER BY id DESC LIMIT ?2`,
      )
      .bind(username, limit)
      .all<EventRow>()
    return results
  }

  /** Deletes events older than `before` (ms); returns how many went. */
  async prune(before: number): Promise<number> {
    const result = await this.db
      .prepare('DELETE FROM auth_events WHERE at < ?1')
      .bind(new Date(before).toISOString())
      .run()
    return result.meta.changes
  }
}
