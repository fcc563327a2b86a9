-- Administration: searching users, filtering them by role, listing them and the audit trail newest
-- first, all index-backed so they stay fast at a million users.

-- Search is a case-insensitive substring of the username or email, run as
-- `username_key LIKE '%term%' OR email_key LIKE '%term%'` on the case-folded keys. Only a trigram
-- index (pg_trgm) serves a substring LIKE. The extension is created in `public` (never in the
-- library's schema: dropping one schema must not take an extension, and with it the indexes of
-- every other schema, along). Where it cannot be created (not installed on the server, no
-- privilege, no `public` schema) nothing fails: the indexes are skipped and search scans the
-- users table; the README gives the two statements to run later as a superuser.
DO $$
DECLARE
  ext_schema text;
BEGIN
  SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  IF ext_schema IS NULL THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'express-authlib: pg_trgm not available (%); user search will not be index-backed', SQLERRM;
    END;
    -- Read again: a concurrent migration of another schema may have created it meanwhile.
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  END IF;
  IF ext_schema IS NOT NULL THEN
    EXECUTE format('CREATE INDEX users_username_trgm_idx ON users USING gin (username_key %I.gin_trgm_ops)', ext_schema);
    EXECUTE format('CREATE INDEX users_email_trgm_idx ON users USING gin (email_key %I.gin_trgm_ops)', ext_schema);
  END IF;
END
$$;

-- Newest first, with the id as the tie-break that keeps paging stable.
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);
-- `?role=` and the role counts; the primary key (user_id, role) serves lookups by user only.
CREATE INDEX user_roles_role_idx ON user_roles (role, user_id);
-- The audit trail newest first, unfiltered (the user and type indexes of 0003 serve the filters).
CREATE INDEX auth_events_created_idx ON auth_events (created_at);
