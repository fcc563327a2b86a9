import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import {
  clearSecondFactorFailures,
  findSecondFactorFailures,
  markSecondFactorNotified,
  recordSecondFactorFailure,
  writeNoSecondFactorFailure,
} from '../db/second-factor-failures-repository.js';
import { RateLimitError } from '../errors.js';

/** Failed second factors and email codes per account, across all its challenges, that cost nothing extra. */
export const SECOND_FACTOR_FREE_FAILURES = 5;
/** The wait after the first failure beyond the free ones; it doubles with each further failure. */
export const SECOND_FACTOR_BASE_DELAY_SECONDS = 60;
/** The wait never grows beyond this. */
export const SECOND_FACTOR_MAX_DELAY_SECONDS = 3600;
/** A count whose last failure is this old starts again. */
export const SECOND_FACTOR_RESET_SECONDS = 86_400;

/** Seconds the account must wait after `failures` failures. */
export function secondFactorDelay(failures: number): number {
  if (failures < SECOND_FACTOR_FREE_FAILURES) return 0;
  return Math.min(SECOND_FACTOR_MAX_DELAY_SECONDS, SECOND_FACTOR_BASE_DELAY_SECONDS * 2 ** (failures - SECOND_FACTOR_FREE_FAILURES));
}

/**
 * The per-account limit on second factors (TOTP, backup codes, a password or code finishing an
 * `mfa_id`) and email codes: whatever the number of `mfa_id`s, `otp_id`s or client addresses, an
 * account gets SECOND_FACTOR_FREE_FAILURES wrong tries, then waits 60 s, 120 s, ... up to an hour
 * between tries. While it must wait, no code is even checked: a second factor gets 429 `rate_limited`
 * (limit `secondFactor`), an email code 400 `invalid_code` (see `waiting`).
 * Each method runs in the caller's transaction, after the user's row was locked, so concurrent
 * guesses are counted one after another.
 */
export class SecondFactorLimit {
  /** `enforced` false (`rateLimit: false`): nothing is counted or refused, but the decoy work of `failedNobody` still runs. */
  constructor(
    private readonly now: () => Date,
    private readonly enforced = true,
  ) {}

  /** Throws 429 while the account must wait. */
  async check(trx: Transaction<Database>, userId: string): Promise<void> {
    const wait = await this.waiting(trx, userId);
    if (wait > 0) throw new RateLimitError(wait, 'secondFactor');
  }

  /**
   * Seconds the account must still wait (0: a code may be checked). Runs the same query for an
   * unknown id. For email codes, whose `otp_id` an anonymous caller gets for any address, the
   * caller answers a waiting account as a wrong code: a 429 would tell registered addresses apart.
   */
  async waiting(trx: Transaction<Database>, userId: string): Promise<number> {
    if (!this.enforced) return 0;
    const row = await findSecondFactorFailures(trx, userId);
    if (!row) return 0;
    const now = this.now().getTime();
    if (now - row.last_failure_at.getTime() > SECOND_FACTOR_RESET_SECONDS * 1000) return 0;
    const wait = secondFactorDelay(row.failures) * 1000 - (now - row.last_failure_at.getTime());
    return wait > 0 ? Math.ceil(wait / 1000) : 0;
  }

  /**
   * Counts a failure. Returns true when the user should be told by mail: the count just reached
   * the point where waits begin, and nobody was told in the last day.
   */
  async failed(trx: Transaction<Database>, userId: string): Promise<boolean> {
    if (!this.enforced) return false;
    const now = this.now();
    const { failures, notified_at } = await recordSecondFactorFailure(trx, userId, now, new Date(now.getTime() - SECOND_FACTOR_RESET_SECONDS * 1000));
    const tell =
      failures >= SECOND_FACTOR_FREE_FAILURES && (notified_at === null || now.getTime() - notified_at.getTime() > SECOND_FACTOR_RESET_SECONDS * 1000);
    if (tell) await markSecondFactorNotified(trx, userId, now);
    return tell;
  }

  /** The work of `failed` for an id that has no account (an unknown `otp_id`), so both take alike. */
  async failedNobody(trx: Transaction<Database>, fakeId: string): Promise<void> {
    await writeNoSecondFactorFailure(trx, fakeId, this.now());
  }

  async succeeded(trx: Transaction<Database>, userId: string): Promise<void> {
    if (!this.enforced) return;
    await clearSecondFactorFailures(trx, userId);
  }
}
