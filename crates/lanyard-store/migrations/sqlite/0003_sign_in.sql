-- Lanyard sign-in schema, SQLite flavour. postgresql/0003_sign_in.sql is its
-- twin: same tables, columns, index names and meaning.
--
-- Conventions (see src/lib.rs and 0001_directory.sql), and for this file:
-- * a user's sign-in state (failure counter, TOTP secrets, last used TOTP
--   step) is columns on `users`, not a table of its own: the row exists
--   exactly as long as the user, so taking a login attempt slot and using a
--   TOTP step are each one conditional UPDATE of an existing row
--   (`... WHERE id = $1 AND login_failures < $2`), atomic on both databases
--   with no upsert and no row to create first, and deleting the user takes
--   the state with it. None of these columns is indexed, so PostgreSQL can
--   update them in place (HOT). The `User` row mapping does not read them;
--   the secrets leave the store only through `sign_in_state`;
-- * sessions are stored by the SHA-256 of their cookie token, never the
--   token; `id` is the number admins address a session by;
-- * seen AuthnRequest IDs are remembered per app until they expire, so a
--   replayed request is refused; deleting an app or a user takes their rows
--   with them.

ALTER TABLE users ADD COLUMN login_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stage        TEXT NOT NULL CHECK (stage IN ('awaiting_totp', 'complete')),
    csrf_secret  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    client       TEXT,
    user_agent   TEXT
);
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
-- A user's sessions, newest first; also serves the cascade from `users`.
CREATE INDEX sessions_user_idx ON sessions (user_id, id);
-- The purge deletes `expires_at <= now OR last_seen_at < idle_before`: with
-- both columns indexed either database combines the two (SQLite's OR
-- optimisation, PostgreSQL's BitmapOr) instead of scanning every session.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_last_seen_at_idx ON sessions (last_seen_at);

CREATE TABLE seen_requests (
    app_id     INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, request_id)
) WITHOUT ROWID;
CREATE INDEX seen_requests_expires_at_idx ON seen_requests (expires_at);
