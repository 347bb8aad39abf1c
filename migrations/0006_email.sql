-- Password reset, e-mail verification and sign-up (src/mail) find users by e-mail address,
-- ignoring case as Django's `email__iexact` does: an index serves `email = ? COLLATE NOCASE`.
CREATE INDEX users_by_email ON users (email COLLATE NOCASE);
