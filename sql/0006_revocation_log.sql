-- Every revocation (a user's tokens changed, one login ended) is also written here, in the
-- transaction that makes it. Instances that cannot LISTEN (the app passed a Kysely instance and
-- no listenDsn) poll this table instead. Rows are only needed for a few minutes; instances delete
-- older ones as they go.
CREATE TABLE revocation_log (
  id          bigserial PRIMARY KEY,
  event       jsonb NOT NULL,
  -- The database's clock at the write, not the transaction start: pollers compare it with their
  -- last poll, and the closer it is to the commit the smaller the overlap they need.
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX revocation_log_created_idx ON revocation_log (created_at);
