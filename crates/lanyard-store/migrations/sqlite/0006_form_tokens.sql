-- One-time form tokens, SQLite flavour. postgresql/0006_form_tokens.sql is
-- its twin: same table, columns, index names and meaning.
--
-- A form that must not act twice (the admin portal's "Create API Key",
-- whose answer shows a secret once) carries a random token; the first
-- submission records it here, in the same transaction as its change, and a
-- second one (a reload that re-POSTs, another node) finds it. Rows are
-- forgotten once `expires_at` has passed: the form's session has ended by
-- then, so its CSRF token refuses the form anyway.

CREATE TABLE form_tokens (
    token      TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX form_tokens_expires_at_idx ON form_tokens (expires_at);
