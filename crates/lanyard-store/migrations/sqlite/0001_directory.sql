-- Lanyard directory schema, SQLite flavour. postgresql/0001_directory.sql is
-- its twin: same tables, columns, index names and meaning.
--
-- Conventions (see src/lib.rs):
-- * timestamps are INTEGER unix milliseconds (UTC);
-- * `*_lc` columns hold a lower-cased copy made in Rust, so case-insensitive
--   uniqueness and prefix search behave the same on both databases and use a
--   plain index with a range query (col >= 'ab' AND col < 'ac');
-- * attributes are JSON text ({"name": ["value", ...]}), read and written whole
--   with their owner;
-- * AUTOINCREMENT so that ids are never reused (audit targets name them).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL,
    username      TEXT NOT NULL,
    username_lc   TEXT NOT NULL,
    first_name    TEXT NOT NULL,
    first_name_lc TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    last_name_lc  TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('active', 'suspended')),
    password_hash TEXT,
    attributes    TEXT NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_username_lc_key ON users (username_lc);
CREATE INDEX users_first_name_lc_idx ON users (first_name_lc);
CREATE INDEX users_last_name_lc_idx ON users (last_name_lc);

CREATE TABLE groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    name_lc     TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    attributes  TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_name_lc_key ON groups (name_lc);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user_idx ON group_members (user_id, group_id);

CREATE TABLE admins (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('read_only', 'administrator')),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX admins_email_key ON admins (email);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('read_only', 'administrator')),
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (hash);

CREATE TABLE audit_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    source  TEXT,
    summary TEXT NOT NULL
);
-- Filters are exact matches listed newest first: (column, id) serves both.
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_target_idx ON audit_events (target, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
CREATE INDEX audit_events_at_idx ON audit_events (at);
