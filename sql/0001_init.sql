-- express-authlib core schema. Applied inside the configured schema (search_path is set by the
-- migrator), so every table lives in `dbSchema` and never touches the host app's tables.

CREATE TABLE users (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username        text NOT NULL,
  -- NFKC + lower-case forms: 'Alice' and 'alice' are one account.
  username_key    text NOT NULL UNIQUE,
  email           text,
  email_key       text UNIQUE,
  password_hash   text,
  real_name       text,
  profile         jsonb NOT NULL DEFAULT '{}'::jsonb,
  email_verified  boolean NOT NULL DEFAULT false,
  is_active       boolean NOT NULL DEFAULT true,
  -- Bumped by logout-all, password change, disable and role change; access tokens carry it.
  token_version   integer NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  last_login      timestamptz
);

CREATE TABLE roles (
  name        text PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO roles (name) VALUES ('admin'), ('user');

CREATE TABLE user_roles (
  user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role     text NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
  PRIMARY KEY (user_id, role)
);

-- One row per issued refresh token; only its SHA-256 is stored. A family is one login.
CREATE TABLE refresh_tokens (
  id           uuid PRIMARY KEY,
  family_id    uuid NOT NULL,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash   text NOT NULL UNIQUE,
  parent_id    uuid,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_parent_idx ON refresh_tokens (parent_id);
-- Start-up loads the logins revoked within the last access-token lifetime.
CREATE INDEX refresh_tokens_revoked_idx ON refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;

-- API tokens: `api_<id><secret>`; the id is public, only the SHA-256 of the whole token is kept.
CREATE TABLE api_tokens (
  id            text PRIMARY KEY,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name          text NOT NULL,
  token_hash    text NOT NULL,
  scopes        jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  last_used_at  timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- Fixed-window counters for the rate limiter, shared by every instance on this database.
CREATE TABLE rate_limits (
  key       text PRIMARY KEY,
  hits      integer NOT NULL,
  reset_at  timestamptz NOT NULL
);
