import { randomUUID } from 'node:crypto';
import { InvalidCodeError } from '../errors.js';
import { countFailedAttempt, lockLiveOneTimeToken, markOneTimeTokenUsed, oneTimeTokenOwner } from '../db/one-time-tokens-repository.js';
import { findUserByEmail, identityKey, isUserId, lockUser, markEmailVerified } from '../db/users-repository.js';
import type { User } from '../public-user.js';
import type { EventOrigin } from '../security/audit.js';
import { constantTimeEqual, keyedHash, randomDigits } from '../tokens/secrets.js';
import type { AccountLifecycleService } from './account-lifecycle.js';
import { claimForProvenHolder } from './address-ownership.js';
import type { ServiceContext } from './context.js';
import type { MfaChallenges } from './mfa-challenges.js';
import type { OneTimeTokens } from './one-time-tokens.js';
import type { SessionService, TokenPair } from './sessions.js';

/**
 * Email one-time codes: `request` mails a code and answers an `otp_id` (a well-formed one that can
 * never succeed for an unknown address); `login` checks the code, with `otp.maxAttempts` wrong
 * tries per `otp_id` and the per-account limit across all of them. Codes are kept as a keyed HMAC
 * bound to their `otp_id`, and die when the account's address or password changes.
 */
export class OtpService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly lifecycle: AccountLifecycleService,
    private readonly sessions: SessionService,
    private readonly tokens: OneTimeTokens,
    private readonly challenges: MfaChallenges,
  ) {}

  /** Whether email codes can be used (a mailer exists). */
  get enabled(): boolean {
    return this.ctx.mailer !== undefined;
  }

  async request(email: string, origin?: EventOrigin): Promise<{ otp_id: string }> {
    const mailer = this.lifecycle.requireMailer();
    const otpId = randomUUID();
    const user = await this.ctx.database.run((db) => findUserByEmail(db, email));
    if (!user?.is_active || !user.email) {
      // The same background work on nothing: what a request leaves behind must not tell the addresses apart.
      this.ctx.background.defer(async () => {
        try {
          await this.ctx.database.run((db) => this.tokens.decoy(db, 'otp'));
          await this.ctx.audit.record('otp_requested', { userId: null, origin });
        } catch (err) {
          this.ctx.logger.warn({ err: { message: (err as Error)?.message } }, 'express-authlib: could not record an email code request');
        }
      });
    } else {
      const to = user.email;
      const work = async () => {
        try {
          const code = randomDigits(this.ctx.opts.otp.length);
          // One live code per account (the newest), under the address and password read above.
          const issued = await this.ctx.database.run((db) =>
            this.tokens.issue(db, {
              userId: user.id,
              purpose: 'otp',
              email: to,
              ttlSeconds: this.ctx.opts.otp.expiresIn,
              secret: { id: otpId, hash: this.#hash(otpId, code) },
              version: user.credential_version,
            }),
          );
          if (!issued) return;
          mailer.dispatch({ kind: 'otp', to, user, code, expiresAt: issued.expiresAt, origin });
          await this.ctx.audit.record('otp_requested', { userId: user.id, origin });
        } catch (err) {
          this.ctx.logger.warn({ user_id: user.id, err: { message: (err as Error)?.message } }, 'express-authlib: could not issue an email code');
        }
      };
      this.ctx.background.defer(work);
    }
    return { otp_id: otpId };
  }

  /**
   * Signs in with a mailed code (or finishes an `mfa_id` with it); the email counts as verified.
   * As a first factor on an account whose holder never proved the address, the code is the owner
   * taking the address back: everything set up before ends, the password too (claimForProvenHolder).
   * An `otp_id` that names no code runs the same statements as a wrong code, on nothing, so known
   * and unknown addresses answer after the same work.
   */
  async login(otpId: string, code: string, mfaId: string | undefined, origin?: EventOrigin): Promise<TokenPair & { user: User }> {
    if (!isUserId(otpId)) throw new InvalidCodeError();
    const now = this.ctx.opts.now();
    const outcome = await this.ctx.database.run(async (db) => {
      const owner = await oneTimeTokenOwner(db, 'otp', { id: otpId });
      // Nobody's: a random user id, so every statement below runs and matches nothing.
      const userId = owner ?? randomUUID();
      return db.transaction().execute(async (trx) => {
        // The user's row first (the order of every revocation), then the code: all codes and second
        // factors of one account are checked one after another, so the per-account count holds.
        const user = await lockUser(trx, userId);
        // While the account must wait, even the right code is refused, as a wrong one (not 429:
        // anyone can get an otp_id for any address, and a 429 would say the address is registered).
        const waiting = (await this.ctx.secondFactors.waiting(trx, userId)) > 0;
        const row = await lockLiveOneTimeToken(trx, 'otp', { id: otpId }, now);
        const matches = constantTimeEqual(row?.token_hash ?? this.#hash(randomUUID(), code), this.#hash(otpId, code));
        if (!row || !user || !matches || waiting) {
          // On a random id when there is no live code: the same statement, matching nothing.
          await countFailedAttempt(trx, row?.id ?? randomUUID(), this.ctx.opts.otp.maxAttempts, now);
          if (!row || !user || waiting) {
            await this.ctx.secondFactors.failedNobody(trx, randomUUID());
            return { ok: false as const, userId: row && user ? user.id : null, notify: false, recovered: false };
          }
          const notify = await this.ctx.secondFactors.failed(trx, user.id);
          return { ok: false as const, userId: user.id, notify, recovered: false };
        }
        await markOneTimeTokenUsed(trx, row.id, now);
        await this.ctx.secondFactors.succeeded(trx, user.id);
        // The code is bound to the address it went to, so that is the account's address now.
        const recovered = mfaId === undefined && (await claimForProvenHolder(trx, user, null, now));
        // Every instance must drop what it cached of the user: its tokens ended.
        if (recovered) await this.ctx.revocation.announce(trx, { user: user.id });
        if (!recovered && row.email) await markEmailVerified(trx, user.id, identityKey(row.email), now);
        return { ok: true as const, userId: user.id, notify: false, recovered };
      });
    });
    if (!outcome.ok || outcome.userId === null) {
      await this.ctx.audit.record('otp_failed', { userId: outcome.userId, origin });
      if (outcome.notify && outcome.userId !== null) await this.challenges.tellOfFailures(outcome.userId);
      throw new InvalidCodeError();
    }
    this.ctx.revocation.apply({ user: outcome.userId }); // email_verified may have changed
    if (outcome.recovered) await this.ctx.audit.record('account_recovered', { userId: outcome.userId, data: { by: 'otp' }, origin });
    const login = await this.sessions.loginVerified(outcome.userId, 'otp', { mfaId, origin });
    await this.ctx.audit.record('login_success', { userId: outcome.userId, data: { method: mfaId === undefined ? 'otp' : 'otp+mfa' }, origin });
    return login;
  }

  #hash(otpId: string, code: string): string {
    return keyedHash(this.ctx.opts.encryptionKey, `otp\0${otpId}\0${code}`);
  }
}
