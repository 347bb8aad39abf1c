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
-- Password reset, verification and sign-up find users by e-mail, ignoring case (src/mail).
CREATE INDEX users_by_email ON users (email COLLATE NOCASE);

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

-- Multi-factor authentication (src/mfa): an authenticator app, recovery codes and passkeys.
-- A user's authenticator app: at most one, confirmed once a code from it was accepted. The secret
-- is sealed (AES-GCM under a key derived from SECRET_KEY); last_step is the RFC 6238 time step of
-- the code accepted last, so no code is accepted twice.
CREATE TABLE mfa_totp (
  user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret TEXT NOT NULL,
  confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
  last_step INTEGER NULL,
  created_at TEXT NOT NULL
);

-- Recovery codes, stored only as the SHA-256 of each (125-bit) code; used_at marks one used.
CREATE TABLE mfa_recovery_codes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  used_at TEXT NULL,
  UNIQUE (user_id, code_hash)
);

-- The WebAuthn user handle of each user who registered a passkey: random, never the user id.
CREATE TABLE webauthn_users (
  user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  handle TEXT NOT NULL UNIQUE
);

-- Passkeys: id is the public handle (/auth/passkeys/{id}); credential_id and public_key (COSE)
-- are base64url, as WebAuthn gives them; sign_count is the authenticator's signature counter.
CREATE TABLE passkeys (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  credential_id TEXT NOT NULL UNIQUE,
  public_key TEXT NOT NULL,
  sign_count INTEGER NOT NULL DEFAULT 0,
  transports TEXT NOT NULL DEFAULT '[]',
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used TEXT NULL
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- API tokens (src/tokens): DRF's TokenAuthentication, several named tokens per user. The key is
-- never stored: kv_key is `token:` + its SHA-256, where KV holds the sealed record the hot path
-- reads. Times are ms since the epoch, as in user_sessions.
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  kv_key TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NULL,
  last_used INTEGER NULL
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
-- Single sign-on (src/sso): identities at OpenID Connect and GitHub providers, and the sessions
-- signed in through them.
-- One identity at a provider (its `sub`, or GitHub's numeric user id), linked to one user. id is
-- the public handle (/auth/identities/{id}); email is what the provider said at the last sign-in.
CREATE TABLE user_identities (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  subject TEXT NOT NULL,
  email TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  last_used TEXT NULL,
  UNIQUE (provider, subject)
);
CREATE INDEX user_identities_by_user ON user_identities (user_id);

-- The sessions signed in through a provider, with the provider's session id (`sid`) when it
-- gave one: a back-channel logout names a subject or a sid, and this finds the sessions to end.
-- A row goes with its session's index row.
CREATE TABLE sso_sessions (
  session_id TEXT PRIMARY KEY REFERENCES user_sessions (id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  subject TEXT NOT NULL,
  sid TEXT NULL
);
CREATE INDEX sso_sessions_by_subject ON sso_sessions (provider, subject);
CREATE INDEX sso_sessions_by_sid ON sso_sessions (provider, sid);
