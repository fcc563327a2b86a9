-- OAuth: linked provider accounts and in-flight authorization states.

-- An identity is (provider, provider_user_id), never an email. Provider tokens are kept
-- AES-256-GCM encrypted (they must be usable later, so they cannot be hashed).
CREATE TABLE oauth_accounts (
  provider          text NOT NULL,
  provider_user_id  text NOT NULL,
  user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  email             text,
  access_token_enc  text,
  refresh_token_enc text,
  scopes            jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, provider_user_id),
  -- One account per provider per user: linking a second GitHub account is an explicit unlink + link.
  UNIQUE (user_id, provider)
);

-- One row per authorization request: single use, expiring, bound to its provider. Only the
-- SHA-256 of the state is stored; the PKCE verifier is encrypted.
CREATE TABLE oauth_states (
  state_hash    text PRIMARY KEY,
  provider      text NOT NULL,
  verifier_enc  text,
  redirect_to   text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL
);
CREATE INDEX oauth_states_expires_idx ON oauth_states (expires_at);
