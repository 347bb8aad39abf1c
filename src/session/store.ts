/**
 * The KV session store: one record per session under `session:<sha256 hex of the key>`.
 */
import { kvKeyFor } from './key'
import { parseRecord, type SessionRecord } from './record'

/** KV refuses an `expirationTtl` under 60 seconds. */
export const KV_MIN_TTL = 60

/** Reads, writes and deletes session records; `now` is injectable so tests can move time. */
export class SessionStore {
  constructor(
    private readonly kv: KVNamespace,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The live record of a session key, or null when there is none, it is malformed, or it has
   * expired. Expiry is checked here because KV deletes expired records only eventually.
   */
  async load(sessionKey: string): Promise<SessionRecord | null> {
    return this.loadByKvKey(await kvKeyFor(sessionKey))
  }

  /** As `load`, by KV key (for code that holds the index, never the cookie value). */
  async loadByKvKey(kvKey: string): Promise<SessionRecord | null> {
    const record = parseRecord(await this.kv.get(kvKey))
    if (!record || record.expiresAt <= this.now()) return null
    return record
  }

  /**
   * Writes a record with a KV TTL that ends it at `expiresAt` (never under KV's 60 s minimum;
   * the read-time check above ends it on time regardless).
   */
  async save(kvKey: string, record: SessionRecord): Promise<void> {
    const seconds = Math.ceil((record.expiresAt - this.now()) / 1000)
    await this.kv.put(kvKey, JSON.stringify(record), {
      expirationTtl: Math.max(KV_MIN_TTL, seconds),
    })
  }

  /** Deletes a record; deleting a missing one is not an error. */
  async delete(kvKey: string): Promise<void> {
    await this.kv.delete(kvKey)
  }
}
