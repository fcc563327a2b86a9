import { sql, type Kysely, type Transaction } from 'kysely';
import type { Selectable } from 'kysely';
import type { Database, SecondFactorFailuresTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** The account's failed second factors and email codes so far; a random id finds nothing, after the same query. */
export function findSecondFactorFailures(db: Db, userId: string): Promise<Selectable<SecondFactorFailuresTable> | undefined> {
  return db.selectFrom('second_factor_failures').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/**
 * Counts one more failure (atomic upsert); a count whose last failure is older than `resetBefore`
 * starts again at 1. Returns the count and when the user was last told by mail.
 */
export async function recordSecondFactorFailure(db: Db, userId: string, now: Date, resetBefore: Date): Promise<{ failures: number; notified_at: Date | null }> {
  return db
    .insertInto('second_factor_failures')
    .values({ user_id: userId, failures: 1, last_failure_at: now })
    .onConflict((oc) =>
      oc.column('user_id').doUpdateSet({
        failures: sql<number>`case when second_factor_failures.last_failure_at < ${resetBefore}::timestamptz then 1 else second_factor_failures.failures + 1 end`,
        last_failure_at: now,
      }),
    )
    .returning(['failures', 'notified_at'])
    .executeTakeFirstOrThrow();
}

/**
 * The write of a failure for an id with no account (an unknown otp_id), undone at once: the
 * transaction commits a write, as a registered address's does, and leaves nothing behind.
 */
export async function writeNoSecondFactorFailure(db: Db, fakeId: string, now: Date): Promise<void> {
  await db.insertInto('second_factor_failures').values({ user_id: fakeId, failures: 1, last_failure_at: now }).execute();
  await db.deleteFrom('second_factor_failures').where('user_id', '=', fakeId).execute();
}

export async function markSecondFactorNotified(db: Db, userId: string, now: Date): Promise<void> {
  await db.updateTable('second_factor_failures').set({ notified_at: now }).where('user_id', '=', userId).execute();
}

/** Deletes the account's count; returns whether there was one. */
export async function clearSecondFactorFailures(db: Db, userId: string): Promise<boolean> {
  const result = await db.deleteFrom('second_factor_failures').where('user_id', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Deletes every account's count; returns how many there were. */
export async function deleteAllSecondFactorFailures(db: Db): Promise<number> {
  return Number((await db.deleteFrom('second_factor_failures').executeTakeFirst()).numDeletedRows);
}
