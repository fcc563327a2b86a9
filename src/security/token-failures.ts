import type { IncomingMessage } from 'node:http';
import type { Store as ErlStore } from 'express-rate-limit';
import type { DatabaseGate } from '../db/database-gate.js';
import type { BackgroundTasks } from '../background-tasks.js';
import type { Logger } from '../logger.js';
import { addressKey, limiterSetup, type LimitRule, type RateLimitOptions } from './rate-limit.js';

/** Size of the refused-address map at which expired entries are swept out. */
const PRUNE_AT = 1000;

/**
 * Limits failed token presentations per client address. Counting happens only on a failure (a
 * shared counter in the database); the decision to refuse is an in-memory lookup, so valid
 * requests on the hot path never touch the database for it.
 */
export class TokenFailureLimiter {
  readonly #blockedUntil = new Map<string, number>();
  readonly #counter: ErlStore;
  /** The `token` rule in force (for the 429 message). */
  readonly rule: LimitRule;

  constructor(
    options: RateLimitOptions,
    database: DatabaseGate,
    private readonly clientIp: (req: IncomingMessage) => string,
    private readonly now: () => Date,
    private readonly logger: Logger,
    private readonly background: BackgroundTasks,
  ) {
    const { rule, counter } = limiterSetup('token', options, database, now);
    this.rule = rule;
    this.#counter = counter;
    void counter.init?.({ windowMs: rule.windowSeconds * 1000 } as never);
  }

  /** Seconds this request's address must wait, or 0. */
  retryAfter(req: IncomingMessage): number {
    // The usual case, on every guarded request: nobody is refused, so the address need not be resolved.
    if (this.#blockedUntil.size === 0) return 0;
    const key = addressKey('token', this.clientIp(req));
    const until = this.#blockedUntil.get(key);
    if (until === undefined) return 0;
    const left = until - this.now().getTime();
    if (left > 0) return Math.ceil(left / 1000);
    this.#blockedUntil.delete(key);
    return 0;
  }

  /** Counts one failed presentation; past the limit the address is refused until the window ends. */
  failed(req: IncomingMessage): void {
    const key = addressKey('token', this.clientIp(req));
    const counted = Promise.resolve(this.#counter.increment(key))
      .then(({ totalHits, resetTime }) => {
        if (totalHits < this.rule.limit || !resetTime) return;
        // Addresses that never come back would otherwise stay forever.
        if (this.#blockedUntil.size >= PRUNE_AT) {
          const now = this.now().getTime();
          for (const [k, until] of this.#blockedUntil) if (until <= now) this.#blockedUntil.delete(k);
        }
        this.#blockedUntil.set(key, resetTime.getTime());
      })
      .catch((err: Error) => this.logger.warn({ err: { message: err.message } }, 'express-authlib: could not count a failed token'));
    // Counted after the 401 went out, so a slow store never delays the answer; close() waits for it.
    this.background.track(counted);
  }
}
