import type { Transaction } from 'kysely';
import { AuthenticationError, InvalidCodeError, MfaRequiredError } from '../errors.js';
import { countFailedAttempt, findLiveOneTimeToken, lockLiveOneTimeToken, markOneTimeTokenUsed, oneTimeTokenOwner } from '../db/one-time-tokens-repository.js';
import type { Database } from '../db/schema.js';
import { findUserById, lockCredentialVersion, type UserRecord } from '../db/users-repository.js';
import { toPublicUser } from '../public-user.js';
import type { EventOrigin } from '../security/audit.js';
import { effectiveRolesOf } from '../security/role-implications.js';
import { sha256 } from '../tokens/secrets.js';
import type { ServiceContext } from './context.js';
import type { OneTimeTokens } from './one-time-tokens.js';

/**
 * A way to sign in; MFA takes two different ones (a backup code counts as TOTP). A passkey, which
 * always comes with user verification, counts as two on its own.
 */
export type SignInMethod = 'password' | 'otp' | 'oauth' | 'totp' | 'passkey';

/** How long an `mfa_id` lives, and how many wrong second factors it survives. */
export const MFA_CHALLENGE_SECONDS = 300;
export const MFA_CHALLENGE_ATTEMPTS = 5;

const MFA_ID = /^[0-9A-Za-z]{43}$/;

const deadMfaId = () => new InvalidCodeError('the mfa_id is invalid, used or expired: sign in again', { signInOver: true });

/**
 * What a second-factor check found: accepted, wrong, or a TOTP code that was right but already
 * accepted once (each time step opens once, so a code replayed, or sent twice at once, is refused).
 */
export type CodeVerdict = 'ok' | 'wrong' | 'used';

/**
 * 400 `invalid_code` for a refused code; only the message says whether it was already used (the
 * user then waits for the authenticator's next code rather than retyping this one).
 */
export function invalidCode(verdict: 'wrong' | 'used'): InvalidCodeError {
  return verdict === 'used' ? new InvalidCodeError('this code was already used; wait for the next one from your authenticator app') : new InvalidCodeError();
}

/**
 * The step between the first factor and the tokens for a user with MFA on: `begin` answers the
 * first factor with an `mfa_id` (single use, 300 s, bound to the user and the first method);
 * `consume` lets exactly one different second factor of that user finish it, and counts wrong ones.
 */
export class MfaChallenges {
  readonly #effectiveRoles: (held: readonly string[]) => string[];

  constructor(
    private readonly ctx: ServiceContext,
    private readonly tokens: OneTimeTokens,
  ) {
    this.#effectiveRoles = effectiveRolesOf(ctx.opts.roleImplications);
  }

