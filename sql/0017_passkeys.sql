-- Passkeys (WebAuthn Level 2, contract 5.7): a user's registered credentials. Only public
-- material is kept: the credential id the authenticator chose, its COSE public key, the signature
-- counter and the transports the browser reported. A dump of this table signs nobody in.
CREATE TABLE IF NOT EXISTS passkeys (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- base64url, as the browser reports it; unique: a credential belongs to one user.
  credential_id  text NOT NULL,
  -- base64url of the COSE_Key the attestation carried.
  public_key     text NOT NULL,
  -- The authenticator's signature counter at the last accepted assertion (0 for one that keeps none).
  counter        bigint NOT NULL DEFAULT 0,
  transports     text[] NOT NULL DEFAULT '{}',
  name           text NOT NULL,
  -- 'singleDevice' or 'multiDevice' (a synced passkey), and whether it is backed up now.
  device_type    text NOT NULL,
  backed_up      boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_used_at   timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS passkeys_credential_idx ON passkeys (credential_id);
CREATE INDEX IF NOT EXISTS passkeys_user_idx ON passkeys (user_id);

-- WebAuthn challenges live in one_time_tokens with the other single-use secrets: a registration
-- challenge is bound to its user (and dies with the address or password, as links do); a sign-in
-- challenge is issued before anyone is known, so it has no user (the account it was asked for, if
-- any, is in `data`). Only such rows (purpose 'passkey_login') have no user_id.
ALTER TABLE one_time_tokens ALTER COLUMN user_id DROP NOT NULL;
