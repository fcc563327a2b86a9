-- Joining a group is an invitation the invitee accepts; and a service key remembers who minted it,
-- so it ends when they no longer administer its group.

-- One pending invitation per group and invitee, addressed either to an account (by username) or to
-- an email address (acceptable only by an account whose verified email is that address).
CREATE TABLE IF NOT EXISTS group_invitations (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  group_id    uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
  -- The address as the identity key (trimmed, case-folded), as users.email_key.
  email_key   text,
  -- Kept for the invitation mail only.
  email       text,
  roles       text[] NOT NULL DEFAULT '{}',
  invited_by  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  CONSTRAINT group_invitations_one_invitee CHECK ((user_id IS NULL) <> (email_key IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS group_invitations_user_idx ON group_invitations (group_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS group_invitations_email_idx ON group_invitations (group_id, email_key) WHERE email_key IS NOT NULL;
-- The invitee's listing looks them up by account and by address.
CREATE INDEX IF NOT EXISTS group_invitations_invitee_user_idx ON group_invitations (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS group_invitations_invitee_email_idx ON group_invitations (email_key) WHERE email_key IS NOT NULL;

-- Who minted a service key (null for keys minted by trusted code, or before this column existed):
-- the key is revoked when they stop administering its group. Deleting them deletes their keys.
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS created_by uuid REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX IF NOT EXISTS api_tokens_created_by_idx ON api_tokens (created_by) WHERE created_by IS NOT NULL;
