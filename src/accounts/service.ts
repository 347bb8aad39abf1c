/**
 * The accounts service: the one way to change a user. Routes, the CLI, the Django import and the
 * sign-in flows call it; none of them orders the steps itself.
 *
 * Every change runs in the same order: write D1, then rewrite or end the user's live credentials
 * (the session records in KV, found through `user_sessions`), then record the audit event. So a
 * session's snapshot never outlives a change to its user, and the hot path can trust it with one
 * KV read (write-through revocation, docs/storage.md).
 *
 * Failures (KV or D1 refusing mid-way) never leave a change half made: when the credentials
 * cannot be brought in line, the D1 write is undone, the index rows of the sessions still alive
 * are put back, and the caller gets the 503. Sessions that were ended stay ended: that errs on
 * the safe side. Only then, with the change made, is the event recorded.
 */

import type { SessionIndex, SessionIndexRow } from '../auth/session-index'
import { NOT_AUTHENTICATED, ValidationError } from '../errors'
import type { SessionStore, UserSnapshot } from '../session'
import type { RecentRevocations } from '../session/cache'
import { generatePublicId } from '../session/key'
import { StorageUnavailable } from '../storage'
import { generateTokenKey, tokenKvKey } from '../tokens/key'
import type { TokenRecord } from '../tokens/record'
import { MAX_TOKENS_PER_USER, type TokenRepository, type TokenRow } from '../tokens/repository'
import type { TokenStore } from '../tokens/store'
import type { Actor, AuditEvent, EventLog } from './events'
import { GroupRepository, groupNameProblem } from './groups'
import type { Hashers } from './hashers'
import { type ImportedUser, type ImportOptions, type ImportResult, importUsers } from './import'
import { type NewUser, toSnapshot, type UserRepository, type UserRow } from './users'

/** What the user's live credentials must do after a change. */
export type Revocation =
  /** Nothing depends on what changed (a login time, an activation). */
  | 'none'
  /** The snapshot changed (flags, names): rewrite it in every live session. */
  | 'refresh'
  /** The password changed: end every session but the one kept. */
  | 'end-sessions'
  /** The user may no longer sign in (deactivated, deleted): end everything, API tokens too. */
  | 'end-all'

/** A change to one user, as the service applies it. */
export interface Change {
  /** The user as stored before the change. */
  before: UserRow
  /** Statements making the change, run in one D1 batch. */
  write: D1PreparedStatement[]
  /** Statements undoing it, should the credentials not follow. */
  undo: D1PreparedStatement[]
  revocation: Revocation
  /** With `end-sessions`: the public id of the session that stays (the one changing it). */
  keepSession?: string | null
  /** The event recorded once the change stands; none when null. */
  event: AuditEvent | null
}

/** What a change did. */
export interface Applied {
  /** The user as stored after the change; null once deleted. */
  user: UserRow | null
  /** Sessions whose snapshot was rewritten (`refresh`). */
  rewritten: number
  /** Sessions ended (`end-*`, or a `refresh` that could not rewrite them). */
  ended: number
}

const NOTHING = { rewritten: 0, ended: 0 }

/** Everything the service works with. */
export interface AccountsOptions {
  db: D1Database
  users: UserRepository
  index: SessionIndex
  events: EventLog
  store: SessionStore
  /** API tokens: their D1 rows and their sealed KV records. */
  tokens: TokenRepository
  tokenStore: TokenStore
  hashers: Hashers
  /** SECRET_KEY first, then SECRET_KEY_FALLBACKS. */
  secrets: readonly string[]
  now: () => number
  /** Told of every user whose sessions are ended or rewritten (the session cache's check). */
  revocations?: RecentRevocations
}

/** A token as `/auth/tokens` and the CLI show it: never the key. */
export interface TokenInfo {
  id: string
  name: string
  created: string
  expires: string | null
  last_used: string | null
}

/** The public form of a token row. */
export function tokenInfo(row: TokenRow): TokenInfo {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())
  return {
    id: row.id,
    name: row.name,
    created: new Date(row.created_at).toISOString(),
    expires: iso(row.expires_at),
    last_used: iso(row.last_used),
  }
}

/** KV takes one write per second per key: a delete right after a put of the same key may fail. */
const KV_WRITE_SPACING_MS = 1_000

/** A revocation that stopped part-way: what must be put back in D1 to undo it. */
class Unfinished extends Error {
  constructor(
    readonly restore: D1PreparedStatement[],
    override readonly cause: unknown,
  ) {
    super('revocation unfinished')
  }
}

