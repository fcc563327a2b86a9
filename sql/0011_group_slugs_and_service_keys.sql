-- Groups: a slug never names what an id names, and service keys carry no `*`.

-- A service key's scopes are its roles in its own group, and `*` is not one: a key that held it
-- keeps its other scopes and is a plain member of its group as far as `*` went (it was never a
-- role, and must not stand for every role). Scopes are a jsonb array; `-` drops every '*'.
UPDATE api_tokens SET scopes = scopes - '*' WHERE group_id IS NOT NULL AND scopes ? '*';

-- Slugs shaped like an id (32 hex digits once hyphens are dropped) are renamed by the data step
-- of this migration (src/db/data-steps.ts), which then adds the CHECK constraint
-- groups_slug_not_id_shaped, so that no slug can ever be read as an id again.
