import { clearLoginFailures, findLoginFailures, recordLoginFailure } from '../db/login-failures-repository.js';
import type { DatabaseGate } from '../db/database-gate.js';
import { identityKey } from '../db/users-repository.js';
import { RateLimitError } from '../errors.js';

/** Failed logins per (account, address) that cost nothing extra. */
export const LOGIN_FREE_FAILURES = 5;
/** Delay after the first failure beyond the free ones; doubles with each further failure. */
export const LOGIN_BASE_DELAY_SECONDS = 1;
/** The delay never grows beyond this. */
export const LOGIN_MAX_DELAY_SECONDS = 900;

/** Who a login attempt is for: the account when it exists, and the name as typed. */
export interface Account {
  userId: string | undefined;
  identifier: string;
}

/** Seconds an (account, address) pair must wait after `failures` failures. */
export function delayAfter(failures: number): number {
  if (failures < LOGIN_FREE_FAILURES) return 0;
  return Math.min(LOGIN_MAX_DELAY_SECONDS, LOGIN_BASE_DELAY_SECONDS * 2 ** (failures - LOGIN_FREE_FAILURES));
}

/**
 * Growing delays between failed logins of one account from one client address, kept in the
 * database so every instance sees them. Keyed by account AND address: someone guessing from
 * elsewhere slows only themself, never the real user.
 */
export class LoginThrottle {
  constructor(
    private readonly database: DatabaseGate,
    private readonly now: () => Date,
  ) {}

  /** An existing account by its id, so its username and email share one budget; else the name typed. */
  #key(account: Account, ip: string): string {
    return `${account.userId ? `u:${account.userId}` : `n:${identityKey(account.identifier)}`}|${ip}`;
  }

  /** Throws 429 while this pair must still wait. */
  async check(account: Account, ip: string): Promise<void> {
    const row = await this.database.run((db) => findLoginFailures(db, this.#key(account, ip)));
    if (!row) return;
    const wait = delayAfter(row.failures) * 1000 - (this.now().getTime() - row.last_failure_at.getTime());
    if (wait > 0) throw new RateLimitError(Math.ceil(wait / 1000), 'account');
  }

  async failed(account: Account, ip: string): Promise<void> {
    await this.database.run((db) => recordLoginFailure(db, this.#key(account, ip), this.now()));
  }

  async succeeded(account: Account, ip: string): Promise<void> {
    await this.database.run((db) => clearLoginFailures(db, this.#key(account, ip)));
  }
}