/** The accounts service, over one set of bindings (one per isolate in the Worker, one per CLI run). */
export class Accounts {
  readonly db: D1Database
  readonly users: UserRepository
  readonly index: SessionIndex
  readonly events: EventLog
  readonly store: SessionStore
  readonly tokens: TokenRepository
  readonly tokenStore: TokenStore
  readonly hashers: Hashers
  readonly secrets: readonly string[]
  readonly now: () => number
  readonly #revocations: RecentRevocations | undefined

  constructor(options: AccountsOptions) {
    this.db = options.db
    this.users = options.users
    this.index = options.index
    this.events = options.events
    this.store = options.store
    this.tokens = options.tokens
    this.tokenStore = options.tokenStore
    this.#revocations = options.revocations
    this.hashers = options.hashers
    this.secrets = options.secrets
    this.now = options.now
  }

  /**
   * Applies one change: D1, then the credentials, then the event (see the module comment).
   * Throws `StorageUnavailable` (503) when it could not be made whole; the change is then undone.
   */
  async apply(change: Change, actor: Actor): Promise<Applied> {
    const { before } = change
    await this.db.batch(change.write)
    let revoked = NOTHING
    try {
      revoked = await this.#revoke(change)
    } catch (error) {
      const restore = error instanceof Unfinished ? error.restore : []
      try {
        await this.db.batch([...change.undo, ...restore])
      } catch (undoError) {
        console.error('Undoing an account change failed: the user may need attention', {
          user: before.id,
          error: undoError,
        })
      }
      console.error('An account change was undone', {
        user: before.id,
        error: error instanceof Unfinished ? error.cause : error,
      })
      throw new StorageUnavailable()
    }
    const user = await this.users.getById(before.id)
    if (change.event) await this.events.record(change.event, actor)
    return { user, ...revoked }
  }

