/**
 * The KV session store: one sealed record per session under `session:<sha256 hex of the key>`.
 */
import type { HmacSigner } from '../utils/crypto'
import { openRecord, type SessionRecord, sealRecord } from './record'

/** KV refuses an `expirationTtl` under 60 seconds. */
const KV_MIN_TTL = 60

/**
 * The KV `expirationTtl` that ends a record at `expiresAt` (ms): never under KV's minimum; the
 * read-time check ends the record on time regardless.
 */
export function expirationTtl(expiresAt: number, now: number): number {
  return Math.max(KV_MIN_TTL, Math.ceil((expiresAt - now) / 1000))
}

/**
 * Reads, writes and deletes session records. The signer seals what is written and checks what
 * is read (see record.ts); `now` is injectable so tests can move time.
 */
export class SessionStore {
  constructor(
    private readonly kv: KVNamespace,
    private readonly signer: HmacSigner,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether records can be sealed here (there is a SECRET_KEY): without, none can be written. */
  get canSeal(): boolean {
    return this.signer.canSign
  }

  /**
   * The live record under a KV key (`kvKeyFor(sessionKey)`), or null when there is none, it is
   * malformed or unsealed, or it has expired. Expiry is checked here because KV deletes expired
   * records only eventually.
   */
  async load(kvKey: string): Promise<SessionRecord | null> {
    const record = await openRecord(this.signer, kvKey, await this.kv.get(kvKey))
    if (!record || record.expiresAt <= this.now()) return null
    return record
  }

  /**
   * Writes a sealed record with a KV TTL that ends it at `expiresAt` (never under KV's 60 s
   * minimum; the read-time check above ends it on time regardless).
   */
  async save(kvKey: string, record: SessionRecord): Promise<void> {
    await this.kv.put(kvKey, await sealRecord(this.signer, kvKey, record), {
      expirationTtl: expirationTtl(record.expiresAt, this.now()),
    })
  }

  /** Deletes a record; deleting a missing one is not an error. */
  async delete(kvKey: string): Promise<void> {
    await this.kv.delete(kvKey)
  }
}
