-- sessiongate's whole D1 schema, as migrations/ leave it: the one place to read it. Databases are
-- made and upgraded by those migrations (`wrangler d1 migrations apply`, which `npm run dev`, the
-- user CLI and the tests all use), never from this file. A schema change is a new migration,
-- migrations/NNNN_name.sql, plus the same change here: test/storage/migrations.test.ts fails
-- until both agree. docs/storage.md explains every table and KV prefix.

-- Django's auth_user, column for column, so `dumpdata auth.user` imports as it is.
-- Datetimes are ISO 8601 UTC text; booleans are 0/1.
CREATE TABLE users (
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
  date_joined TEXT NOT NULL,
  -- Whether the user proved they read `email` (a verification link, or an identity provider).
  email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1))
);

-- Django's auth_group and auth_user_groups: a user's group names travel in the session snapshot.
CREATE TABLE groups (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 150)
);

CREATE TABLE user_groups (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  UNIQUE (user_id, group_id)
);
CREATE INDEX user_groups_by_group ON user_groups (group_id);

-- One row per live session of a user: the exact index behind /auth/sessions, "log out
-- everywhere" and write-through revocation (KV list() is eventually consistent).
CREATE TABLE user_sessions (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kv_key TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX user_sessions_by_user ON user_sessions (user_id, expires_at);

-- Failed logins per (IP, username) and per IP, in fixed windows (src/throttle). A row is
-- reset when its window has passed; stale rows are harmless and small.
CREATE TABLE login_failures (
  bucket TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  failures INTEGER NOT NULL
);

-- The audit log: one row per security event (src/accounts/events.ts). No foreign key to users:
-- a user's events outlive the user. A daily Cron Trigger deletes rows older than
-- AUDIT_RETENTION_DAYS.
CREATE TABLE auth_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  type TEXT NOT NULL,
  user_id INTEGER NULL,
  username TEXT NOT NULL DEFAULT '',
  ip TEXT NULL,
  user_agent TEXT NOT NULL DEFAULT '',
  session TEXT NULL,
  detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX auth_events_by_user ON auth_events (user_id, id);
CREATE INDEX auth_events_by_time ON auth_events (at);
