-- AuthnRequest policy per application, SQLite flavour.
-- postgresql/0009_sso_requests.sql is its twin: same table and meaning.
--
-- * `accept_authn_requests` in each app's SSO settings (JSON): off for
--   Amazon AWS IAM apps (AWS never sends AuthnRequests, so one sent to
--   such an app was made up by someone else), on for every other app, as
--   they behaved before.
-- * `sso_force_authn`: when an AuthnRequest with ForceAuthn="true" was
--   first seen (per app and request ID). The response waits until the
--   user has authenticated after that moment; rows are forgotten when the
--   request could no longer be answered anyway.

UPDATE apps
SET sso = json_set(sso, '$.accept_authn_requests',
                   json(CASE WHEN template = 'aws-iam' THEN 'false' ELSE 'true' END))
WHERE json_type(sso, '$.accept_authn_requests') IS NULL;

CREATE TABLE sso_force_authn (
    app_id     INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    since      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, request_id)
) WITHOUT ROWID;
CREATE INDEX sso_force_authn_expires_at_idx ON sso_force_authn (expires_at);
