/**
 * D1 access to a user's second factors: `mfa_totp`, `mfa_recovery_codes`, `webauthn_users` and
 * `passkeys`. Every query about those tables lives here, bound. Changes are statements, so the
 * accounts service runs them in its batch and can undo them (src/mfa/service.ts).
 */

/** The second-factor methods a sign-in may offer, in the order they are listed. */
export type SecondFactorMethod = 'totp' | 'recovery_code' | 'passkey'

/** How many factors of each kind a user has, as one query reads them. */
export interface FactorCounts {
  /** 1 when an authenticator app is confirmed. */
  totp: number
  passkeys: number
  /** Recovery codes not used yet. */
  recovery_codes: number
}

/** A row of `mfa_totp`. */
export interface TotpRow {
  user_id: number
  secret: string
  confirmed: number
  last_step: number | null
  created_at: string
}

/** A row of `mfa_recovery_codes`. */
export interface RecoveryCodeRow {
  id: number
  user_id: number
  code_hash: string
  created_at: string
  used_at: string | null
}

/** A row of `passkeys`. */
export interface PasskeyRow {
  id: string
  user_id: number
  credential_id: string
  public_key: string
  sign_count: number
  transports: string
  name: string
  created_at: string
  last_used: string | null
}

/** Everything stored about a user's factors, to undo a change that removes them. */
export interface StoredFactors {
  totp: TotpRow | null
  codes: RecoveryCodeRow[]
  passkeys: PasskeyRow[]
}

const COUNTS = `
  (SELECT count(*) FROM mfa_totp WHERE user_id = users.id AND confirmed = 1) AS totp,
  (SELECT count(*) FROM passkeys WHERE user_id = users.id) AS passkeys,
  (SELECT count(*) FROM mfa_recovery_codes WHERE user_id = users.id AND used_at IS NULL)
    AS recovery_codes`

/**
 * The methods a sign-in by this user must go through, or none: an authenticator app or a passkey
 * makes a second factor; recovery codes stand in for either, and alone are no factor (they go
 * with the last one).
 */
export function secondFactorMethods(counts: FactorCounts | null | undefined): SecondFactorMethod[] {
  if (!counts || (counts.totp === 0 && counts.passkeys === 0)) return []
  const methods: SecondFactorMethod[] = []
  if (counts.totp > 0) methods.push('totp')
  if (counts.recovery_codes > 0) methods.push('recovery_code')
  if (counts.passkeys > 0) methods.push('passkey')
  return methods
}

/** D1 access to the second-factor tables. */
export class MfaRepository {
  constructor(private readonly db: D1Database) {}

  /** The factor counts of the user named `username`, to read in the sign-in's own batch. */
  countsByUsernameStatement(username: string): D1PreparedStatement {
    return this.db.prepare(`SELECT ${COUNTS} FROM users WHERE username = ?1`).bind(username)
  }

  /** The factor counts of a user (zeros for a user with none). */
  async counts(userId: number): Promise<FactorCounts> {
    const row = await this.db
      .prepare(`SELECT ${COUNTS} FROM users WHERE id = ?1`)
      .bind(userId)
      .first<FactorCounts>()
    return row ?? { totp: 0, passkeys: 0, recovery_codes: 0 }
  }

  /** Everything stored about the user's factors. */
  async stored(userId: number): Promise<StoredFactors> {
    const [totp, codes, passkeys] = await this.db.batch([
      this.db.prepare('SELECT * FROM mfa_totp WHERE user_id = ?1').bind(userId),
      this.db
        .prepare('SELECT * FROM mfa_recovery_codes WHERE user_id = ?1 ORDER BY id')
        .bind(userId),
      this.db
        .prepare('SELECT * FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id')
        .bind(userId),
    ])
    return {
      totp: (totp?.results[0] as TotpRow | undefined) ?? null,
      codes: (codes?.results ?? []) as RecoveryCodeRow[],
      passkeys: (passkeys?.results ?? []) as PasskeyRow[],
    }
  }

  // The authenticator app.

  /** The user's authenticator app, confirmed or being set up, or null. */
  async totp(userId: number): Promise<TotpRow | null> {
    return this.db
      .prepare('SELECT * FROM mfa_totp WHERE user_id = ?1')
      .bind(userId)
      .first<TotpRow>()
  }

  /** Starts setting up an app: a new unconfirmed secret, unless one is confirmed (no change). */
  startTotpStatement(userId: number, sealed: string, now: string): D1PreparedStatement {
    return this.db
      .prepare(
        `INSERT INTO mfa_totp (user_id, secret, confirmed, last_step, created_at)
         VALUES (?1, ?2, 0, NULL, ?3)
         ON CONFLICT (user_id) DO UPDATE SET secret = ?2, last_step = NULL, created_at = ?3
           WHERE confirmed = 0`,
      )
      .bind(userId, sealed, now)
  }

  /** Confirms the app being set up with `secret`, its first code at `step`. */
  confirmTotpStatement(userId: number, sealed: string, step: number): D1PreparedStatement {
    return this.db
      .prepare(
        `UPDATE mfa_totp SET confirmed = 1, last_step = ?3
         WHERE user_id = ?1 AND secret = ?2 AND confirmed = 0`,
      )
      .bind(userId, sealed, step)
  }

  /**
   * Records that the code of `step` was used, only if no code of that step or a later one was:
   * the one atomic step that makes a code single-use, even for two requests racing with it.
   * Optionally re-seals the secret (opened with an old key). Returns whether it was recorded.
   */
  async useTotpStep(userId: number, step: number, resealed: string | null): Promise<boolean> {
    const result = await this.db
      .prepare(
        `UPDATE mfa_totp SET last_step = ?2, secret = coalesce(?3, secret)
         WHERE user_id = ?1 AND confirmed = 1 AND (last_step IS NULL OR last_step < ?2)`,
      )
      .bind(userId, step, resealed)
      .run()
    return result.meta.changes === 1
  }