  /** Whether the user's passkeys count (the `webauthn` option is set and the user has one). */
  #passkeys(user: Pick<UserRecord, 'has_passkey'>): boolean {
    return this.ctx.opts.webauthn !== undefined && user.has_passkey;
  }

  /** The second factors `user` can finish with after `first`. */
  methodsFor(user: Pick<UserRecord, 'password_hash' | 'email' | 'mfa_enabled' | 'has_passkey'>, first: SignInMethod): string[] {
    const methods = user.mfa_enabled ? ['totp', 'backup_code'] : [];
    if (this.#passkeys(user)) methods.push('passkey');
    if (user.password_hash) methods.push('password');
    if (this.ctx.mailer && user.email) methods.push('otp');
    return first === 'totp' ? methods.filter((m) => m !== 'totp' && m !== 'backup_code') : methods.filter((m) => m !== first);
  }

  /**
   * Whether a sign-in's first factor must be followed by a second: TOTP is on, or `mfa.required`
   * holds the user and they have a passkey (their second factor; without one they sign in and meet
   * `mfa_setup_required`). A passkey by itself is a way in, not a demand for two.
   */
  due(user: UserRecord): boolean {
    if (user.mfa_enabled) return true;
    if (!this.#passkeys(user) || !this.ctx.opts.mfa.required) return false;
    return this.ctx.opts.mfa.required({ ...toPublicUser(user), roles: this.#effectiveRoles(user.roles) }) === true;
  }

  /** Starts the second step: the error to answer the first factor with. */
  async begin(user: UserRecord, first: SignInMethod, origin?: EventOrigin): Promise<MfaRequiredError> {
    const issued = await this.ctx.database.run((db) =>
      this.tokens.issue(db, {
        userId: user.id,
        purpose: 'mfa',
        email: null,
        ttlSeconds: MFA_CHALLENGE_SECONDS,
        data: { method: first },
        version: user.credential_version,
      }),
    );
    // The password or address changed while the first factor was being checked: that factor is void.
    if (!issued) throw new AuthenticationError('invalid_credentials', 'invalid username or password');
    const { token } = issued;
    await this.ctx.audit.record('mfa_required', { userId: user.id, data: { method: first }, origin });
    return new MfaRequiredError(token, this.methodsFor(user, first));
  }

  /**
   * The user of a live `mfa_id`, without using it up (the options of a passkey as its second
   * factor name that user's passkeys); 401 `invalid_code` when it is dead.
   */
  async userOf(mfaId: string): Promise<string> {
    const row = MFA_ID.test(mfaId) ? await this.ctx.database.run((db) => findLiveOneTimeToken(db, 'mfa', sha256(mfaId), this.ctx.opts.now())) : undefined;
    if (!row) throw deadMfaId();
    return row.user_id;
  }

  /**
   * Finishes the challenge with a second factor: `second` must differ from the first method, the
   * challenge must belong to `userId` (when the second factor named a user, as a password does),
   * and `verify` (run inside the transaction, with the challenge's user) must accept the code. A
   * failure counts against the challenge; the fifth ends it. Returns the user id.
   */
  async consume(
    mfaId: string,
    second: SignInMethod,
    options: { userId?: string; verify?: (trx: Transaction<Database>, userId: string) => Promise<CodeVerdict>; origin?: EventOrigin | undefined } = {},
  ): Promise<string> {
    const dead = deadMfaId;
    if (typeof mfaId !== 'string' || !MFA_ID.test(mfaId)) throw dead();
    const now = this.ctx.opts.now();
    const tokenHash = sha256(mfaId);
    const outcome = await this.ctx.database.run(async (db) => {
      const owner = await oneTimeTokenOwner(db, 'mfa', { tokenHash });
      if (owner === undefined) return { ok: false as const, userId: null, notify: false, used: false };
      return db.transaction().execute(async (trx) => {
        // The user's row first, then the challenge (the order every revocation takes): every second
        // factor of one account is checked one after another, so the per-account count holds.
        await lockCredentialVersion(trx, owner);
        const row = await lockLiveOneTimeToken(trx, 'mfa', { tokenHash }, now);
        if (!row) return { ok: false as const, userId: null, notify: false, used: false };
        await this.ctx.secondFactors.check(trx, row.user_id);
        const first = row.data.method;
        const sameMethod = first === second;
        const otherUser = options.userId !== undefined && options.userId !== row.user_id;
        const verdict = sameMethod || otherUser ? 'wrong' : options.verify ? await options.verify(trx, row.user_id) : 'ok';
        if (verdict !== 'ok') {
          await countFailedAttempt(trx, row.id, MFA_CHALLENGE_ATTEMPTS, now);
          const notify = await this.ctx.secondFactors.failed(trx, row.user_id);
          return { ok: false as const, userId: row.user_id, notify, used: verdict === 'used' };
        }
        await markOneTimeTokenUsed(trx, row.id, now);
        await this.ctx.secondFactors.succeeded(trx, row.user_id);
        return { ok: true as const, userId: row.user_id, notify: false };
      });
    });
    if (!outcome.ok) {
      await this.ctx.audit.record('mfa_failed', { userId: outcome.userId, data: { method: second }, origin: options.origin });
      if (outcome.notify && outcome.userId !== null) await this.tellOfFailures(outcome.userId);
      throw outcome.userId === null ? dead() : invalidCode(outcome.used ? 'used' : 'wrong');
    }
    return outcome.userId;
  }

  /** The notice mail when an account's wrong second factors reach the point where waits begin. */
  async tellOfFailures(userId: string): Promise<void> {
    await this.ctx.audit.record('second_factor_locked', { userId });
    if (!this.ctx.mailer) return;
    const user = await this.ctx.database.run((db) => findUserById(db, userId));
    if (user?.email) this.ctx.mailer.dispatch({ kind: 'failed_codes', to: user.email, user });
  }
}
