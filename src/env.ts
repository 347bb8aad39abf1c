import type { SettingName } from './config'

/**
 * Every setting and secret, as the Worker receives it: an optional string. The names come from
 * `SETTINGS` in config.ts, so a setting cannot exist here without a reader, a default and a README
 * row; `loadConfig` parses and validates them, so nothing else reads `env` for settings.
 */
export type Settings = { [Name in SettingName]?: string }

/** The Worker's bindings, declared once. */
export interface Env extends Settings {
  /** The client secret of each confidential SSO provider, by its id (see SSO_PROVIDERS). */
  [clientSecret: `SSO_CLIENT_SECRET_${string}`]: string | undefined
  /** Session records, `session:<sha256 hex of the session key>` (see docs/storage.md). */
  SESSIONS: KVNamespace
  /** Users (Django's auth_user), the per-user session index, the login throttle, the audit log. */
  DB: D1Database
  /** Workers Rate Limiting, per user id (`[[ratelimits]]` in wrangler.toml); none: no limit. */
  USER_RATE_LIMITER?: RateLimit
  /** Workers Rate Limiting, per client address; none: no limit. */
  ANON_RATE_LIMITER?: RateLimit
  /** Cloudflare's e-mail sending (`[[send_email]] name = "EMAIL"`), for EMAIL_BACKEND=cloudflare. */
  EMAIL?: SendEmail
}
