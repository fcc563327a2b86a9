-- Groups (organizations, teams, tenants): a hierarchy with several parents per group and never a
-- cycle, members with roles inside a group, and service keys (API tokens that act for a group).

CREATE TABLE groups (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name         text NOT NULL,
  -- ^[a-z0-9][a-z0-9-]{0,62}$, checked by the library; may stand for the id in paths.
  slug         text NOT NULL UNIQUE,
  description  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One edge of the hierarchy. The primary key serves walks down (children of a parent), the second
-- index walks up (parents of a child): both directions are recursive CTEs over an index.
CREATE TABLE group_parents (
  parent_id  uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  child_id   uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  PRIMARY KEY (parent_id, child_id),
  CHECK (parent_id <> child_id)
);
CREATE INDEX group_parents_child_idx ON group_parents (child_id, parent_id);

-- Direct memberships only; membership of every ancestor is derived. `admin` in roles makes a group admin.
CREATE TABLE group_members (
  group_id    uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  roles       text[] NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_idx ON group_members (user_id, group_id);
-- Member lists page oldest first; the last-admin rule counts a group's admins.
CREATE INDEX group_members_group_created_idx ON group_members (group_id, created_at, user_id);
CREATE INDEX group_members_admins_idx ON group_members (group_id) WHERE 'admin' = ANY (roles);

-- Service keys are API tokens owned by a group instead of a user: exactly one owner per token.
ALTER TABLE api_tokens ADD COLUMN group_id uuid REFERENCES groups (id) ON DELETE CASCADE;
ALTER TABLE api_tokens ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_one_owner CHECK ((user_id IS NULL) <> (group_id IS NULL));
CREATE INDEX api_tokens_group_idx ON api_tokens (group_id);
