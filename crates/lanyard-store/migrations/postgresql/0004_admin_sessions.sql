-- Lanyard admin portal sessions, PostgreSQL flavour. sqlite/0004_admin_sessions.sql
-- is its twin: same tables, columns, index names and meaning.
--
-- Like `sessions` (0003) but for admin accounts: stored by the SHA-256 of
-- the `lanyard_admin` cookie token, never the token; one stage only (no
-- admin TOTP yet); deleting an admin ends its sessions.

CREATE TABLE admin_sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   TEXT NOT NULL,
    admin_id     BIGINT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    csrf_secret  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    client       TEXT,
    user_agent   TEXT
);
CREATE UNIQUE INDEX admin_sessions_token_hash_key ON admin_sessions (token_hash);
-- Serves the cascade from `admins`.
CREATE INDEX admin_sessions_admin_idx ON admin_sessions (admin_id);
-- The purge (`expires_at <= now OR last_seen_at < idle_before`), as for
-- `sessions`.
CREATE INDEX admin_sessions_expires_at_idx ON admin_sessions (expires_at);
CREATE INDEX admin_sessions_last_seen_at_idx ON admin_sessions (last_seen_at);
