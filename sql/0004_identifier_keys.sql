-- Usernames and emails are compared through full Unicode case folding (straße = STRASSE,
-- ΟΔΟΣ = οδοσ), where the keys used to be only lower-cased. The keys of existing rows are
-- recomputed by this migration's data step (src/db/data-steps.ts), in the same transaction:
-- the folding is the library's own function, which SQL cannot reproduce on every server.
-- Two existing accounts whose names fold together make the migration fail, naming both.
COMMENT ON COLUMN users.username_key IS 'identityKey(username): trimmed, NFKC, fully case-folded';
COMMENT ON COLUMN users.email_key IS 'identityKey(email): trimmed, NFKC, fully case-folded';
