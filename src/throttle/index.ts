/**
 * Failed-login throttling, per (client network, username) and per client network, in fixed
 * windows that start at the first failure.
 *
 * Storage is D1, not KV: KV is eventually consistent and takes one write per second per key, so
 * a burst of failures would be undercounted or refused; the Workers Rate Limiting binding only
 * has 10 s and 60 s periods, far from 15 minutes. D1 is consistent at its primary, and a login
 * already goes to D1 for the user. Every query about `login_failures` lives here, bound.
 *
 * An attempt is judged twice: its check refuses it cheaply, before the (slow, on purpose) password
 * hash, when a limit is already reached; and after the hash, `recordFailure` or the success check
 * decides again in one atomic D1 step. The login batches its D1 statements with these two (the
 * user's lookup with the check, its writes with the success check), so it costs two round
 * trips. The second judgement is what holds against a burst of concurrent guesses, which all
 * pass `check` before any of them is counted: only the first
 * `limit` outcomes of the burst count, and every later one is a 429, the right password too, so
 * a burst tells the attacker no more than `limit` sequential guesses would. Only failures are
 * counted: any number of concurrent right passwords all log in.
 */

import { Throttled } from '../errors'
import { sha256Hex } from '../utils/crypto'
import { networkKey } from './network'

export { networkKey } from './network'

export interface ThrottleOptions {
  /** Failures allowed per (IP, username) in a window (LOGIN_FAILURE_LIMIT). Default 5. */
  pairLimit?: number
  /** Failures allowed per IP in a window (LOGIN_FAILURE_IP_LIMIT). Default 100. */
  ipLimit?: number
  /** Window length in seconds (LOGIN_FAILURE_WINDOW). Default 900 (15 minutes). */
  windowSeconds?: number
  /** Failed second-factor codes per user in a window, from anywhere (MFA_FAILURE_LIMIT). Default 10. */
  secondFactorLimit?: number
  /** The clock (ms). Default `Date.now`. */
  now?: () => number
}

interface Bucket {
  bucket: string
  window_start: number
  failures: number
}

/**
 * Statements to run first in another D1 batch (the login's), and the check of their results,
 * which throws to refuse: so a judgement costs no round trip of its own.
 */
export interface BatchedCheck {
  statements: D1PreparedStatement[]
  check(results: D1Result[]): void
}

interface Limits {
  pair: number
  ip: number
  windowMs: number
  secondFactor: number
}

/** Counts failed logins and refuses attempts over the limits with a 429. */
export class LoginThrottle {
  readonly #limits: Limits
  readonly #now: () => number

