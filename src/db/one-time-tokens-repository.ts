import { sql, type Kysely, type SelectQueryBuilder, type Transaction, type UpdateQueryBuilder } from 'kysely';
import type { Database, OneTimePurpose, OneTimeTokenRow, UserOneTimeTokenRow } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export async function insertOneTimeToken(
  db: Db,
  row: {
    id: string;
    user_id: string | null;
    purpose: OneTimePurpose;
    token_hash: string;
    email: string | null;
    data?: Record<string, unknown>;
    credential_version: number;
    created_at: Date;
    expires_at: Date;
  },
): Promise<void> {
  await db
    .insertInto('one_time_tokens')
    .values({ ...row, data: JSON.stringify(row.data ?? {}) })
    .execute();
}

/**
 * A token is live only while its user's address and password are the ones it was issued under:
 * the database bumps `users.credential_version` on any change of either, by any path. (A row
 * without a user, a passkey sign-in challenge, never passes: see claimPasskeyChallenge.)
 */
function issuedForCurrentCredentials<
  QB extends SelectQueryBuilder<Database, 'one_time_tokens', any> | UpdateQueryBuilder<Database, 'one_time_tokens', 'one_time_tokens', any>,
>(qb: QB): QB {
  return (qb as SelectQueryBuilder<Database, 'one_time_tokens', any>).where((eb) =>
    eb.exists(
      eb
        .selectFrom('users')
        .select('users.id')
        .whereRef('users.id', '=', 'one_time_tokens.user_id')
        .whereRef('users.credential_version', '=', 'one_time_tokens.credential_version'),
    ),
  ) as unknown as QB;
}

/** Ends every live token of the user for these purposes (a newer request replaces them; a reset ends them all). */
export async function retireOneTimeTokens(db: Db, userId: string, purposes: readonly OneTimePurpose[], now: Date): Promise<void> {
  await db
    .updateTable('one_time_tokens')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('purpose', 'in', purposes)
    .where('used_at', 'is', null)
    .execute();
}

/**
 * Uses a live token up, if and only if it is live: the conditional UPDATE lets exactly one of any
 * number of concurrent presentations have it.
 */
export function claimOneTimeToken(db: Db, purpose: OneTimePurpose, tokenHash: string, now: Date): Promise<UserOneTimeTokenRow | undefined> {
  return issuedForCurrentCredentials(db.updateTable('one_time_tokens'))
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst() as Promise<UserOneTimeTokenRow | undefined>;
}

/** A live token by its hash, without using it up. */
export function findLiveOneTimeToken(db: Db, purpose: OneTimePurpose, tokenHash: string, now: Date): Promise<UserOneTimeTokenRow | undefined> {
  return issuedForCurrentCredentials(db.selectFrom('one_time_tokens'))
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst() as Promise<UserOneTimeTokenRow | undefined>;
}

/** A live token by id (OTP, mfa_id), locked for the caller's transaction so attempts are counted one at a time. */
export function lockLiveOneTimeToken(
  db: Transaction<Database>,
  purpose: OneTimePurpose,
  by: { id: string } | { tokenHash: string },
  now: Date,
): Promise<UserOneTimeTokenRow | undefined> {
  return issuedForCurrentCredentials(db.selectFrom('one_time_tokens'))
    .selectAll()
    .where((eb) => ('id' in by ? eb('id', '=', by.id) : eb('token_hash', '=', by.tokenHash)))
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .forUpdate()
    .executeTakeFirst() as Promise<UserOneTimeTokenRow | undefined>;
}

/** Counts a wrong try; at `maxAttempts` the token is dead. */
export async function countFailedAttempt(db: Db, id: string, maxAttempts: number, now: Date): Promise<void> {
  await db
    .updateTable('one_time_tokens')
    .set({ attempts: sql<number>`attempts + 1`, used_at: sql<Date | null>`case when attempts + 1 >= ${maxAttempts} then ${now}::timestamptz else null end` })
    .where('id', '=', id)
    // Only a live token counts tries: a used one must never come back to life.
    .where('used_at', 'is', null)
    .execute();
}

export async function markOneTimeTokenUsed(db: Db, id: string, now: Date): Promise<void> {
  await db.updateTable('one_time_tokens').set({ used_at: now }).where('id', '=', id).execute();
}

/** Drops tokens that expired more than a day ago (kept a while for the audit trail's sake). */
export async function pruneOneTimeTokens(db: Db, before: Date): Promise<void> {
  await db.deleteFrom('one_time_tokens').where('expires_at', '<', before).execute();
}

/** The user id of a token by id (OTP), live or not: to lock its user before the token itself. */
export async function oneTimeTokenOwner(db: Db, purpose: OneTimePurpose, by: { id: string } | { tokenHash: string }): Promise<string | undefined> {
  const row = await db
    .selectFrom('one_time_tokens')
    .select('user_id')
    .where((eb) => ('id' in by ? eb('id', '=', by.id) : eb('token_hash', '=', by.tokenHash)))
    .where('purpose', '=', purpose)
    .executeTakeFirst();
  return row?.user_id ?? undefined;
}

/** Ends the oldest live tokens of the user for `purpose` beyond the newest `keep` (the cap on live mfa_ids). */
export async function retireAllButNewest(db: Db, userId: string, purpose: OneTimePurpose, keep: number, now: Date): Promise<void> {
  const newest = db
    .selectFrom('one_time_tokens')
    .select('id')
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(keep);
  await db
    .updateTable('one_time_tokens')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('id', 'not in', newest)
    .execute();
}

/**
 * Uses a WebAuthn challenge up, if it is live and is the one the response signed (`tokenHash`, the
 * SHA-256 of the challenge the client data carries): the conditional UPDATE lets exactly one of any
 * number of concurrent presentations have it. `challengeId`, when given, must name that same row.
 * A registration challenge must be `userId`'s and still under the credentials it was issued with;
 * a sign-in challenge has no user (`userId` null).
 */
export function claimPasskeyChallenge(
  db: Db,
  purpose: 'passkey_register' | 'passkey_login',
  by: { tokenHash: string; challengeId?: string | undefined; userId: string | null },
  now: Date,
): Promise<OneTimeTokenRow | undefined> {
  let qb = db
    .updateTable('one_time_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', by.tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now);
  if (by.challengeId !== undefined) qb = qb.where('id', '=', by.challengeId);
  qb = by.userId === null ? qb.where('user_id', 'is', null) : issuedForCurrentCredentials(qb.where('user_id', '=', by.userId));
  return qb.returningAll().executeTakeFirst();
}
