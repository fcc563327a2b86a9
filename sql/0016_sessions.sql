-- One row per login (a refresh-token family, `refresh_tokens.family_id`, carried as `sid` in access
-- tokens): what a user sees in their list of sessions. Whether a login is still going is the
-- refresh tokens' business (a live, unused one); this table only says when and from where.
-- `device` is a short summary derived from the User-Agent ("Chrome on macOS"), never the header.
CREATE TABLE IF NOT EXISTS sessions (
  id            uuid PRIMARY KEY,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz NOT NULL DEFAULT now(),
  ip            text,
  device        text
);
CREATE INDEX IF NOT EXISTS sessions_user_idx ON sessions (user_id, last_used_at DESC);

-- Logins begun before this table existed: when they began and were last refreshed; where from is unknown.
INSERT INTO sessions (id, user_id, created_at, last_used_at)
SELECT family_id, user_id, min(created_at), max(created_at)
FROM refresh_tokens
GROUP BY family_id, user_id
ON CONFLICT (id) DO NOTHING;
