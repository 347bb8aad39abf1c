/**
 * Failed-login throttling, per (client network, username) and per client network, in fixed
 * windows that start at the first failure.
 *
 * Storage is D1, not KV: KV is eventually consistent and takes one write per second per key, so
 * a burst of failures would be undercounted or refused; the Workers Rate Limiting binding only
 * has 10 s and 60 s periods, far from 15 minutes. D1 is consistent at its primary, and a login
 * already goes to D1 for the user. Every query about `login_failures` lives here, bound.
 *
 * An attempt is counted *before* the password is checked, in one atomic statement that also
 * refuses it when a limit is reached. Checking first and counting after the (slow, on purpose)
 * password hash would let a burst of concurrent guesses all pass the check before any of them
 * is counted. A successful attempt then gives its count back.
 */
import { sha256Hex } from '../crypto'
import { Throttled } from '../errors'
import { networkKey } from './network'

export { networkKey } from './network'

export interface ThrottleOptions {
  /** Failures allowed per (IP, username) in a window (LOGIN_FAILURE_LIMIT). Default 5. */
  pairLimit?: number
  /** Failures allowed per IP in a window (LOGIN_FAILURE_IP_LIMIT). Default 100. */
  ipLimit?: number
  /** Window length in seconds (LOGIN_FAILURE_WINDOW). Default 900 (15 minutes). */
  windowSeconds?: number
  /** The clock (ms). Default `Date.now`. */
  now?: () => number
}

interface Bucket {
  bucket: string
  window_start: number
  failures: number
}

/** Counts failed logins and refuses attempts over the limits with a 429. One per request. */
export class LoginThrottle {
  readonly #pairLimit: number
  readonly #ipLimit: number
  readonly #windowMs: number
  readonly #now: () => number
  /** The buckets `check` counted this attempt in (bucket name to window start). */
  #reserved: Map<string, number> | null = null

  constructor(
    private readonly db: D1Database,
    options: ThrottleOptions = {},
  ) {
    this.#pairLimit = options.pairLimit ?? 5
    this.#ipLimit = options.ipLimit ?? 100
    this.#windowMs = (options.windowSeconds ?? 900) * 1000
    this.#now = options.now ?? Date.now
  }

  /**
   * Counts this attempt as a failure in advance, or throws `Throttled` (429, with the seconds to
   * wait) when either limit is already reached in its window, whatever the password: a locked
   * pair stays locked until its window passes. Unknown users are counted and refused alike, so
   * the throttle tells nothing about who exists. Follow it with `recordFailure` or
   * `recordSuccess`; an attempt that ends otherwise (an error) stays counted as a failure.
   */
  async check(ip: string, username: string): Promise<void> {
    const [pair, address] = await bucketsFor(ip, username)
    const now = this.#now()
    // One statement, so atomic: both buckets are counted only if neither is at its limit. A
    // window that has passed starts again at 1. SQLite reads the old row in DO UPDATE's SET.
    const { results } = await this.db
      .prepare(
        `INSERT INTO login_failures (bucket, window_start, failures)
         SELECT name, ?3, 1 FROM (SELECT ?1 AS name UNION ALL SELECT ?2)
         WHERE NOT EXISTS (
           SELECT 1 FROM login_failures
           WHERE window_start + ?4 > ?3
             AND ((bucket = ?1 AND failures >= ?5) OR (bucket = ?2 AND failures >= ?6)))
         ON CONFLICT (bucket) DO UPDATE SET
           failures = CASE WHEN window_start + ?4 <= ?3 THEN 1 ELSE failures + 1 END,
           window_start = CASE WHEN window_start + ?4 <= ?3 THEN ?3 ELSE window_start END
         RETURNING bucket, window_start, failures`,
      )
      .bind(pair, address, now, this.#windowMs, this.#pairLimit, this.#ipLimit)
      .all<Bucket>()
    if (results.length > 0) {
      this.#reserved = new Map(results.map((row) => [row.bucket, row.window_start]))
      return
    }
    throw new Throttled(await this.#secondsToWait(pair, address, now))
  }

  /** Keeps the attempt counted by `check` as a failure (or counts one, without `check`). */
  async recordFailure(ip: string, username: string): Promise<void> {
    if (this.#reserved) {
      this.#reserved = null
      return
    }
    const now = this.#now()
    const statement = this.db.prepare(
      `INSERT INTO login_failures (bucket, window_start, failures) VALUES (?1, ?2, 1)
       ON CONFLICT (bucket) DO UPDATE SET
         failures = CASE WHEN window_start + ?3 <= ?2 THEN 1 ELSE failures + 1 END,
         window_start = CASE WHEN window_start + ?3 <= ?2 THEN ?2 ELSE window_start END`,
    )
    const buckets = await bucketsFor(ip, username)
    await this.db.batch(buckets.map((bucket) => statement.bind(bucket, now, this.#windowMs)))
  }

  /**
   * Forgets the pair's failures after a successful attempt, and gives back the count `check`
   * took from the IP: the IP's earlier failures stay.
   */
  async recordSuccess(ip: string, username: string): Promise<void> {
    const [pair, address] = await bucketsFor(ip, username)
    const statements = [this.db.prepare('DELETE FROM login_failures WHERE bucket = ?1').bind(pair)]
    const windowStart = this.#reserved?.get(address)
    if (windowStart !== undefined) {
      statements.push(
        this.db
          .prepare(
            `UPDATE login_failures SET failures = failures - 1
             WHERE bucket = ?1 AND window_start = ?2 AND failures > 0`,
          )
          .bind(address, windowStart),
      )
    }
    this.#reserved = null
    await this.db.batch(statements)
  }

  /** Seconds until every limit that is reached has its window pass (at least 1). */
  async #secondsToWait(pair: string, address: string, now: number): Promise<number> {
    const { results } = await this.db
      .prepare('SELECT bucket, window_start, failures FROM login_failures WHERE bucket IN (?1, ?2)')
      .bind(pair, address)
      .all<Bucket>()
    let wait = 1
    for (const row of results) {
      const limit = row.bucket === pair ? this.#pairLimit : this.#ipLimit
      const endsAt = row.window_start + this.#windowMs
      if (endsAt > now && row.failures >= limit) wait = Math.max(wait, (endsAt - now) / 1000)
    }
    return wait
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
  return [`pair:${await sha256Hex(`${network}\n${username}`)}`, `ip:${address}`]
}

/**
 * The client's IP: `CF-Connecting-IP`, which Cloudflare sets and a client cannot override in
 * production. A client-sent `X-Forwarded-For` is never trusted.
 */
export function clientIp(headers: Headers): string {
  return headers.get('CF-Connecting-IP')?.trim() || 'unknown'
}
