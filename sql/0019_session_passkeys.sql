-- The passkey that opened a login (its first factor, or the second of a sign-in begun with another
-- method): removing the passkey ends the logins it opened, so a passkey planted by someone else and
-- then removed by the owner leaves that someone no login behind. Null for every other login (and
-- for those begun before this column existed: which passkey opened them was not recorded).
-- (Re-runnable: IF NOT EXISTS.)
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS passkey_id uuid REFERENCES passkeys (id) ON DELETE SET NULL;
CREATE INDEX IF NOT EXISTS sessions_passkey_idx ON sessions (passkey_id) WHERE passkey_id IS NOT NULL;
