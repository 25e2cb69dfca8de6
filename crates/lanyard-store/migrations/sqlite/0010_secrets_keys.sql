-- The keys secrets are encrypted with, SQLite flavour.
-- postgresql/0010_secrets_keys.sql is its twin: same table and meaning.
--
-- Signing keys' private halves and TOTP secrets are stored encrypted
-- (lanyard-store src/secrets.rs) with a key kept outside the database. This
-- table records the id (not the key) of every key that has been current on
-- some node, so a node started with an unrelated key is refused before it
-- writes anything, even while no secret is stored yet. Existing cleartext
-- secrets are encrypted by the store when it first opens with a key (not
-- here: SQL does not have the key).

CREATE TABLE secrets_keys (
    key_id     TEXT PRIMARY KEY,
    first_used INTEGER NOT NULL
);
