-- The SSO inputs' version (sqlite/0005_sso_version.sql is its twin, with the
-- reasoning).
--
-- `apps.sso_version` changes whenever anything an SSO response is built
-- from changes: the app row itself (a BEFORE trigger sets it, so no second
-- UPDATE), its group bindings, its entitlements or its signing keys
-- (including rows removed by a cascade from `groups`: PostgreSQL fires the
-- child table's row triggers for cascaded deletes too). Identity ids are
-- never reused, so (id, sso_version) names one state of one app.

ALTER TABLE apps ADD COLUMN sso_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION apps_sso_version_self() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sso_version = OLD.sso_version THEN
        NEW.sso_version := OLD.sso_version + 1;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER apps_sso_version_apps BEFORE UPDATE ON apps
FOR EACH ROW EXECUTE FUNCTION apps_sso_version_self();

CREATE FUNCTION apps_sso_version_child() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE apps SET sso_version = sso_version + 1 WHERE id = OLD.app_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.app_id <> OLD.app_id) THEN
        UPDATE apps SET sso_version = sso_version + 1 WHERE id = NEW.app_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER apps_sso_version_groups AFTER INSERT OR DELETE ON app_groups
FOR EACH ROW EXECUTE FUNCTION apps_sso_version_child();
CREATE TRIGGER apps_sso_version_ents AFTER INSERT OR UPDATE OR DELETE ON app_entitlements
FOR EACH ROW EXECUTE FUNCTION apps_sso_version_child();
CREATE TRIGGER apps_sso_version_keys AFTER INSERT OR UPDATE OR DELETE ON app_keys
FOR EACH ROW EXECUTE FUNCTION apps_sso_version_child();
