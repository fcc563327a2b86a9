import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export function findLoginFailures(db: Kysely<Database>, key: string) {
  return db.selectFrom('login_failures').selectAll().where('key', '=', key).executeTakeFirst();
}

/** Counts one more failure of `key` (atomic upsert, so concurrent failures all count). */
export async function recordLoginFailure(db: Kysely<Database>, key: string, at: Date): Promise<void> {
  await db
    .insertInto('login_failures')
    .values({ key, failures: 1, last_failure_at: at })
    .onConflict((oc) => oc.column('key').doUpdateSet({ failures: sql<number>`login_failures.failures + 1`, last_failure_at: at }))
    .execute();
}

export async function clearLoginFailures(db: Kysely<Database>, key: string): Promise<void> {
  await db.deleteFrom('login_failures').where('key', '=', key).execute();
}
