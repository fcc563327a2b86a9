import type { Options as ErlOptions, Store } from 'express-rate-limit';
import {
  clearLoginFailures,
  findLoginFailure,
  lockLoginFailures,
  markKnownAddress,
  setLoginFailures,
  unrecordLoginFailure,
  type FailureCount,
} from '../db/login-failures-repository.js';
import type { DatabaseGate } from '../db/database-gate.js';
import { identityKey } from '../identity-key.js';
import { sha256 } from '../tokens/secrets.js';
import { RateLimitError } from '../errors.js';
import { addressKey, limiterSetup, type LimitRule, type RateLimitOptions } from './rate-limit.js';

/** How failures of one kind are delayed: `free` cost nothing, then `baseSeconds` doubling up to `maxSeconds`. */
export interface DelayRule {
  free: number;
  baseSeconds: number;
  maxSeconds: number;
}

/**
 * One account from one address: the guesser's own lane. Five mistakes are free; after that each
 * failure doubles the wait, up to 15 minutes, so one address gets about 110 guesses a day at one
 * account, and nobody else is slowed by them.
 */
export const PAIR_DELAYS: DelayRule = Object.freeze({ free: 5, baseSeconds: 1, maxSeconds: 900 });
/**
 * One account from every address together: what stops a guesser who spreads over many addresses.
 * It starts later and stops at a minute, because anyone can push an account into it: at worst the
 * owner waits a minute, and the whole internet gets about 1,440 guesses a day at one account.
 */
export const ACCOUNT_DELAYS: DelayRule = Object.freeze({ free: 20, baseSeconds: 1, maxSeconds: 60 });
/** A counter whose last failure is older than this starts again from zero. */
export const FAILURES_FORGOTTEN_AFTER_SECONDS = 24 * 3600;
/**
 * An address where the account's password was right within this long is the owner's: the
 * account-wide delay does not apply there, so a guesser spread over many addresses, who can hold
 * that delay up for as long as he keeps guessing, cannot keep the owner out from home or work.
 */
export const KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600;

/** Who a password attempt is for: the name as typed at a login, or the account's username for a signed-in check. */
export interface Account {
  identifier: string;
}

/** An attempt that passed the limits; it already counts as a failure until it is reported right. */
export interface LoginAttempt {
  succeeded(): Promise<void>;
}

/** Seconds to wait after `failures` failures under `rule`. */
export function delayAfter(failures: number, rule: DelayRule = PAIR_DELAYS): number {
  if (failures < rule.free) return 0;
  // The exponent is capped before it is used: 2 ** 1000 is no use to anyone.
  return Math.min(rule.maxSeconds, rule.baseSeconds * 2 ** Math.min(failures - rule.free, 30));
}

/**
 * Failed logins, limited three ways (OWASP's authentication cheat sheet; the per-pair and
 * per-address split of the common brute-force protections):
 * - per (address, account) and per account, with growing delays (PAIR_DELAYS, ACCOUNT_DELAYS),
 *   kept in the database so every instance sees them;
 * - per address, the number of distinct accounts that failed there in a window (`rateLimit.login`),
 *   which stops one client spraying a password across accounts, while a school or an office behind
 *   one address is not locked out by one member guessing one account.
 * An attempt is counted before its password is checked, so concurrent guesses cannot all slip
 * through on the same old count; one that turns out right is taken back. An attempt refused by a
 * limit counts nowhere.
 */
export class LoginThrottle {
  readonly #ready: Promise<unknown>;

  constructor(
    private readonly database: DatabaseGate,
    private readonly now: () => Date,
    private readonly addressRule: LimitRule,
    private readonly counter: Store,
  ) {
    this.#ready = Promise.resolve(counter.init?.({ windowMs: addressRule.windowSeconds * 1000, limit: addressRule.limit } as ErlOptions));
  }

