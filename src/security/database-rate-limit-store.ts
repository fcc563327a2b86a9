import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import { hitRateLimit, resetRateLimit, unhitRateLimit } from '../db/rate-limits-repository.js';
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
    const row = await this.store.run((db) => hitRateLimit(db, key, this.now(), this.#windowMs));
    return { totalHits: row.hits, resetTime: row.reset_at };
  }

  async decrement(key: string): Promise<void> {
    await this.store.run((db) => unhitRateLimit(db, key));
  }

  async resetKey(key: string): Promise<void> {
    await this.store.run((db) => resetRateLimit(db, key));
  }
}
