import { randomUUID } from 'node:crypto';
import { InvalidCodeError } from '../errors.js';
import { countFailedAttempt, insertOneTimeToken, lockLiveOneTimeToken, markOneTimeTokenUsed, retireOneTimeTokens } from '../db/one-time-tokens-repository.js';
import { findUserByEmail, identityKey, markEmailVerified, isUserId } from '../db/users-repository.js';
import type { User } from '../public-user.js';
import type { EventOrigin } from '../security/audit.js';
import { constantTimeEqual, keyedHash, randomDigits } from '../tokens/secrets.js';
import type { AccountLifecycleService } from './account-lifecycle.js';
import type { ServiceContext } from './context.js';
import type { OneTimeTokens } from './one-time-tokens.js';
import type { SessionService, TokenPair } from './sessions.js';

/**
 * Email one-time codes: `request` mails a code and answers an `otp_id` (a well-formed one that can
 * never succeed for an unknown address); `login` checks the code, with `otp.maxAttempts` wrong
 * tries per `otp_id`. Codes are kept as a keyed HMAC bound to their `otp_id`.
 */
export class OtpService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly lifecycle: AccountLifecycleService,
    private readonly sessions: SessionService,
    private readonly tokens: OneTimeTokens,
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
          const now = this.ctx.opts.now();
          const expiresAt = new Date(now.getTime() + this.ctx.opts.otp.expiresIn * 1000);
          await this.ctx.database.run((db) =>
            db.transaction().execute(async (trx) => {
              await retireOneTimeTokens(trx, user.id, ['otp'], now);
              await insertOneTimeToken(trx, {
                id: otpId,
                user_id: user.id,
                purpose: 'otp',
                token_hash: this.#hash(otpId, code),
                email: to,
                created_at: now,
                expires_at: expiresAt,
              });
            }),
          );
          mailer.dispatch({ kind: 'otp', to, user, code, expiresAt, origin });
          await this.ctx.audit.record('otp_requested', { userId: user.id, origin });
        } catch (err) {
          this.ctx.logger.warn({ user_id: user.id, err: { message: (err as Error)?.message } }, 'express-authlib: could not issue an email code');
        }
      };
      this.ctx.background.defer(work);
    }
    return { otp_id: otpId };
  }

  /** Signs in with a mailed code (or finishes an `mfa_id` with it); the email counts as verified. */
  async login(otpId: string, code: string, mfaId: string | undefined, origin?: EventOrigin): Promise<TokenPair & { user: User }> {
    if (!isUserId(otpId)) throw new InvalidCodeError();
    const now = this.ctx.opts.now();
    const outcome = await this.ctx.database.run((db) =>
      db.transaction().execute(async (trx) => {
        // Locked: concurrent guesses are counted one after another, so maxAttempts holds.
        const row = await lockLiveOneTimeToken(trx, 'otp', { id: otpId }, now);
        if (!row) return { ok: false, userId: null };
        if (!constantTimeEqual(row.token_hash, this.#hash(otpId, code))) {
          await countFailedAttempt(trx, row.id, this.ctx.opts.otp.maxAttempts, now);
          return { ok: false, userId: row.user_id };
        }
        await markOneTimeTokenUsed(trx, row.id, now);
        if (row.email) await markEmailVerified(trx, row.user_id, identityKey(row.email), now);
        return { ok: true, userId: row.user_id };
      }),
    );
    if (!outcome.ok || outcome.userId === null) {
      await this.ctx.audit.record('otp_failed', { userId: outcome.userId, origin });
      throw new InvalidCodeError();
    }
    this.ctx.revocation.apply({ user: outcome.userId }); // email_verified may have changed
    const login = await this.sessions.loginVerified(outcome.userId, 'otp', { mfaId, origin });
    await this.ctx.audit.record('login_success', { userId: outcome.userId, data: { method: mfaId === undefined ? 'otp' : 'otp+mfa' }, origin });
    return login;
  }

  #hash(otpId: string, code: string): string {
    return keyedHash(this.ctx.opts.encryptionKey, `otp\0${otpId}\0${code}`);
  }
}
