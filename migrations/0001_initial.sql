-- The schema of sessiongate's first release. IF NOT EXISTS: a database that release made from
-- schema.sql (before there were migrations) takes this one as a no-op and upgrades from here.
-- A released migration never changes: each schema change is the next file (and schema.sql).

-- Django's auth_user, column for column, so `dumpdata auth.user` imports as it is.
-- Datetimes are ISO 8601 UTC text; booleans are 0/1.
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  password TEXT NOT NULL,
  last_login TEXT NULL,
  is_superuser INTEGER NOT NULL DEFAULT 0 CHECK (is_superuser IN (0, 1)),
  username TEXT NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 150),
  first_name TEXT NOT NULL DEFAULT '',
  last_name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  is_staff INTEGER NOT NULL DEFAULT 0 CHECK (is_staff IN (0, 1)),
  is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
  date_joined TEXT NOT NULL
);

-- One row per live session of a user: the exact index behind /auth/sessions, "log out
-- everywhere" and write-through revocation (KV list() is eventually consistent).
CREATE TABLE IF NOT EXISTS user_sessions (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kv_key TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS user_sessions_by_user ON user_sessions (user_id, expires_at);

-- Failed logins per (IP, username) and per IP, in fixed windows (src/throttle). A row is
-- reset when its window has passed; stale rows are harmless and small.
CREATE TABLE IF NOT EXISTS login_failures (
  bucket TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  failures INTEGER NOT NULL
);
