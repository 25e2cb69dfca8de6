-- The session history (sqlite flavour; the other dialect's
-- 0013_ended_sessions.sql is its twin). A user's session that ends (sign
-- out, revocation, expiry, ...) moves here in the transaction that ends it,
-- with when and why; retention forgets it after
-- `ended_session_retention_days` (default 30). No token, no CSRF secret:
-- nothing here can be used to sign in. Deleting the user deletes their
-- history (the audit log keeps the sign-ins and sign-outs).

CREATE TABLE ended_sessions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stage        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ended_at     INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    auth_methods TEXT NOT NULL,
    client       TEXT,
    user_agent   TEXT
);
-- A user's history, latest end first; also serves the cascade from users.
CREATE INDEX ended_sessions_user_idx ON ended_sessions (user_id, ended_at);
-- Retention deletes the oldest first.
CREATE INDEX ended_sessions_ended_at_idx ON ended_sessions (ended_at);
