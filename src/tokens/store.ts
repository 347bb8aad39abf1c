/**
 * The KV token store: one sealed record per token under `token:<sha256 hex of the key>`.
 */
import { expirationTtl } from '../session/store'
import type { HmacSigner } from '../utils/crypto'
import { openTokenRecord, sealTokenRecord, type TokenRecord } from './record'

/** Reads, writes and deletes token records; `now` is injectable so tests can move time. */
export class TokenStore {
  constructor(
    private readonly kv: KVNamespace,
    private readonly signer: HmacSigner,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether records can be sealed here (there is a SECRET_KEY). */
  get canSeal(): boolean {
    return this.signer.canSign
  }

  /**
   * The live record under a KV key, or null when there is none, it is unsealed or malformed, or
   * it has expired (KV deletes expired records only eventually).
   */
  async load(kvKey: string): Promise<TokenRecord | null> {
    const record = await openTokenRecord(this.signer, kvKey, await this.kv.get(kvKey))
    if (!record || (record.expiresAt !== null && record.expiresAt <= this.now())) return null
    return record
  }

  /**
   * Writes a sealed record; one with an expiry gets a KV TTL that ends it then (never under KV's
   * 60 s minimum; the read-time check ends it on time regardless), one without lives until
   * revoked.
   */
  async save(kvKey: string, record: TokenRecord): Promise<void> {
    const text = await sealTokenRecord(this.signer, kvKey, record)
    if (record.expiresAt === null) {
      await this.kv.put(kvKey, text)
      return
    }
    await this.kv.put(kvKey, text, { expirationTtl: expirationTtl(record.expiresAt, this.now()) })
  }

  /** Deletes a record; deleting a missing one is not an error. */
  async delete(kvKey: string): Promise<void> {
    await this.kv.delete(kvKey)
  }
}
