-- Multi-factor authentication (src/mfa): an authenticator app (TOTP), single-use recovery codes
-- and passkeys (WebAuthn). Every row goes with its user (ON DELETE CASCADE), and every change to
-- them goes through the accounts service.

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
