-- A linking flow (POST /{user}/identities/{provider}) is begun by a signed-in user and, at the
-- callback, attaches an identity to that user and signs them in. It is derived from that user's
-- standing, so it must end with it: the state keeps the user's token version when the flow began,
-- and the callback refuses the flow once the version has moved on (logout-all, a password change,
-- a role change, disabling). Null for sign-in flows, and for flows begun before this migration.
ALTER TABLE oauth_states ADD COLUMN IF NOT EXISTS link_user_version integer;
