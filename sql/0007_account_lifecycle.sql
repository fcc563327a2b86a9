-- The account lifecycle: links and codes sent by mail, and multi-factor authentication.

-- Every single-use secret that is not a session: password-reset, verification and email-change
-- links, email one-time codes, and pending second-factor sign-ins (mfa_id). Only a hash is kept:
-- SHA-256 of a >= 256-bit link token or mfa_id; a keyed HMAC of a short OTP code (its strength
-- is the attempt limit, not the hash).
CREATE TABLE one_time_tokens (
  id          uuid PRIMARY KEY,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- password_reset | verification | email_change | otp | mfa
  purpose     text NOT NULL,
  token_hash  text NOT NULL UNIQUE,
  -- The address the link or code went to (for email_change: the new address).
  email       text,
  -- Per purpose: the first factor of an mfa_id.
  data        jsonb NOT NULL DEFAULT '{}'::jsonb,
  attempts    integer NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (expires_at);

-- TOTP (RFC 6238) of a user: the secret AES-256-GCM encrypted with encryptionKey; pending until
-- confirmed. last_step is the time step of the last accepted code, so no code is accepted twice.
CREATE TABLE mfa_totp (
  user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret_enc    text NOT NULL,
  confirmed_at  timestamptz,
  last_step     bigint,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Single-use backup codes: SHA-256 of each (they carry 50 bits and are limited like TOTP codes).
CREATE TABLE mfa_backup_codes (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash   text NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mfa_backup_codes_user_idx ON mfa_backup_codes (user_id);
