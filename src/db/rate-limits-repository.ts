import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { containsPattern } from './users-repository.js';

/**
 * One more hit on `key` in its fixed window, in a single atomic upsert: a window that has ended
 * starts over at 1, otherwise the count grows. Returns the count and when the window ends.
 */
export async function hitRateLimit(db: Kysely<Database>, key: string, now: Date, windowMs: number): Promise<{ hits: number; reset_at: Date }> {
  const resetAt = new Date(now.getTime() + windowMs);
  return db
    .insertInto('rate_limits')
    .values({ key, hits: 1, reset_at: resetAt })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        hits: sql<number>`case when rate_limits.reset_at <= ${now} then 1 else rate_limits.hits + 1 end`,
        reset_at: sql<Date>`case when rate_limits.reset_at <= ${now} then ${resetAt} else rate_limits.reset_at end`,
      }),
    )
    .returning(['hits', 'reset_at'])
    .executeTakeFirstOrThrow();
}

/** The count of `key` in its current window (undefined when its window has ended or it never counted). */
export function readRateLimit(db: Kysely<Database>, key: string, now: Date): Promise<{ hits: number; reset_at: Date } | undefined> {
  return db.selectFrom('rate_limits').select(['hits', 'reset_at']).where('key', '=', key).where('reset_at', '>', now).executeTakeFirst();
}

export async function unhitRateLimit(db: Kysely<Database>, key: string): Promise<void> {
  await db
    .updateTable('rate_limits')
    .set((eb) => ({ hits: eb('hits', '-', 1) }))
    .where('key', '=', key)
    .where('hits', '>', 0)
    .execute();
}

export async function resetRateLimit(db: Kysely<Database>, key: string): Promise<void> {
  await db.deleteFrom('rate_limits').where('key', '=', key).execute();
}

/** Keys containing any of `parts` (a superset: the caller decides which keys name them). */
export async function rateLimitKeysContaining(db: Kysely<Database>, parts: readonly string[]): Promise<string[]> {
  if (parts.length === 0) return [];
  const rows = await db
    .selectFrom('rate_limits')
    .select('key')
    .where((eb) => eb.or(parts.map((part) => eb('key', 'like', containsPattern(part)))))
    .execute();
  return rows.map((r) => r.key);
}

/**
 * Deletes these counters; returns how many of them were counting (hits above 0): a counter taken
 * back to 0 by a success may linger, and holds nobody back.
 */
export async function deleteRateLimits(db: Kysely<Database>, keys: readonly string[]): Promise<number> {
  let counting = 0;
  for (let i = 0; i < keys.length; i += 1000) {
    const rows = await db
      .deleteFrom('rate_limits')
      .where('key', 'in', keys.slice(i, i + 1000))
      .returning('hits')
      .execute();
    counting += rows.filter((r) => r.hits > 0).length;
  }
  return counting;
}

/** Deletes every counter; returns how many were counting (hits above 0). */
export async function deleteAllRateLimits(db: Kysely<Database>): Promise<number> {
  const rows = await db.deleteFrom('rate_limits').returning('hits').execute();
  return rows.filter((r) => r.hits > 0).length;
}
