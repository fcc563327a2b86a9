import type { IncomingMessage } from 'node:http';
import type { Store as ErlStore } from 'express-rate-limit';
import type { Store } from '../db/store.js';
import type { Logger } from '../logger.js';
import { DatabaseRateLimitStore } from './database-rate-limit-store.js';
import { DEFAULT_RATE_LIMITS, type RateLimitOptions } from './rate-limit.js';

/**
 * Limits failed token presentations per client address. Counting happens only on a failure (a
 * shared counter in the database); the decision to refuse is an in-memory lookup, so valid
 * requests on the hot path never touch the database for it.
 */
export class TokenFailureLimiter {
  readonly #blockedUntil = new Map<string, number>();
  readonly #counter: ErlStore;
  readonly #limit: number;

  constructor(
    options: RateLimitOptions,
    store: Store,
    private readonly clientIp: (req: IncomingMessage) => string,
    private readonly now: () => Date,
    private readonly logger: Logger,
  ) {
    const rule = options.token ?? DEFAULT_RATE_LIMITS.token;
    this.#limit = rule.limit;
    this.#counter = options.store ? options.store('token') : new DatabaseRateLimitStore(store, now);
    void this.#counter.init?.({ windowMs: rule.windowSeconds * 1000 } as never);
  }

  /** Seconds this request's address must wait, or 0. */
  retryAfter(req: IncomingMessage): number {
    const ip = this.clientIp(req);
    const until = this.#blockedUntil.get(ip);
    if (until === undefined) return 0;
    const left = until - this.now().getTime();
    if (left > 0) return Math.ceil(left / 1000);
    this.#blockedUntil.delete(ip);
    return 0;
  }

  /** Counts one failed presentation; past the limit the address is refused until the window ends. */
  failed(req: IncomingMessage): void {
    const ip = this.clientIp(req);
    Promise.resolve(this.#counter.increment(`token:${ip}`))
      .then(({ totalHits, resetTime }) => {
        if (totalHits >= this.#limit && resetTime) this.#blockedUntil.set(ip, resetTime.getTime());
      })
      .catch((err: Error) => this.logger.warn({ err: { message: err.message } }, 'express-authlib: could not count a failed token'));
  }
}
