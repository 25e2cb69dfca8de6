-- The SSO inputs' version (postgresql/0005_sso_version.sql is its twin).
--
-- `apps.sso_version` changes whenever anything an SSO response is built
-- from changes: the app row itself, its group bindings, its entitlements or
-- its signing keys (including rows removed by a cascade from `groups`). A
-- node may keep an app's SSO inputs in memory and reuse them as long as one
-- cheap `SELECT id, sso_version FROM apps WHERE slug = ?` still returns the
-- version it loaded them at; ids are never reused (AUTOINCREMENT), so
-- (id, sso_version) names one state of one app on every node.
--
-- SQLite fires DELETE triggers for rows removed by ON DELETE CASCADE, and
-- runs triggers without recursion (recursive_triggers is off), so the bump
-- of `apps` from the apps trigger below does not fire it again; its WHEN
-- clause guards it either way.

ALTER TABLE apps ADD COLUMN sso_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER apps_sso_version_apps AFTER UPDATE ON apps
WHEN NEW.sso_version = OLD.sso_version
BEGIN
    UPDATE apps SET sso_version = OLD.sso_version + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER apps_sso_version_groups_ins AFTER INSERT ON app_groups
BEGIN
    UPDATE apps SET sso_version = sso_version + 1 WHERE id = NEW.app_id;
END;
CREATE TRIGGER apps_sso_version_groups_del AFTER DELETE ON app_groups
BEGIN
    UPDATE apps SET sso_version = sso_version + 1 WHERE id = OLD.app_id;
END;

CREATE TRIGGER apps_sso_version_ents_ins AFTER INSERT ON app_entitlements
BEGIN
    UPDATE apps SET sso_version = sso_version + 1 WHERE id = NEW.app_id;
END;
CREATE TRIGGER apps_sso_version_ents_upd AFTER UPDATE ON app_entitlements
BEGIN
    UPDATE apps SET sso_version = sso_version + 1 WHERE id IN (OLD.app_id, NEW.app_id);
END;
CREATE TRIGGER apps_sso_version_ents_del AFTER DELETE ON app_entitlements
BEGIN
    UPDATE apps SET sso_version = sso_version + 1 WHERE id = OLD.app_id;
END;

CREATE TRIGGER apps_sso_version_keys_ins AFTER INSERT ON app_keys
BEGIN
    UPDATE apps SET sso_version = sso_version + 1 WHERE id = NEW.app_id;
END;
CREATE TRIGGER apps_sso_version_keys_upd AFTER UPDATE ON app_keys
BEGIN
    UPDATE apps SET sso_version = sso_version + 1 WHERE id IN (OLD.app_id, NEW.app_id);
END;
CREATE TRIGGER apps_sso_version_keys_del AFTER DELETE ON app_keys
BEGIN
    UPDATE apps SET sso_version = sso_version + 1 WHERE id = OLD.app_id;
END;