  /**
   * The name as typed (folded, hashed: a password typed into the name field is not kept). By name,
   * not by account, so that an account's counters answer no differently from an unknown name's:
   * a 429 for one spelling must not tell a guesser which email address belongs to which username.
   * A username and an email address thus have a budget each.
   */
  #account(account: Account): string {
    return `n:${sha256(identityKey(account.identifier))}`;
  }

  /** Counts the attempt, or throws 429 when a limit says this client must wait. */
  async begin(account: Account, ip: string): Promise<LoginAttempt> {
    const who = this.#account(account);
    const address = await this.#claimAddress(who, ip);
    try {
      await this.#claimDelays(`${who}|${ip}`, who, `ok:${who}|${ip}`);
    } catch (err) {
      await address.release();
      throw err;
    }
    return {
      succeeded: async () => {
        await address.release();
        await this.database.run(async (db) => {
          await clearLoginFailures(db, `${who}|${ip}`);
          await unrecordLoginFailure(db, who);
          await markKnownAddress(db, `ok:${who}|${ip}`, this.now());
        });
      },
    };
  }

  /**
   * The per-address count of distinct accounts: a (address, account) pair counts once per window,
   * the first time it is seen. Returns how to take the claim back.
   */
  async #claimAddress(who: string, ip: string): Promise<{ release(): Promise<void> }> {
    await this.#ready;
    const addressCount = addressKey('login', ip);
    const pairCount = `${addressCount}|${who}`;
    const pair = await this.counter.increment(pairCount);
    const firstOfPair = pair.totalHits === 1;
    const hits = firstOfPair ? (await this.counter.increment(addressCount)).totalHits : await this.#peek(addressCount);
    const release = async () => {
      await this.counter.decrement(pairCount);
      if (firstOfPair) await this.counter.decrement(addressCount);
    };
    if (hits > this.addressRule.limit) {
      await release();
      const resetTime = (await this.counter.get?.(addressCount))?.resetTime ?? pair.resetTime;
      const seconds = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - this.now().getTime()) / 1000)) : this.addressRule.windowSeconds;
      throw new RateLimitError(seconds, 'login', this.addressRule);
    }
    return { release };
  }

  /** The current count of a key; a store without `get` is read by a hit taken straight back. */
  async #peek(key: string): Promise<number> {
    if (this.counter.get) return (await this.counter.get(key))?.totalHits ?? 0;
    const { totalHits } = await this.counter.increment(key);
    await this.counter.decrement(key);
    return totalHits - 1;
  }

  /** Both delay counters in one transaction, locked: either both count this attempt, or it waits. */
  async #claimDelays(pairKey: string, accountKey: string, knownKey: string): Promise<void> {
    const now = this.now();
    await this.database.run((db) =>
      db.transaction().execute(async (trx) => {
        const rows = new Map((await lockLoginFailures(trx, [pairKey, accountKey])).map((row) => [row.key, row]));
        const pair = current(rows.get(pairKey), now);
        const account = current(rows.get(accountKey), now);
        const known = await findLoginFailure(trx, knownKey);
        const owners = known !== undefined && now.getTime() - known.last_failure_at.getTime() < KNOWN_ADDRESS_SECONDS * 1000;
        const wait = Math.max(waitMs(pair, PAIR_DELAYS, now), owners ? 0 : waitMs(account, ACCOUNT_DELAYS, now));
        if (wait > 0) throw new RateLimitError(Math.ceil(wait / 1000), 'account');
        await setLoginFailures(trx, pairKey, pair.failures + 1, now);
        await setLoginFailures(trx, accountKey, account.failures + 1, now);
      }),
    );
  }
}

/** A counter as it stands now: one left alone long enough is forgotten. */
function current(row: FailureCount | undefined, now: Date): { failures: number; last: Date } {
  if (!row || now.getTime() - row.last_failure_at.getTime() > FAILURES_FORGOTTEN_AFTER_SECONDS * 1000) return { failures: 0, last: new Date(0) };
  return { failures: row.failures, last: row.last_failure_at };
}

function waitMs(count: { failures: number; last: Date }, rule: DelayRule, now: Date): number {
  return delayAfter(count.failures, rule) * 1000 - (now.getTime() - count.last.getTime());
}

/** The throttle on the `login` limiter's rule and store (one store per limiter, shared with its routes). */
export function loginThrottle(options: RateLimitOptions, database: DatabaseGate, now: () => Date): LoginThrottle {
  const { rule, counter } = limiterSetup('login', options, database, now);
  return new LoginThrottle(database, now, rule, counter);
}
