import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import { hitRateLimit, readRateLimit, resetRateLimit, unhitRateLimit } from '../db/rate-limits-repository.js';
import type { DatabaseGate } from '../db/database-gate.js';

/**
 * express-rate-limit store on the library's own database: fixed windows, one row per key, updated
 * with a single atomic upsert so every instance on the same database shares the counters.
 */
export class DatabaseRateLimitStore implements Store {
  #windowMs = 60_000;
  constructor(
    private readonly database: DatabaseGate,
    private readonly now: () => Date,
  ) {}

  init(options: Options): void {
    this.#windowMs = options.windowMs;
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    const row = await this.database.run((db) => hitRateLimit(db, key, this.now(), this.#windowMs));
    return { totalHits: row.hits, resetTime: row.reset_at };
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const row = await this.database.run((db) => readRateLimit(db, key, this.now()));
    return row && { totalHits: row.hits, resetTime: row.reset_at };
  }

  async decrement(key: string): Promise<void> {
    await this.database.run((db) => unhitRateLimit(db, key));
  }

  async resetKey(key: string): Promise<void> {
    await this.database.run((db) => resetRateLimit(db, key));
  }
}
