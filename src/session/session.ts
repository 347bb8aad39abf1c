/**
 * Django's `SessionBase` over a KV record: a dict with `modified`/`accessed` tracking, `flush()`,
 * `cycleKey()` and `setExpiry()`. It does no I/O itself: the middleware reads the record before the
 * route and writes or deletes it after, so a request costs at most one KV read and one KV write.
 */
import { generatePublicId, generateSessionKey } from './key'
import type { SessionRecord, UserSnapshot } from './record'

/** Django's key for a per-session expiry (seconds; 0 means "at browser close"). */
export const EXPIRY_KEY = '_session_expiry'

export interface SessionSettings {
  /** SESSION_COOKIE_AGE, in seconds. */
  age: number
  /** SESSION_EXPIRE_AT_BROWSER_CLOSE. */
  expireAtBrowserClose: boolean
  /** The clock, in ms since the epoch. */
  now: () => number
}

/** The session of one request: `c.var.session`. */
export class Session {
  /** True once the data changed: the middleware then saves it (Django's `modified`). */
  modified = false
  /** True once the data was read or written: the response then varies on Cookie. */
  accessed = false

  #key: string | null
  #loadedKvKey: string | null
  readonly #obsoleteKvKeys = new Set<string>()
  #data: Record<string, unknown>
  #id: string | null
  #createdAt: number
  #expiresAt: number | null
  #user: UserSnapshot | null
  #amr: string[] | null
  readonly #settings: SessionSettings

  /**
   * @param key the session key from the cookie, only when its record was found and live; a key
   *   without a record is never adopted (the next save issues a fresh one).
   * @param kvKey the KV key of that record.
   */
  constructor(
    settings: SessionSettings,
    key: string | null = null,
    kvKey: string | null = null,
    record: SessionRecord | null = null,
  ) {
    this.#settings = settings
    this.#key = record ? key : null
    this.#loadedKvKey = record ? kvKey : null
    this.#data = record ? { ...record.data } : {}
    // Generated on first use: most anonymous requests never need one.
    this.#id = record?.id ?? null
    this.#createdAt = record?.createdAt ?? settings.now()
    this.#expiresAt = record?.expiresAt ?? null
    this.#user = record?.user ?? null
    this.#amr = record?.amr ?? null
  }

  /** The session key the response carries, or null while nothing has been saved. */
  get key(): string | null {
    return this.#key
  }

  /** The public handle of this session (`/auth/sessions`). */
  get id(): string {
    this.#id ??= generatePublicId()
    return this.#id
  }

  /** When this key was issued (ms). */
  get createdAt(): number {
    return this.#createdAt
  }

  /** When the stored record ends (ms), or null when nothing is stored yet. */
  get expiresAt(): number | null {
    return this.#expiresAt
  }

  /** The KV key of the record read for this request, if any. */
  get loadedKvKey(): string | null {
    return this.#loadedKvKey
  }

  /** KV keys that saving must delete: records left behind by `cycleKey()` and `flush()`. */
  get obsoleteKvKeys(): ReadonlySet<string> {
    return this.#obsoleteKvKeys
  }

