-- API tokens (src/tokens): DRF's TokenAuthentication, several named tokens per user. The key is
-- never stored: kv_key is `token:` + its SHA-256, where KV holds the sealed record the hot path
-- reads. Rows go with their user (ON DELETE CASCADE); every change goes through the accounts
-- service. Times are ms since the epoch, as in user_sessions.
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