  /** Removes the user's authenticator app. */
  deleteTotpStatement(userId: number): D1PreparedStatement {
    return this.db.prepare('DELETE FROM mfa_totp WHERE user_id = ?1').bind(userId)
  }

  /** Puts a removed app row back (undoing a removal). */
  restoreTotpStatement(row: TotpRow): D1PreparedStatement {
    return this.db
      .prepare(
        `INSERT OR REPLACE INTO mfa_totp (user_id, secret, confirmed, last_step, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)`,
      )
      .bind(row.user_id, row.secret, row.confirmed, row.last_step, row.created_at)
  }

  /** Undoes `confirmTotpStatement`. */
  unconfirmTotpStatement(userId: number): D1PreparedStatement {
    return this.db
      .prepare('UPDATE mfa_totp SET confirmed = 0, last_step = NULL WHERE user_id = ?1')
      .bind(userId)
  }

  // Recovery codes.

  /** Statements replacing the user's codes with these hashes. */
  replaceCodesStatements(userId: number, hashes: string[], now: string): D1PreparedStatement[] {
    return [
      this.deleteCodesStatement(userId),
      this.db
        .prepare(
          `INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at)
           SELECT ?1, value, ?3 FROM json_each(?2)`,
        )
        .bind(userId, JSON.stringify(hashes), now),
    ]
  }

  /** Removes every recovery code of the user. */
  deleteCodesStatement(userId: number): D1PreparedStatement {
    return this.db.prepare('DELETE FROM mfa_recovery_codes WHERE user_id = ?1').bind(userId)
  }

  /** Statements putting these code rows back as they were (undoing a replacement or removal). */
  restoreCodesStatements(userId: number, rows: RecoveryCodeRow[]): D1PreparedStatement[] {
    return [
      this.deleteCodesStatement(userId),
      this.db
        .prepare(
          `INSERT INTO mfa_recovery_codes (id, user_id, code_hash, created_at, used_at)
           SELECT json_extract(value, '$.id'), json_extract(value, '$.user_id'),
             json_extract(value, '$.code_hash'), json_extract(value, '$.created_at'),
             json_extract(value, '$.used_at')
           FROM json_each(?1)`,
        )
        .bind(JSON.stringify(rows)),
    ]
  }

  /** Uses up the unused code with this hash; returns whether there was one. */
  async useCode(userId: number, hash: string, now: string): Promise<boolean> {
    const result = await this.db
      .prepare(
        `UPDATE mfa_recovery_codes SET used_at = ?3
         WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL`,
      )
      .bind(userId, hash, now)
      .run()
    return result.meta.changes === 1
  }

  // Passkeys.

  /** The user's WebAuthn user handle, made (random) and stored on first use. */
  async userHandle(userId: number, fresh: () => string): Promise<string> {
    const [, row] = await this.db.batch([
      this.db
        .prepare('INSERT OR IGNORE INTO webauthn_users (user_id, handle) VALUES (?1, ?2)')
        .bind(userId, fresh()),
      this.db.prepare('SELECT handle FROM webauthn_users WHERE user_id = ?1').bind(userId),
    ])
    const handle = (row?.results[0] as { handle: string } | undefined)?.handle
    if (!handle) throw new Error('webauthn_users: no handle after insert')
    return handle
  }

  /** The user's passkeys, oldest first. */
  async passkeys(userId: number): Promise<PasskeyRow[]> {
    const { results } = await this.db
      .prepare('SELECT * FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id')
      .bind(userId)
      .all<PasskeyRow>()
    return results
  }

  /** The passkey with this WebAuthn credential id, and its user's handle; or null. */
  async passkeyByCredential(
    credentialId: string,
  ): Promise<(PasskeyRow & { handle: string | null }) | null> {
    return this.db
      .prepare(
        `SELECT passkeys.*, webauthn_users.handle FROM passkeys
         LEFT JOIN webauthn_users ON webauthn_users.user_id = passkeys.user_id
         WHERE credential_id = ?1`,
      )
      .bind(credentialId)
      .first<PasskeyRow & { handle: string | null }>()
  }

  /** Stores a passkey (or puts a removed one back). */
  insertPasskeyStatement(row: PasskeyRow): D1PreparedStatement {
    return this.db
      .prepare(
        `INSERT INTO passkeys (id, user_id, credential_id, public_key, sign_count, transports,
           name, created_at, last_used)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
      )
      .bind(
        row.id,
        row.user_id,
        row.credential_id,
        row.public_key,
        row.sign_count,
        row.transports,
        row.name,
        row.created_at,
        row.last_used,
      )
  }

  /** Removes one passkey of the user. */
  deletePasskeyStatement(userId: number, id: string): D1PreparedStatement {
    return this.db.prepare('DELETE FROM passkeys WHERE id = ?1 AND user_id = ?2').bind(id, userId)
  }

  /** Removes every passkey of the user. */
  deletePasskeysStatement(userId: number): D1PreparedStatement {
    return this.db.prepare('DELETE FROM passkeys WHERE user_id = ?1').bind(userId)
  }

  /**
   * Records a use of a passkey: its new signature counter, only if the counter has not moved
   * since it was read (two uses racing with one counter value cannot both count).
   */
  async usePasskey(row: PasskeyRow, signCount: number, now: string): Promise<boolean> {
    const result = await this.db
      .prepare(
        `UPDATE passkeys SET sign_count = ?2, last_used = ?3
         WHERE id = ?1 AND sign_count = ?4`,
      )
      .bind(row.id, signCount, now, row.sign_count)
      .run()
    return result.meta.changes === 1
  }
}