  /** No data at all: such a session is not stored, and its cookie is deleted. */
  get isEmpty(): boolean {
    return Object.keys(this.#data).length === 0
  }

  get(name: string): unknown {
    this.accessed = true
    return this.#data[name]
  }

  has(name: string): boolean {
    this.accessed = true
    return Object.hasOwn(this.#data, name)
  }

  set(name: string, value: unknown): void {
    this.accessed = true
    this.modified = true
    this.#data[name] = value
  }

  /** Removes a key; returns whether it was there (Django's `pop`). */
  delete(name: string): boolean {
    this.accessed = true
    if (!Object.hasOwn(this.#data, name)) return false
    delete this.#data[name]
    this.modified = true
    return true
  }

  /** A copy of the whole dict. */
  entries(): Record<string, unknown> {
    this.accessed = true
    return { ...this.#data }
  }

  /** Empties the data but keeps the key (Django's `clear`). */
  clear(): void {
    this.accessed = true
    this.modified = true
    this.#data = {}
    this.#user = null
    this.#amr = null
  }

  /**
   * Removes the data and the stored record, and forgets the key: the next save issues a new key
   * and a new public id (Django's `flush`, used by logout).
   */
  flush(): void {
    this.clear()
    this.#retireKey()
    this.#key = null
    this.#id = null
    this.#createdAt = this.#settings.now()
  }

  /** Tells the session that a retired record was already deleted, so saving skips it. */
  markDeleted(kvKey: string): void {
    this.#obsoleteKvKeys.delete(kvKey)
  }

  /**
   * Keeps the data under a new key and deletes the old record, so a key known before login is
   * worthless after it (session fixation; Django's `cycle_key`).
   */
  cycleKey(): void {
    this.accessed = true
    this.modified = true
    this.#retireKey()
    this.#key = generateSessionKey()
    this.#createdAt = this.#settings.now()
  }

  /**
   * Django's `set_expiry`: seconds of inactivity before the session ends; 0 ends it when the
   * browser closes; null restores SESSION_COOKIE_AGE and the browser-close setting.
   */
  setExpiry(seconds: number | null): void {
    if (seconds === null) {
      this.delete(EXPIRY_KEY)
      return
    }
    if (!Number.isSafeInteger(seconds) || seconds < 0) {
      throw new RangeError('setExpiry takes a whole number of seconds, 0, or null.')
    }
    this.set(EXPIRY_KEY, seconds)
  }

  /** Seconds a session lives without use (a browser-close session still ends server-side). */
  getExpiryAge(): number {
    const custom = this.#data[EXPIRY_KEY]
    return typeof custom === 'number' && custom > 0 ? custom : this.#settings.age
  }

  /** Whether the cookie should be a browser-session cookie (no Max-Age). */
  getExpireAtBrowserClose(): boolean {
    const custom = this.#data[EXPIRY_KEY]
    return typeof custom === 'number' ? custom === 0 : this.#settings.expireAtBrowserClose
  }

  /** The user snapshot stored beside the data, for the hot path. */
  get user(): UserSnapshot | null {
    return this.#user
  }

  /** How the session signed in (RFC 8176 `amr`), or null when it is not signed in. */
  get amr(): readonly string[] | null {
    return this.#amr
  }

  /**
   * Stores (or with null, removes) the user snapshot, and with `amr` how the user signed in; the
   * record's seal covers both.
   */
  setUser(user: UserSnapshot | null, amr?: readonly string[]): void {
    this.accessed = true
    this.modified = true
    this.#user = user
    if (amr !== undefined) this.#amr = [...amr]
    if (user === null) this.#amr = null
  }

  /**
   * Whether a request that changed nothing should still rewrite the record: only when less than
   * half the age is left, so sliding expiry costs one KV write per half-age, not one per request.
   */
  needsRefresh(): boolean {
    if (this.modified || this.#expiresAt === null || this.#key === null || this.isEmpty) {
      return false
    }
    const remaining = this.#expiresAt - this.#settings.now()
    return remaining < (this.getExpiryAge() * 1000) / 2
  }

  /**
   * The record to store now, with a fresh expiry. Issues a key first if there is none, so a
   * planted or unknown key is never adopted.
   */
  toRecord(): SessionRecord {
    if (this.#key === null) this.#key = generateSessionKey()
    this.#expiresAt = this.#settings.now() + this.getExpiryAge() * 1000
    const record: SessionRecord = {
      v: 2,
      id: this.id,
      data: this.#data,
      createdAt: this.#createdAt,
      expiresAt: this.#expiresAt,
    }
    if (this.#user) record.user = this.#user
    if (this.#amr) record.amr = this.#amr
    return record
  }

  #retireKey(): void {
    if (this.#loadedKvKey) this.#obsoleteKvKeys.add(this.#loadedKvKey)
    this.#loadedKvKey = null
  }
}
