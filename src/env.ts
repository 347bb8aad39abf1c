/**
 * The Worker's bindings, declared once. Every setting is an optional string: `config.ts` parses
 * and validates them, so nothing else reads `env` for settings.
 */
export interface Env {
  /** Session records, `session:<sha256 hex of the session key>` (see docs/storage.md). */
  SESSIONS: KVNamespace
  /** Users (Django's auth_user), the per-user session index and the login throttle. */
  DB: D1Database

  SECRET_KEY?: string
  SECRET_KEY_FALLBACKS?: string
  /** Private JWKs (JSON object or array) that sign the identity assertions; first signs. */
  ASSERTION_KEYS?: string
  ASSERTION_AUDIENCE?: string
  ASSERTION_ISSUER?: string
  /** "true" only in local development: relaxes the secret checks. Never set it in production. */
  DEBUG?: string

  ORIGIN_URL?: string
  ORIGIN_TIMEOUT_MS?: string
  PUBLIC_PATHS?: string
  STAFF_PATHS?: string
  CSRF_TRUSTED_ORIGINS?: string
  CSRF_COOKIE_NAME?: string
  SESSION_COOKIE_NAME?: string
  SESSION_COOKIE_AGE?: string
  SESSION_COOKIE_DOMAIN?: string
  SESSION_EXPIRE_AT_BROWSER_CLOSE?: string
  LOGIN_FAILURE_LIMIT?: string
  LOGIN_FAILURE_IP_LIMIT?: string
  LOGIN_FAILURE_WINDOW?: string
  ALLOWED_HOSTS?: string
  SECURE_PROXY_SSL_HEADER?: string
  USE_X_FORWARDED_HOST?: string
  AUDIT_RETENTION_DAYS?: string
  /** Shared with a forward-auth proxy: its X-Forwarded-For is then the client's address. */
  TRUSTED_PROXY_SECRET?: string
}
