-- Audit trail and per-account login throttling.

-- One row per security-relevant event. `data` never holds a password, token or secret.
CREATE TABLE auth_events (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type        text NOT NULL,
  user_id     uuid,
  actor_id    uuid,
  ip          text,
  user_agent  text,
  data        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_events_user_idx ON auth_events (user_id, created_at);
CREATE INDEX auth_events_type_idx ON auth_events (type, created_at);

-- Failed logins per (account, client address): growing delays for that pair only, so an attacker
-- elsewhere cannot lock the real user out.
CREATE TABLE login_failures (
  key             text PRIMARY KEY,
  failures        integer NOT NULL,
  last_failure_at timestamptz NOT NULL
);
