-- OAuth hardening: states bound to the browser that began them, explicit linking flows, and
-- provider emails kept on the identity with the provider's verified flag.

-- In-flight flows cannot be finished across this upgrade (they carry no browser binding); they
-- would have expired within 10 minutes anyway.
DELETE FROM oauth_states;

ALTER TABLE oauth_states
  -- SHA-256 of the HttpOnly cookie set on the browser that began the flow.
  ADD COLUMN browser_hash text NOT NULL,
  -- Set when a signed-in user began the flow to link a provider to their account.
  ADD COLUMN link_user_id uuid REFERENCES users (id) ON DELETE CASCADE,
  -- What the strategy needs back at the callback (PKCE verifier, nonce, its session), AES-256-GCM.
  ADD COLUMN flow_enc text,
  -- The rate-limit key of the address that began the flow, to cap live states per address.
  ADD COLUMN client_key text NOT NULL;
CREATE INDEX oauth_states_client_idx ON oauth_states (client_key, created_at);

-- What the provider said of the email it gave; an unverified provider email stays on the identity.
ALTER TABLE oauth_accounts ADD COLUMN email_verified boolean NOT NULL DEFAULT false;
-- Until now only an OAuth sign-up could verify an email, and only when its provider said so.
UPDATE oauth_accounts a SET email_verified = true
FROM users u
WHERE u.id = a.user_id AND u.email_verified AND u.password_hash IS NULL AND a.email = u.email;

-- Earlier releases let an OAuth sign-up take the provider's email into users.email even when the
-- provider called it unverified, which let a squatter hold someone else's address. Such accounts
-- (no password, email not verified, the same address on one of their identities) give it up.
UPDATE users SET email = NULL, email_key = NULL
WHERE email_verified = false
  AND password_hash IS NULL
  AND email IS NOT NULL
  AND EXISTS (SELECT 1 FROM oauth_accounts a WHERE a.user_id = users.id AND a.email = users.email);
