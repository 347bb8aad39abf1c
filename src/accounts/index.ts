/**
 * Accounts: Django's users (D1 `users`), their passwords (hashers, validators), the Django import,
 * the audit log, and the service through which every change to a user goes.
 */
import { SessionIndex } from '../auth/session-index'
import { SessionStore } from '../session'
import type { RecentRevocations } from '../session/cache'
import { tokenSigner } from '../tokens/record'
import { TokenRepository } from '../tokens/repository'
import { TokenStore } from '../tokens/store'
import type { HmacSigner } from '../utils/crypto'
import { EventLog } from './events'
import type { Hashers } from './hashers'
import { Accounts } from './service'
import { UserRepository } from './users'

export { type Actor, type AuditEvent, CLI_ACTOR, EventLog, type EventType } from './events'
export {
  Accounts,
  type Applied,
  type Change,
  type Flags,
  type Revocation,
  type TokenInfo,
  tokenInfo,
} from './service'
export { type NewUser, toSnapshot, UserRepository, type UserRow } from './users'

/** What `createAccounts` builds the service over. */
export interface AccountsBindings {
  db: D1Database
  kv: KVNamespace
  /** Seals session records (`recordSigner`). */
  records: HmacSigner
  hashers: Hashers
  /** SECRET_KEY first, then SECRET_KEY_FALLBACKS. */
  secrets: readonly string[]
  now: () => number
  /** Where audit events' log lines go. Default `console.log`. */
  log?: (line: string) => void
  /** Told of every user whose sessions end or change (the session cache's check). */
  revocations?: RecentRevocations
}

/** The accounts service over these bindings, with its repositories. */
export function createAccounts(bindings: AccountsBindings): Accounts {
  return new Accounts({
    db: bindings.db,
    users: new UserRepository(bindings.db),
    index: new SessionIndex(bindings.db),
    events: new EventLog(bindings.db, bindings.now, bindings.log),
    store: new SessionStore(bindings.kv, bindings.records, bindings.now),
    tokens: new TokenRepository(bindings.db),
    tokenStore: new TokenStore(bindings.kv, tokenSigner(bindings.secrets), bindings.now),
    revocations: bindings.revocations,
    hashers: bindings.hashers,
    secrets: bindings.secrets,
    now: bindings.now,
  })
}
