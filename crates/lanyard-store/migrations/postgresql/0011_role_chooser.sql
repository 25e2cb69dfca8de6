-- The role chooser (per-entitlement deep links, each user's last choice),
-- postgresql flavour. sqlite/0011_role_chooser.sql is its twin: same
-- tables and meaning.
--
-- * `app_entitlements.deep_link`: where AWS opens after a sign-in with that
--   role (a console URL, sent as the RelayState); NULL for the console home.
-- * `role_choices`: the role (its Role attribute value) a user last chose
--   for an app, listed first by the chooser next time. Gone with the user
--   or the app.

ALTER TABLE app_entitlements ADD COLUMN deep_link TEXT;

CREATE TABLE role_choices (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id    BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    role      TEXT NOT NULL,
    chosen_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, app_id)
);
CREATE INDEX role_choices_app_idx ON role_choices (app_id);
