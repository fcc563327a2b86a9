-- Who owns an address, and what a link, code or mfa_id was issued for (contract 5.3, "Ownership").

-- Whether whoever holds this account's credentials has proven its address: true after a recovery
-- (reset link, email code), a sign-up through a provider that vouched for the address, an email
-- change, a verification confirmed with the account's password, or an administrator's word.
-- False for a self-registered account until then, even once a bare verification click proved the
-- address: whoever clicked is not known to be whoever set the password. A provider sign-in only
-- links into an owner-proven account, and the first recovery of an unproven one ends everything
-- set up before it. Existing verified accounts (or accounts without an address) count as proven.
-- (Written to be re-runnable, as every migration after 0010: the initial values only when the column is new.)
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                  WHERE table_schema = current_schema() AND table_name = 'users' AND column_name = 'owner_proven') THEN
    ALTER TABLE users ADD COLUMN owner_proven boolean NOT NULL DEFAULT false;
    UPDATE users SET owner_proven = (email_verified OR email IS NULL);
  END IF;
END
$$;

-- Bumped by the database whenever the address or the password changes, by whatever path (the
-- library's endpoints, the admin API, the CLI, the programmatic API, or plain SQL): every link,
-- code and mfa_id records the version it was issued under and dies when it differs. The address is
-- compared as written (`email`) as well as by its key (`email_key`): a plain-SQL update may set
-- one without the other, and a change of case alone then also ends the links (harmless: new ones
-- can be asked for).
ALTER TABLE users ADD COLUMN IF NOT EXISTS credential_version integer NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION users_bump_credential_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.email IS DISTINCT FROM OLD.email OR NEW.email_key IS DISTINCT FROM OLD.email_key
     OR NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
    NEW.credential_version := OLD.credential_version + 1;
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS users_credential_version ON users;
CREATE TRIGGER users_credential_version BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION users_bump_credential_version();

ALTER TABLE one_time_tokens ADD COLUMN IF NOT EXISTS credential_version integer NOT NULL DEFAULT 0;

-- One live link or code per purpose and account, arbitrated by the database: of concurrent
-- requests, the ones that lose the race find the index taken and retry after the winner. mfa_ids
-- are capped per account instead (several sign-ins may be half done at once). Duplicates left by
-- the old read-then-write go first.
UPDATE one_time_tokens t SET used_at = now()
 WHERE t.used_at IS NULL AND t.purpose <> 'mfa'
   AND EXISTS (SELECT 1 FROM one_time_tokens n
                WHERE n.user_id = t.user_id AND n.purpose = t.purpose AND n.used_at IS NULL
                  AND (n.created_at, n.id) > (t.created_at, t.id));
CREATE UNIQUE INDEX IF NOT EXISTS one_time_tokens_one_live_idx ON one_time_tokens (user_id, purpose)
  WHERE used_at IS NULL AND purpose <> 'mfa';

-- Failed second factors and email codes per account, across every mfa_id and otp_id, wherever
-- they come from: the backoff of the per-account limit. No foreign key: a wrong code for an unknown
-- otp_id writes (and removes) a row under a random id, so that it costs the same commit as a
-- registered address's (a count left by a deleted user is never read again).
CREATE TABLE IF NOT EXISTS second_factor_failures (
  user_id          uuid PRIMARY KEY,
  failures         integer NOT NULL,
  last_failure_at  timestamptz NOT NULL,
  -- When the user was last told by mail (one notice per lockout).
  notified_at      timestamptz
);
