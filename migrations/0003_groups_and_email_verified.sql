-- Django's auth_group and auth_user_groups, and allauth's verified flag for the user's e-mail.
-- A user's groups and email_verified travel in the session snapshot (one KV read per request),
-- so every change to them goes through the accounts service, which rewrites live sessions.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1));

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
