-- Integrations: credentials a user keeps for another service, entered through the app (an API key,
-- a personal access token...). Accounts linked by OAuth stay in oauth_accounts and are shown beside
-- these; they are never copied here.

-- The secret must be usable later, so it is AES-256-GCM ciphertext (encryptionKey), sealed with
-- (user_id, connector) as associated data: a ciphertext copied into another row does not decrypt.
CREATE TABLE integrations (
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The other service's name, chosen by the app: ^[a-z0-9][a-z0-9_.:-]{0,63}$.
  connector   text NOT NULL,
  -- Who the user is at that service (an account name, an email, a workspace id); never secret.
  identifier  text,
  secret_enc  text NOT NULL,
  scopes      text[] NOT NULL DEFAULT '{}',
  -- What the app keeps beside the secret (a base URL, a region...); not encrypted.
  meta        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  -- One entry per connector and user; the key also serves listing a user's entries.
  PRIMARY KEY (user_id, connector)
);
