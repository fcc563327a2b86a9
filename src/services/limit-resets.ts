import type { Kysely } from 'kysely';
import { NotFoundError } from '../errors.js';
import type { Database } from '../db/schema.js';
import { deleteAllLoginFailures, deleteLoginFailures, loginFailureKeysContaining } from '../db/login-failures-repository.js';
import { deleteAllRateLimits, deleteRateLimits, rateLimitKeysContaining } from '../db/rate-limits-repository.js';
import { clearSecondFactorFailures, deleteAllSecondFactorFailures } from '../db/second-factor-failures-repository.js';
import { findUserById } from '../db/users-repository.js';
import type { EventOrigin } from '../security/audit.js';
import { accountParts, addressParts, keyNamesAny } from '../security/limit-keys.js';
import type { ServiceContext } from './context.js';

/** What `auth.rateLimits.reset` clears: the counters of an address, of an account, or (`all`) every one. */
export interface LimitResetTarget {
  /** A client address (IPv4 or IPv6; an IPv6 address clears its /56, which the limiters count as one). */
  ip?: string;
  /** An account: its failed-login delays from every address, its second-factor count, and counters keyed by it. */
  userId?: string;
  /** Every counter of every address and account. */
  all?: boolean;
}

/** How many stored counters a reset deleted that were counting (a count above 0), per table. */
export interface LimitResetResult {
  /** Route limiter counters (`login`, `mail`, `mailTarget`, ...). */
  rate_limits: number;
  /** Per (account, address) failed-login delays. */
  login_failures: number;
  /** Per-account second-factor and email-code counts. */
  second_factor_failures: number;
}

/**
 * Clears rate-limit counters and lockouts in the library's database, for operators (`authlib user
 * unlock`, `authlib limits reset`). Counters kept in a custom `rateLimit.store` are not touched.
 */
export class LimitResetService {
  constructor(private readonly ctx: Pick<ServiceContext, 'database' | 'audit'>) {}

  /** Ends every lockout of the account (as `reset({ userId })`); audited as `user_unlocked`. 404 for no such user. */
  async unlock(userId: string, origin?: EventOrigin): Promise<LimitResetResult> {
    const cleared = await this.#clear({ userId });
    await this.ctx.audit.record('user_unlocked', { userId, data: { cleared }, origin });
    return cleared;
  }

  /** Clears the counters of an address and/or an account, or all; audited as `rate_limits_reset`. */
  async reset(target: LimitResetTarget, origin?: EventOrigin): Promise<LimitResetResult> {
    const { ip, userId, all } = target ?? {};
    if (all === true ? ip !== undefined || userId !== undefined : ip === undefined && userId === undefined)
      throw new TypeError('express-authlib: rateLimits.reset takes { ip } and/or { userId }, or { all: true } alone');
    const cleared = await this.#clear({ ip, userId, all });
    await this.ctx.audit.record('rate_limits_reset', {
      userId: userId ?? null,
      data: { ...(all ? { all: true } : {}), ...(ip !== undefined ? { ip } : {}), cleared },
      origin,
    });
    return cleared;
  }

  async #clear({ ip, userId, all }: LimitResetTarget): Promise<LimitResetResult> {
    const address = ip === undefined ? [] : addressParts(ip);
    return this.ctx.database.run((db) =>
      db.transaction().execute(async (trx) => {
        if (all) {
          return {
            rate_limits: await deleteAllRateLimits(trx),
            login_failures: await deleteAllLoginFailures(trx),
            second_factor_failures: await deleteAllSecondFactorFailures(trx),
          };
        }
        const user = userId === undefined ? undefined : await findUserById(trx, userId);
        if (userId !== undefined && !user) throw new NotFoundError('user not found');
        const parts = [...address, ...(user ? accountParts(user) : [])];
        return {
          rate_limits: await deleteRateLimits(trx, await named(trx, rateLimitKeysContaining, parts)),
          login_failures: await deleteLoginFailures(trx, await named(trx, loginFailureKeysContaining, parts)),
          second_factor_failures: user && (await clearSecondFactorFailures(trx, user.id)) ? 1 : 0,
        };
      }),
    );
  }
}

/** The keys that name one of `parts` (see keyNamesAny), of the candidates the database finds. */
async function named(
  db: Kysely<Database>,
  candidates: (db: Kysely<Database>, parts: readonly string[]) => Promise<string[]>,
  parts: readonly string[],
): Promise<string[]> {
  return (await candidates(db, parts)).filter((key) => keyNamesAny(key, parts));
}
