-- How and when a session's user authenticated, SQLite flavour.
-- postgresql/0007_session_auth.sql is its twin: same columns and meaning.
--
-- `auth_methods` is `password` or `password+totp` (what the user gave,
-- last); `authenticated_at` (unix ms) is when: signing in, completing the
-- second factor, or confirming the password again. Changes that want a
-- recent authentication (a second factor, the password) compare against
-- it. Sessions made before this migration count as authenticated by the
-- password alone when they were made.

ALTER TABLE sessions ADD COLUMN auth_methods TEXT NOT NULL DEFAULT 'password';
ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET authenticated_at = created_at;
