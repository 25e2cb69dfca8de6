-- Account protections for users and admins alike, SQLite flavour.
-- postgresql/0008_accounts.sql is its twin: same tables, columns and meaning.
--
-- * Timed locks (see lanyard_core::session): `locked_until` (unix ms, NULL
--   or past: not locked) and `lock_count` (locks since the last success or
--   unlock; each doubles the next) on both account tables. An account
--   locked by the old rule (counter at the limit, no end) turns into a
--   timed lock at its next attempt.
-- * Admins get what users have: the failure counter, TOTP secrets and last
--   used step (same meaning as on `users`, 0003), plus `disabled`.
-- * Admin sessions get a stage (`enrolling`: the instance requires a
--   second factor the admin has not set up yet) and how and when the admin
--   authenticated, as user sessions (0007).
-- * API keys record who made them and may expire.
-- * `sign_in_sources`: per (account, source address) failures within a
--   window and a block. `account` is `user:<id>` or `admin:<id>` (ids
--   are never reused); rows are forgotten when their window and block have
--   passed, so there is no foreign key.

ALTER TABLE users ADD COLUMN locked_until INTEGER;
ALTER TABLE users ADD COLUMN lock_count INTEGER NOT NULL DEFAULT 0;

ALTER TABLE admins ADD COLUMN login_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE admins ADD COLUMN locked_until INTEGER;
ALTER TABLE admins ADD COLUMN lock_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE admins ADD COLUMN totp_secret TEXT;
ALTER TABLE admins ADD COLUMN totp_pending TEXT;
ALTER TABLE admins ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE admins ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));

ALTER TABLE admin_sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'complete'
    CHECK (stage IN ('awaiting_totp', 'enrolling', 'complete'));
ALTER TABLE admin_sessions ADD COLUMN auth_methods TEXT NOT NULL DEFAULT 'password';
ALTER TABLE admin_sessions ADD COLUMN authenticated_at INTEGER NOT NULL DEFAULT 0;
UPDATE admin_sessions SET authenticated_at = created_at;

ALTER TABLE api_keys ADD COLUMN created_by TEXT;
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;

CREATE TABLE sign_in_sources (
    account       TEXT NOT NULL,
    source        TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    window_start  INTEGER NOT NULL,
    blocked_until INTEGER,
    PRIMARY KEY (account, source)
);
-- The purge deletes rows whose window and block are both over.
CREATE INDEX sign_in_sources_window_start_idx ON sign_in_sources (window_start);