  constructor(
    private readonly db: D1Database,
    options: ThrottleOptions = {},
  ) {
    this.#limits = {
      pair: options.pairLimit ?? 5,
      ip: options.ipLimit ?? 100,
      windowMs: (options.windowSeconds ?? 900) * 1000,
      secondFactor: options.secondFactorLimit ?? 10,
    }
    this.#now = options.now ?? Date.now
  }

  /**
   * Forgets every failure counted against `username`, from any network (django-axes' reset):
   * an operator's way to let a user in before the window passes. Returns how many buckets went.
   */
  async unlock(username: string): Promise<number> {
    const result = await this.db
      .prepare("DELETE FROM login_failures WHERE bucket >= ?1 AND bucket < ?1 || '~'")
      .bind(await userPrefix(username))
      .run()
    return result.meta.changes
  }

  /** Deletes the buckets whose window has passed (the daily clean-up); returns how many. */
  async prune(): Promise<number> {
    const result = await this.db
      .prepare('DELETE FROM login_failures WHERE window_start + ?1 <= ?2')
      .bind(this.#limits.windowMs, this.#now())
      .run()
    return result.meta.changes
  }

  /** One login attempt from `ip` for `username`: its buckets, named (hashing, no I/O). */
  async attempt(ip: string, username: string): Promise<LoginAttempt> {
    const [pair, address] = await bucketsFor(ip, username)
    return new LoginAttempt(this.db, this.#limits, this.#now, pair, address)
  }

  /**
   * One request that sends e-mail (a password reset, a verification link, a sign-up) from `ip`
   * for `address`, an e-mail address. Every request counts, answered or not: its `recordFailure`
   * throws `Throttled` past LOGIN_FAILURE_LIMIT requests per address (from anywhere: an inbox
   * must not be flooded from many networks) or LOGIN_FAILURE_IP_LIMIT per client network, in a
   * window. Its buckets are its own, so asking for e-mail never locks anyone out of signing in.
   */
  async mail(ip: string, address: string): Promise<LoginAttempt> {
    const network = networkKey(ip)
    // Django compares addresses case-insensitively: so does the count.
    const key = `mail:${await sha256Hex(address.trim().toLowerCase())}`
    return new LoginAttempt(
      this.db,
      this.#limits,
      this.#now,
      key,
      `mail-ip:${await sha256Hex(network)}`,
    )
  }

  /**
   * One second-factor attempt (a code or a passkey after the right password) from `ip` for
   * `username`. Its first bucket is the user's own, from any network: whoever holds the password
   * may come from many addresses, and each guess at a 6-digit code must count against the one
   * account. `unlock(username)` clears it with the user's other buckets.
   */
  async secondFactor(ip: string, username: string): Promise<LoginAttempt> {
    const [, address] = await bucketsFor(ip, username)
    const limits = { ...this.#limits, pair: this.#limits.secondFactor }
    return new LoginAttempt(this.db, limits, this.#now, `${await userPrefix(username)}mfa`, address)
  }
}

/** The throttle's view of one login attempt. */
export class LoginAttempt {
  constructor(
    private readonly db: D1Database,
    private readonly limits: Limits,
    private readonly now: () => number,
    private readonly pair: string,
    private readonly address: string,
  ) {}

  /**
   * Before any password work, whatever the password: the attempt's buckets, for
   * `refuseIfLocked`. Unknown users are counted and refused alike, so the throttle tells nothing
   * about who exists. Writes nothing, so hammering a locked pair does not extend it.
   */
  checkStatement(): D1PreparedStatement {
    return this.db
      .prepare('SELECT bucket, window_start, failures FROM login_failures WHERE bucket IN (?1, ?2)')
      .bind(this.pair, this.address)
  }

  /**
   * Throws `Throttled` (429, with the seconds to wait) when either limit is reached in the
   * current window: a locked pair stays locked until its window passes.
   */
  refuseIfLocked(result: D1Result | undefined): void {
    this.#refuseOverLimit((result?.results ?? []) as Bucket[], this.now(), 0)
  }

  /** `checkStatement` and `refuseIfLocked`, in a round trip of their own. */
  async check(): Promise<void> {
    this.refuseIfLocked(await this.checkStatement().all())
  }

  /**
   * Counts one failure for the pair and the IP (a window that has passed starts again), and
   * throws `Throttled` when this failure went past a limit: in a burst, only the first `limit`
   * failures are answered as failures.
   */
  async recordFailure(): Promise<void> {
    const now = this.now()
    const statement = this.db.prepare(
      `INSERT INTO login_failures (bucket, window_start, failures) VALUES (?1, ?2, 1)
       ON CONFLICT (bucket) DO UPDATE SET
         failures = CASE WHEN window_start + ?3 <= ?2 THEN 1 ELSE failures + 1 END,
         window_start = CASE WHEN window_start + ?3 <= ?2 THEN ?2 ELSE window_start END
       RETURNING bucket, window_start, failures`,
    )
    const results = await this.db.batch<Bucket>(
      [this.pair, this.address].map((bucket) => statement.bind(bucket, now, this.limits.windowMs)),
    )
    this.#refuseOverLimit(
      results.flatMap((result) => result.results),
      now,
      1,
    )
  }

  /**
   * After the right password: refuses (`Throttled`) if a limit was reached meanwhile, by
   * concurrent failures; otherwise forgets the pair's failures (the IP's stay). Both in one
   * transaction, so no failure can slip in between the decision and the reset; the login runs
   * them in its own batch, and undoes itself when the check throws.
   */
  successCheck(): BatchedCheck {
    const now = this.now()
    const { pair, address, limits } = this
    const reached = `SELECT bucket, window_start, failures FROM login_failures
      WHERE window_start + ?3 > ?4
        AND ((bucket = ?1 AND failures >= ?5) OR (bucket = ?2 AND failures >= ?6))`
    const values = [pair, address, limits.windowMs, now, limits.pair, limits.ip]
    return {
      statements: [
        this.db.prepare(reached).bind(...values),
        this.db
          .prepare(`DELETE FROM login_failures WHERE bucket = ?1 AND NOT EXISTS (${reached})`)
          .bind(...values),
      ],
      check: ([found]) => this.#refuseOverLimit((found?.results ?? []) as Bucket[], now, 0),
    }
  }

  /** `successCheck`, in a round trip of its own. */
  async recordSuccess(): Promise<void> {
    const success = this.successCheck()
    success.check(await this.db.batch(success.statements))
  }

  /**
   * Throws `Throttled` when a bucket of the current window holds `limit + slack` failures or more
   * (slack 1 once this attempt's own failure is counted), to wait until every such window passes.
   */
  #refuseOverLimit(rows: Bucket[], now: number, slack: number): void {
    let wait = 0
    for (const row of rows) {
      const limit = (row.bucket === this.pair ? this.limits.pair : this.limits.ip) + slack
      const endsAt = row.window_start + this.limits.windowMs
      if (endsAt > now && row.failures >= limit) wait = Math.max(wait, (endsAt - now) / 1000)
    }
    if (wait > 0) throw new Throttled(wait)
  }
}

/**
 * The bucket names, both by client network (see `networkKey`): the pair is hashed so rows stay
 * small whatever the username's length, and usernames typed by mistake (often passwords) are not
 * kept in clear.
 */
async function bucketsFor(ip: string, username: string): Promise<[string, string]> {
  const network = networkKey(ip)
  const address = network.length <= 64 ? network : await sha256Hex(network)
  return [`${await userPrefix(username)}${await sha256Hex(network)}`, `ip:${address}`]
}

/** The start of every pair bucket of `username`, so `unlock` finds them all (by range). */
async function userPrefix(username: string): Promise<string> {
  return `pair:${await sha256Hex(username)}:`
}
