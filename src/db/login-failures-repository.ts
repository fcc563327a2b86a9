import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { containsPattern } from './users-repository.js';

/** A failure counter's row as the throttle reads it. */
export interface FailureCount {
  key: string;
  failures: number;
  last_failure_at: Date;
}

/**
 * Locks the counters of `keys` for the rest of the transaction, creating missing ones at zero, and
 * returns them. Keys are locked in sorted order, so two attempts that share keys cannot deadlock;
 * concurrent attempts on one account therefore take turns, each seeing the others' counts.
 */
export async function lockLoginFailures(db: Kysely<Database>, keys: readonly string[]): Promise<FailureCount[]> {
  const sorted = [...new Set(keys)].sort();
  await db
    .insertInto('login_failures')
    .values(sorted.map((key) => ({ key, failures: 0, last_failure_at: new Date(0) })))
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  return db.selectFrom('login_failures').selectAll().where('key', 'in', sorted).orderBy('key').forUpdate().execute();
}

/** Sets a counter (the caller holds its lock). */
export async function setLoginFailures(db: Kysely<Database>, key: string, failures: number, at: Date): Promise<void> {
  await db.updateTable('login_failures').set({ failures, last_failure_at: at }).where('key', '=', key).execute();
}

/** Takes back one failure (an attempt counted in advance that turned out right). */
export async function unrecordLoginFailure(db: Kysely<Database>, key: string): Promise<void> {
  await db
    .updateTable('login_failures')
    .set({ failures: sql<number>`greatest(failures - 1, 0)` })
    .where('key', '=', key)
    .execute();
}

export async function clearLoginFailures(db: Kysely<Database>, key: string): Promise<void> {
  await db.deleteFrom('login_failures').where('key', '=', key).execute();
}

/** Keys containing any of `parts` (a superset: the caller decides which keys name them). */
export async function loginFailureKeysContaining(db: Kysely<Database>, parts: readonly string[]): Promise<string[]> {
  if (parts.length === 0) return [];
  const rows = await db
    .selectFrom('login_failures')
    .select('key')
    .where((eb) => eb.or(parts.map((part) => eb('key', 'like', containsPattern(part)))))
    .execute();
  return rows.map((r) => r.key);
}

/**
 * Deletes these counters; returns how many of them were counting (failures above 0): a counter taken
 * back to 0 by a success may linger, and holds nobody back.
 */
export async function deleteLoginFailures(db: Kysely<Database>, keys: readonly string[]): Promise<number> {
  let counting = 0;
  for (let i = 0; i < keys.length; i += 1000) {
    const rows = await db
      .deleteFrom('login_failures')
      .where('key', 'in', keys.slice(i, i + 1000))
      .returning('failures')
      .execute();
    counting += rows.filter((r) => r.failures > 0).length;
  }
  return counting;
}

/** Deletes every counter; returns how many were counting (failures above 0). */
export async function deleteAllLoginFailures(db: Kysely<Database>): Promise<number> {
  const rows = await db.deleteFrom('login_failures').returning('failures').execute();
  return rows.filter((r) => r.failures > 0).length;
}

export function findLoginFailure(db: Kysely<Database>, key: string): Promise<FailureCount | undefined> {
  return db.selectFrom('login_failures').selectAll().where('key', '=', key).executeTakeFirst();
}

/** Remembers when a password was last right from an address (kept in the same table: a key and a time). */
export async function markKnownAddress(db: Kysely<Database>, key: string, at: Date): Promise<void> {
  await db
    .insertInto('login_failures')
    .values({ key, failures: 0, last_failure_at: at })
    .onConflict((oc) => oc.column('key').doUpdateSet({ last_failure_at: at }))
    .execute();
}