  async #revoke(change: Change): Promise<typeof NOTHING> {
    switch (change.revocation) {
      case 'none':
        return NOTHING
      case 'end-sessions':
        return {
          rewritten: 0,
          ended: await this.#endSessions(change.before.id, change.keepSession ?? null),
        }
      case 'end-all': {
        const ended = await this.#endSessions(change.before.id, null)
        // Tokens outlive a password change (as DRF's), never the user's right to sign in.
        await this.#endTokens(change.before.id)
        return { rewritten: 0, ended }
      }
      case 'refresh':
        return this.#refresh(change.before.id)
    }
  }

  /**
   * Ends the user's sessions but `keepId`: their index rows first, then their records, so a
   * request still holding one, which writes its record back after this, finds no row when it
   * confirms the write (`confirmSaved`) and deletes the record itself. Exactly the rows read
   * here: a session that signs in meanwhile keeps its row along with its record.
   */
  async #endSessions(userId: number, keepId: string | null): Promise<number> {
    const rows = await this.index.listAll(userId, keepId)
    await this.#endListed(rows)
    return rows.length
  }

  async #endListed(rows: SessionIndexRow[]): Promise<void> {
    if (rows.length === 0) return
    for (const row of rows) this.#revocations?.note(row.user_id, this.now())
    await this.index.deleteStatement(rows.map((row) => row.id)).run()
    const results = await Promise.allSettled(rows.map((row) => this.store.delete(row.kv_key)))
    const failed = rows.filter((_, i) => results[i]?.status === 'rejected')
    if (failed.length > 0) {
      // The records still there must stay findable, or they would escape every revocation.
      const reason = results.find((result) => result.status === 'rejected')
      throw new Unfinished(
        failed.map((row) => this.index.restoreStatement(row)),
        (reason as PromiseRejectedResult).reason,
      )
    }
  }

  /**
   * Rewrites the snapshot in every live session record of the user, sealed again, so the hot
   * path sees the change at once. Should a rewrite fail, those sessions are ended instead; and
   * all of them are when there is no SECRET_KEY to seal with (a CLI run without one).
   */
  async #refresh(userId: number): Promise<typeof NOTHING> {
    const row = await this.users.getById(userId)
    if (!row) return NOTHING
    const user = toSnapshot(row)
    const rows = await this.index.listAll(userId)
    this.#revocations?.note(userId, this.now())
    if (!this.store.canSeal) {
      await this.#endListed(rows)
      await this.#endTokens(userId)
      return { rewritten: 0, ended: rows.length }
    }
    await this.#refreshTokens(user)
    const stale: SessionIndexRow[] = []
    let rewritten = 0
    await Promise.all(
      rows.map(async (index) => {
        try {
          // Every row, not only those that look live: a row's expiry may lag its record's.
          const record = await this.store.load(index.kv_key)
          if (!record || record.data._auth_user_id !== String(userId)) return
          record.user = user
          await this.store.save(index.kv_key, record)
          rewritten++
        } catch {
          stale.push(index)
        }
      }),
    )
    await this.#endListed(stale)
    return { rewritten, ended: stale.length }
  }

  /**
   * Ends every API token of the user: rows first, then records, as for sessions. Should a record
   * not go, the rows of those still in KV are put back (Unfinished), so a retry finds them.
   */
  async #endTokens(userId: number): Promise<void> {
    await this.#endTokenRows(await this.tokens.listAll(userId))
  }

  async #endTokenRows(rows: TokenRow[]): Promise<void> {
    if (rows.length === 0) return
    await this.tokens.deleteStatement(rows.map((row) => row.id)).run()
    const results = await Promise.allSettled(rows.map((row) => this.tokenStore.delete(row.kv_key)))
    const failed = rows.filter((_, i) => results[i]?.status === 'rejected')
    if (failed.length > 0) {
      const reason = results.find((result) => result.status === 'rejected')
      throw new Unfinished(
        failed.map((row) => this.tokens.restoreStatement(row)),
        (reason as PromiseRejectedResult).reason,
      )
    }
  }

  /**
   * Rewrites the snapshot in every token record of the user. A token revoked while this ran has
   * no row any more: its record, written back here, is deleted again. Tokens whose record cannot
   * be rewritten are ended.
   */
  async #refreshTokens(user: UserSnapshot): Promise<void> {
    const rows = await this.tokens.listAll(user.id)
    const stale: TokenRow[] = []
    await Promise.all(
      rows.map(async (row) => {
        try {
          const record = await this.tokenStore.load(row.kv_key)
          if (!record || record.userId !== user.id) return
          await this.tokenStore.save(row.kv_key, { ...record, user })
          if (!(await this.tokens.exists(row.id))) await this.#deleteLate(row.kv_key)
        } catch {
          stale.push(row)
        }
      }),
    )
    await this.#endTokenRows(stale)
  }

  /** Deletes a token record this call has just written, once KV takes another write to it. */
  async #deleteLate(kvKey: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, KV_WRITE_SPACING_MS))
    await this.tokenStore.delete(kvKey)
  }

  /**
   * Makes an API token for the user (DRF's `Token.objects.create`): a row in D1, then the sealed
   * record in KV, then `token_created`. Returns the row and the key, which is shown only now.
   * Throws 400 past `MAX_TOKENS_PER_USER`, 401 when the user is gone or inactive (a deactivation
   * that ran meanwhile included), 503 when KV refuses the record.
   */
  async createToken(
    user: { id: number },
    fields: { name: string; expiresIn: number | null },
    actor: Actor,
  ): Promise<{ token: TokenRow; key: string }> {
    const row = await this.users.getById(user.id)
    if (row?.is_active !== 1) throw NOT_AUTHENTICATED
    const key = generateTokenKey()
    const now = this.now()
    const token: TokenRow = {
      id: generatePublicId(),
      user_id: row.id,
      name: fields.name,
      kv_key: await tokenKvKey(key),
      created_at: now,
      expires_at: fields.expiresIn === null ? null : now + fields.expiresIn * 1000,
      last_used: null,
    }
    if (!(await this.tokens.insert(token, now))) {
      if ((await this.users.getById(user.id))?.is_active !== 1) throw NOT_AUTHENTICATED
      throw new ValidationError(`A user may hold at most ${MAX_TOKENS_PER_USER} tokens.`)
    }
    const record: TokenRecord = {
      v: 1,
      id: token.id,
      userId: row.id,
      createdAt: token.created_at,
      expiresAt: token.expires_at,
      user: toSnapshot(row),
    }
    try {
      await this.tokenStore.save(token.kv_key, record)
    } catch (error) {
      await this.tokens
        .deleteStatement([token.id])
        .run()
        .catch(() => undefined)
      throw await this.#unavailable(error)
    }
    // A deactivation that listed the user's tokens after this row was written ended it, maybe
    // before the record was there to delete: the record must not outlive its row.
    if (!(await this.tokens.exists(token.id))) {
      await this.#deleteLate(token.kv_key)
      throw NOT_AUTHENTICATED
    }
    await this.events.record(
      { type: 'token_created', user: row, detail: { token: token.id, name: token.name } },
      actor,
    )
    return { token, key }
  }

  /** Revokes one token of the user (`DELETE /auth/tokens/{id}`, the CLI): row, record, event. */
  async revokeToken(
    user: { id: number; username: string },
    token: TokenRow,
    actor: Actor,
  ): Promise<void> {
    await this.#endTokenRows([token]).catch(async (error) => {
      throw await this.#unavailable(error)
    })
    await this.events.record({ type: 'token_revoked', user, detail: { token: token.id } }, actor)
  }

  // The changes. Each is one call for its callers.

  /**
   * Creates a user (the password already hashed, or unusable). The event is `user_created`, or
   * `signup` for a user who signed themselves up.
   */
  async create(
    fields: NewUser,
    actor: Actor,
    options: { event?: 'user_created' | 'signup' } = {},
  ): Promise<UserRow> {
    const user = await this.users.create(fields)
    await this.events.record(
      { type: options.event ?? 'user_created', user, detail: flagsOf(user) },
      actor,
    )
    return user
  }

  /**
   * Marks the user's e-mail verified (a verification link followed). The snapshot carries
   * `email_verified`, so live sessions are rewritten. Nothing is written or recorded when it
   * already is.
   */
  async verifyEmail(before: UserRow, actor: Actor): Promise<Applied> {
    if (before.email_verified === 1) return { user: before, ...NOTHING }
    return this.apply(
      {
        before,
        write: [this.users.setEmailVerifiedStatement(before.id, true)],
        undo: [this.users.setEmailVerifiedStatement(before.id, false)],
        revocation: 'refresh',
        event: { type: 'email_verified', user: before, detail: { email: before.email } },
      },
      actor,
    )
  }

  /**
   * Stores a new password hash and ends the user's sessions, all of them, or all but
   * `keepSession` (the session of the user changing it, which the caller then re-keys: Django's
   * `update_session_auth_hash`).
   */
  async setPassword(
    before: UserRow,
    encoded: string,
    actor: Actor,
    options: { keepSession?: string | null; event?: 'password_changed' | 'password_reset' } = {},
  ): Promise<Applied> {
    return this.apply(
      {
        before,
        write: [this.users.setPasswordStatement(before.id, encoded)],
        undo: [this.users.restorePasswordStatement(before.id, encoded, before.password)],
        revocation: 'end-sessions',
        keepSession: options.keepSession ?? null,
        event: { type: options.event ?? 'password_changed', user: before },
      },
      actor,
    )
  }

  /**
   * Sets `is_active`, `is_staff` or `is_superuser`. Deactivating ends every credential; the
   * others rewrite the live snapshots, so the gateway's policy sees the change at once.
   */
  async setFlags(before: UserRow, flags: Partial<Flags>, actor: Actor): Promise<Applied> {
    const changed = (Object.keys(flags) as (keyof Flags)[]).filter(
      (flag) => flags[flag] !== undefined && (before[flag] === 1) !== flags[flag],
    )
    if (changed.length === 0) return { user: before, ...NOTHING }
    const detail = Object.fromEntries(changed.map((flag) => [flag, flags[flag]]))
    const deactivated = flags.is_active === false && before.is_active === 1
    return this.apply(
      {
        before,
        write: changed.map((flag) =>
          this.users.setFlagStatement(before.id, flag, flags[flag] as boolean),
        ),
        undo: changed.map((flag) =>
          this.users.setFlagStatement(before.id, flag, before[flag] === 1),
        ),
        revocation: deactivated ? 'end-all' : changed.includes('is_active') ? 'none' : 'refresh',
        event: { type: deactivated ? 'user_deactivated' : 'user_changed', user: before, detail },
      },
      actor,
    )
  }

  /**
   * Deletes a user. Deactivated first, and every credential ended: no sign-in can add a session
   * between the steps whose record would outlive the index rows (they go with the user).
   */
  async delete(before: UserRow, actor: Actor): Promise<number> {
    const { ended } = await this.apply(
      {
        before,
        write: [this.users.setFlagStatement(before.id, 'is_active', false)],
        undo: [this.users.setFlagStatement(before.id, 'is_active', before.is_active === 1)],
        revocation: 'end-all',
        event: null,
      },
      actor,
    )
    await this.users.delete(before.id)
    await this.events.record({ type: 'user_deleted', user: before }, actor)
    return ended
  }

  /**
   * Writes users read from a Django dump (see `importUsers`): new ones are created, existing
   * ones with `update` overwritten, their credentials ended, since a session must never outlive a
   * change to its user. One `user_imported` event per user written.
   */
  async importUsers(
    users: readonly ImportedUser[],
    options: ImportOptions,
    actor: Actor,
  ): Promise<ImportResult> {
    return importUsers(this.db, users, options, async (user, id, created) => {
      const ended = created ? 0 : await this.#endSessions(id, null)
      if (!created) await this.#endTokens(id)
      await this.events.record(
        {
          type: 'user_imported',
          user: { id, username: user.username },
          detail: { created, sessions_ended: ended },
        },
        actor,
      )
      return ended
    })
  }

  /** Ends every session of the user but `keepSession` ("log out everywhere", the CLI). */
  async endSessions(
    user: { id: number; username: string },
    actor: Actor,
    options: { keepSession?: string | null; event?: 'logout_everywhere' | 'session_revoked' } = {},
  ): Promise<number> {
    const ended = await this.#endSessions(user.id, options.keepSession ?? null).catch(
      async (error) => {
        throw await this.#unavailable(error)
      },
    )
    await this.events.record(
      { type: options.event ?? 'session_revoked', user, detail: { sessions: ended } },
      actor,
    )
    return ended
  }

  /**
   * Ends these sessions (a sign-in past the most sessions a user may hold ends the oldest);
   * should KV fail, their rows are put back and the caller gets the 503.
   */
  async endListed(rows: SessionIndexRow[]): Promise<void> {
    await this.#endListed(rows).catch(async (error) => {
      throw await this.#unavailable(error)
    })
  }

  /** Ends one session of the user (`DELETE /auth/sessions/{id}`). */
  async revokeSession(
    user: { id: number; username: string },
    row: SessionIndexRow,
    actor: Actor,
  ): Promise<void> {
    await this.endListed([row])
    await this.events.record({ type: 'session_revoked', user, detail: { session: row.id } }, actor)
  }

  /** A failed revocation that changed nothing else: put its rows back, then the 503. */
  async #unavailable(error: unknown): Promise<StorageUnavailable> {
    if (error instanceof Unfinished && error.restore.length > 0) {
      await this.db.batch(error.restore).catch((restoreError) => {
        console.error('Restoring session rows failed', restoreError)
      })
    }
    console.error('Ending sessions failed', error instanceof Unfinished ? error.cause : error)
    return new StorageUnavailable()
  }

  /**
   * Adds the user to `group` (created on first use, as Django's `Group.objects.get_or_create`)
   * or takes them out of it. Groups travel in the session snapshot, so live sessions are
   * rewritten and the gateway's policy sees the change at once. Nothing is written or recorded
   * when the user is already in (or out of) the group. Throws `ValidationError` for a bad name.
   */
  async setGroup(before: UserRow, group: string, member: boolean, actor: Actor): Promise<Applied> {
    const problem = groupNameProblem(group)
    if (problem) throw new ValidationError(problem)
    const current = JSON.parse(before.groups) as string[]
    if (current.includes(group) === member) return { user: before, ...NOTHING }
    const groups = new GroupRepository(this.db)
    const add = [groups.createStatement([group]), groups.addMemberStatement(before.id, [group])]
    const remove = [groups.removeMemberStatement(before.id, [group])]
    return this.apply(
      {
        before,
        write: member ? add : remove,
        // The group itself stays: other users may have joined it meanwhile.
        undo: member ? remove : add,
        revocation: 'refresh',
        event: {
          type: 'user_changed',
          user: before,
          detail: member ? { group_added: group } : { group_removed: group },
        },
      },
      actor,
    )
  }

  /**
   * Makes the user's groups exactly `names` (an identity provider's groups claim at each
   * sign-in): one change, live sessions rewritten. Nothing is written or recorded when they are
   * already those. Throws `ValidationError` for a bad name.
   */
  async setGroups(before: UserRow, names: readonly string[], actor: Actor): Promise<Applied> {
    const wanted = [...new Set(names)].sort()
    for (const name of wanted) {
      const problem = groupNameProblem(name)
      if (problem) throw new ValidationError(problem)
    }
    const current = JSON.parse(before.groups) as string[]
    const added = wanted.filter((name) => !current.includes(name))
    const removed = current.filter((name) => !wanted.includes(name))
    if (added.length === 0 && removed.length === 0) return { user: before, ...NOTHING }
    const groups = new GroupRepository(this.db)
    return this.apply(
      {
        before,
        write: [
          groups.createStatement(added),
          groups.addMemberStatement(before.id, added),
          groups.removeMemberStatement(before.id, removed),
        ],
        undo: [
          groups.removeMemberStatement(before.id, added),
          groups.addMemberStatement(before.id, removed),
        ],
        revocation: 'refresh',
        event: {
          type: 'user_changed',
          user: before,
          detail: { groups_added: added, groups_removed: removed },
        },
      },
      actor,
    )
  }
}

/** The flags a user has. */
export interface Flags {
  is_active: boolean
  is_staff: boolean
  is_superuser: boolean
}

function flagsOf(user: UserRow): Record<string, boolean> {
  return { is_staff: user.is_staff === 1, is_superuser: user.is_superuser === 1 }
}
