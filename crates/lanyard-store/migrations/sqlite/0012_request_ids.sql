-- Request ids in the audit log (sqlite flavour; the other dialect's
-- 0012_request_ids.sql is its twin): the id of the HTTP request that
-- caused an event (`X-Request-Id`, also in the server's log lines), NULL
-- for events from the command line and for events written before.

ALTER TABLE audit_events ADD COLUMN request_id TEXT;
