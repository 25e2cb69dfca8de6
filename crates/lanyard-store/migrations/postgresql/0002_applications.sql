-- Lanyard applications schema, PostgreSQL flavour. sqlite/0002_applications.sql
-- is its twin: same tables, columns, index names and meaning.
--
-- Conventions (see src/lib.rs and 0001_directory.sql), and for this file:
-- * flags are SMALLINT 0/1: the Any driver cannot decode a SQLite boolean, and
--   a PostgreSQL BOOLEAN would decode as a bool where SQLite gives an integer;
-- * an app's settings (SSO tab, attribute rules, SP certificates) are JSON
--   text, read and written whole with the app, like directory attributes;
-- * the portal image's facts live on `apps`, so listing apps needs no second
--   query; its bytes live in `app_images`, read only when served;
-- * every relation cascades from `apps`, and from `groups` where it names a
--   group, so deleting an app or a group leaves nothing behind.

CREATE TABLE apps (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug               TEXT COLLATE "C" NOT NULL,
    template           TEXT NOT NULL,
    aws_rules          SMALLINT NOT NULL CHECK (aws_rules IN (0, 1)),
    sso_active         SMALLINT NOT NULL CHECK (sso_active IN (0, 1)),
    label              TEXT NOT NULL,
    label_lc           TEXT COLLATE "C" NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    show_in_portal     SMALLINT NOT NULL CHECK (show_in_portal IN (0, 1)),
    sso                TEXT NOT NULL,
    attributes         TEXT NOT NULL DEFAULT '[]',
    groups_attribute   TEXT,
    sp_certificates    TEXT NOT NULL DEFAULT '[]',
    image_content_type TEXT,
    image_sha256       TEXT,
    image_size         BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX apps_slug_key ON apps (slug);
CREATE INDEX apps_label_lc_idx ON apps (label_lc);

CREATE TABLE app_keys (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id          BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    active          SMALLINT NOT NULL CHECK (active IN (0, 1)),
    certificate_pem TEXT NOT NULL,
    private_key_pem TEXT NOT NULL,
    not_after       BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX app_keys_app_idx ON app_keys (app_id);
-- At most one signing key per app; the store keeps it exactly one.
CREATE UNIQUE INDEX app_keys_active_key ON app_keys (app_id) WHERE active = 1;

CREATE TABLE app_groups (
    app_id   BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (app_id, group_id)
);
CREATE INDEX app_groups_group_idx ON app_groups (group_id, app_id);

-- `position` keeps the admin's row order (a table is replaced whole).
CREATE TABLE app_entitlements (
    app_id               BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    position             BIGINT NOT NULL,
    group_id             BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    account_id           TEXT NOT NULL,
    role_name            TEXT NOT NULL,
    provider_name        TEXT NOT NULL,
    account_label        TEXT,
    max_session_duration BIGINT,
    PRIMARY KEY (app_id, position)
);
CREATE INDEX app_entitlements_group_idx ON app_entitlements (group_id);

CREATE TABLE app_images (
    app_id BIGINT PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    bytes  BYTEA NOT NULL
);
