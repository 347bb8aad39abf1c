/**
 * The daily clean-up, run by the Worker's Cron Trigger (`[triggers] crons` in wrangler.toml):
 * audit events older than AUDIT_RETENTION_DAYS, `user_sessions` rows that can no longer belong
 * to a live record, `api_tokens` rows of expired tokens (their records are refused on read and
 * gone with their KV TTL), and login-throttle buckets whose window has passed. KV needs none of this:
 * its TTLs end expired sessions by themselves.
 */
import { EventLog } from './accounts/events'
import { LAST_SEEN_INTERVAL_MS } from './auth/last-seen'
import { SessionIndex } from './auth/session-index'
import type { Config } from './config'
import { LoginThrottle } from './throttle'
import { TokenRepository } from './tokens/repository'

/** What one clean-up removed. */
export interface Pruned {
  events: number
  sessions: number
  tokens: number
  throttle: number
}

const DAY_MS = 86_400_000

/** Deletes what has expired; `now` is the clock (ms). */
export async function pruneExpired(db: D1Database, config: Config, now: number): Promise<Pruned> {
  const [events, sessions, tokens, throttle] = await Promise.all([
    new EventLog(db).prune(now - config.auditRetentionDays * DAY_MS),
    // A row's expiry may lag its record's by up to one age plus the last_seen interval
    // (SessionIndex.prune): only rows older than that are certainly dead.
    new SessionIndex(db).pruneAll(now - config.sessionCookieAge * 1000 - LAST_SEEN_INTERVAL_MS),
    new TokenRepository(db).pruneAll(now),
    new LoginThrottle(db, {
      windowSeconds: config.loginFailureWindow,
      now: () => now,
    }).prune(),
  ])
  console.log(JSON.stringify({ pruned: { events, sessions, tokens, throttle } }))
  return { events, sessions, tokens, throttle }
}
