import { sql } from 'kysely';
import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { Store as DbStore } from '../db/store.js';

/**
 * express-rate-limit store on the library's own database: fixed windows, one row per key, updated
 * with a single atomic upsert so every instance on the same database shares the counters.
 */
export class DatabaseRateLimitStore implements Store {
  #windowMs = 60_000;
  constructor(
    private readonly store: DbStore,
    private readonly now: () => Date,
  ) {}

  init(options: Options): void {
    this.#windowMs = options.windowMs;
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    const now = this.now();
    const resetAt = new Date(now.getTime() + this.#windowMs);
    const row = await this.store.run((db) =>
      db
        .insertInto('rate_limits')
        .values({ key: key, hits: 1, reset_at: resetAt })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({
            // A window that has ended starts over; otherwise count one more.
            hits: sql<number>`case when rate_limits.reset_at <= ${now} then 1 else rate_limits.hits + 1 end`,
            reset_at: sql<Date>`case when rate_limits.reset_at <= ${now} then ${resetAt} else rate_limits.reset_at end`,
          }),
        )
        .returning(['hits', 'reset_at'])
        .executeTakeFirstOrThrow(),
    );
    return { totalHits: row.hits, resetTime: row.reset_at };
  }

  async decrement(key: string): Promise<void> {
    await this.store.run((db) =>
      db
        .updateTable('rate_limits')
        .set((eb) => ({ hits: eb('hits', '-', 1) }))
        .where('key', '=', key)
        .where('hits', '>', 0)
        .execute(),
    );
  }

  async resetKey(key: string): Promise<void> {
    await this.store.run((db) => db.deleteFrom('rate_limits').where('key', '=', key).execute());
  }
}
