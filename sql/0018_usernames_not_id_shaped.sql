-- Usernames: a username never spells a user id, as a group slug never spells a group id (0011).
-- A username equal to another account's id (hyphenated or not, in any case) let that name stand
-- for the other account wherever either is accepted: the CLI's `<user>` and listings that show
-- `username (id)`. Such usernames (32 hex digits once hyphens are dropped, the spellings
-- PostgreSQL's uuid type reads within the username alphabet) are renamed to `user-<first 8 hex
-- digits of the account's own id>` (with `-2`, `-3`... if that is taken), each renaming recorded
-- as a `user_updated` event with the previous username and the reason; then the CHECK constraint
-- users_username_not_id_shaped makes the database refuse them from now on.
-- (Re-runnable: a second run finds nothing to rename and puts the same constraint back.)
DO $$
DECLARE
  r record;
  base text;
  candidate text;
  n integer;
BEGIN
  FOR r IN SELECT id, username FROM users WHERE replace(username, '-', '') ~* '^[0-9a-f]{32}$' ORDER BY created_at, id LOOP
    base := 'user-' || left(replace(r.id::text, '-', ''), 8);
    candidate := base;
    n := 2;
    -- username_key is identityKey(username); for these ASCII lower-case names it is the name itself.
    WHILE EXISTS (SELECT 1 FROM users WHERE username_key = candidate) LOOP
      candidate := base || '-' || n;
      n := n + 1;
    END LOOP;
    UPDATE users SET username = candidate, username_key = candidate, updated_at = now() WHERE id = r.id;
    INSERT INTO auth_events (type, user_id, data)
    VALUES ('user_updated', r.id, jsonb_build_object(
      'fields', jsonb_build_array('username'),
      'previous_username', r.username,
      'username', candidate,
      'reason', 'username_shaped_like_an_id'));
  END LOOP;
END
$$;

ALTER TABLE users DROP CONSTRAINT IF EXISTS users_username_not_id_shaped;
ALTER TABLE users ADD CONSTRAINT users_username_not_id_shaped CHECK (NOT (replace(username, '-', '') ~* '^[0-9a-f]{32}$'));
