-- Single sign-on (src/sso): identities at OpenID Connect and GitHub providers, linked to users,
-- and which provider sign-in each session came from, for back-channel logout. Every change to
-- them goes through the accounts service.

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
