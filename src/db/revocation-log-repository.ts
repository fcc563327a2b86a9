import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/** How long a logged revocation is kept: far longer than any poller's overlap. */
export const REVOCATION_LOG_RETENTION_SECONDS = 600;

/** Announces `payload` on `channel`; PostgreSQL delivers it to every listener when `trx` commits. */
export async function notifyOnCommit(trx: Transaction<Database>, channel: string, payload: string): Promise<void> {
  await sql`select pg_notify(${channel}, ${payload})`.execute(trx);
}

export async function logRevocation(trx: Transaction<Database>, event: object): Promise<void> {
  await trx
    .insertInto('revocation_log')
    .values({ event: JSON.stringify(event) })
    .execute();
}

/** The database's clock, so that every instance measures the log with one clock. */
export async function databaseNow(db: Kysely<Database>): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`select clock_timestamp() as now`.execute(db);
  return new Date(rows[0]!.now);
}

/** Revocations logged after `since` (minus `overlapSeconds`), oldest first. */
export function revocationsSince(db: Kysely<Database>, since: Date, overlapSeconds: number) {
  return db
    .selectFrom('revocation_log')
    .select(['id', 'event', 'created_at'])
    .where('created_at', '>', new Date(since.getTime() - overlapSeconds * 1000))
    .orderBy('id')
    .execute();
}

export async function pruneRevocations(trx: Transaction<Database>): Promise<void> {
  await trx
    .deleteFrom('revocation_log')
    .where('created_at', '<', sql<Date>`clock_timestamp() - make_interval(secs => ${REVOCATION_LOG_RETENTION_SECONDS})`)
    .execute();
}
