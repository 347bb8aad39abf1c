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
