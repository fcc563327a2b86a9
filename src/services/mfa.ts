import { randomInt } from 'node:crypto';
import type { Transaction } from 'kysely';
import type * as OTPAuthModule from 'otpauth';
import { lazyRequire } from '../lazy-require.js';
import { AuthenticationError, ConflictError, ForbiddenError, InvalidCodeError, NotFoundError } from '../errors.js';
import { hasUnverifiedAddress } from './address-ownership.js';
import { acceptTotpStep, countBackupCodes, deleteMfa, findTotp, replaceBackupCodes, savePendingTotp, useBackupCode } from '../db/mfa-repository.js';
import type { Database } from '../db/schema.js';
import { findUserById, lockCredentialVersion, type UserRecord } from '../db/users-repository.js';
import type { User } from '../public-user.js';
import type { EventOrigin } from '../security/audit.js';
import { seal, unseal } from '../tokens/encryption.js';
import { sealedAt } from '../security/sealed-places.js';
import { keyedHash } from '../tokens/secrets.js';
import type { ServiceContext } from './context.js';
import { accountPasswordMatches } from './account-password.js';
import { invalidCode, type CodeVerdict, type MfaChallenges } from './mfa-challenges.js';
import type { SessionService, TokenPair } from './sessions.js';

// Loaded on the first TOTP operation.
const otpauth = lazyRequire<typeof OTPAuthModule>('otpauth');

/** RFC 6238 as the contract fixes it: SHA-1, 6 digits, 30 s steps, one step of skew either way. */
const TOTP_PERIOD = 30;
const TOTP_DIGITS = 6;
const TOTP_WINDOW = 1;
export const BACKUP_CODE_COUNT = 10;
/** Backup codes: 10 characters of a 32-letter alphabet without look-alikes (50 bits), shown as xxxxx-xxxxx. */
const BACKUP_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

const notVerified = () => new ForbiddenError('email_not_verified', 'verify your email address before turning on a second factor');
const wrongPassword = () => new AuthenticationError('invalid_credentials', 'the password is wrong');

/** TOTP (setup, confirm, disable), backup codes, and the `/login/mfa` second step. */
export class MfaService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly challenges: MfaChallenges,
    private readonly sessions: SessionService,
  ) {}

  async status(userId: string): Promise<{ totp: { enabled: boolean }; backup_codes: { remaining: number } }> {
    return this.ctx.database.run(async (db) => {
      const totp = await findTotp(db, userId);
      return { totp: { enabled: totp?.confirmed ?? false }, backup_codes: { remaining: totp?.confirmed ? await countBackupCodes(db, userId) : 0 } };
    });
  }

  /** A new pending secret (replacing an unconfirmed one); 409 when TOTP is already on. */
  async setup(userId: string, password: string | undefined, origin?: EventOrigin): Promise<{ secret: string; otpauth_url: string }> {
    const user = await this.#userWithPassword(userId, password, origin);
    // A second factor planted by whoever registered an address they have not proven would lock its owner out.
    if (hasUnverifiedAddress(user)) throw notVerified();
    const secret = new (otpauth().Secret)({ size: 20 });
    const saved = await this.ctx.database.run((db) =>
      savePendingTotp(db, userId, seal(this.ctx.opts.encryptionKey, secret.base32, sealedAt.totpSecret(userId)), this.ctx.opts.now()),
    );
    if (!saved) throw new ConflictError('TOTP is already on; disable it first');
    return { secret: secret.base32, otpauth_url: this.#totp(secret.base32, user.username).toString() };
  }

  /** Turns the pending secret on with a first code from it; answers 10 fresh backup codes, shown once. */
  async confirm(userId: string, code: string, origin?: EventOrigin): Promise<{ backup_codes: string[] }> {
    const codes = Array.from({ length: BACKUP_CODE_COUNT }, backupCode);
    const now = this.ctx.opts.now();
    const ok = await this.ctx.database.run(async (db) => {
      const totp = await findTotp(db, userId);
      if (totp?.confirmed) throw new ConflictError('TOTP is already on');
      if (!totp) throw new InvalidCodeError('start with POST /mfa/totp/setup');
      // Checked again: the address may have changed since the setup.
      const user = await findUserById(db, userId);
      if (!user || hasUnverifiedAddress(user)) throw notVerified();
      // Announced: requireAuth on every instance sees MFA on (mfa_setup_required lifts).
      return this.ctx.revocation.commit(db, { user: userId }, async (trx) => {
        const verdict = await this.#acceptTotp(trx, userId, totp.secret_enc, code, true);
        if (verdict !== 'ok') return verdict;
        await replaceBackupCodes(
          trx,
          userId,
          codes.map((c) => this.#backupHash(c)),
          now,
        );
        return verdict;
      });
    });
    if (ok !== 'ok') throw invalidCode(ok);
    await this.ctx.audit.record('mfa_enabled', { userId, data: { method: 'totp' }, origin });
    return { backup_codes: codes };
  }

  /** Turns TOTP off (and drops the backup codes): the password (if the account has one) and a TOTP or backup code. */
  async disable(userId: string, password: string | undefined, code: string, origin?: EventOrigin): Promise<void> {
    await this.#userWithPassword(userId, password, origin);
    await this.#withSecondCode(userId, code, origin, (trx) => deleteMfa(trx, userId));
    await this.ctx.audit.record('mfa_disabled', { userId, origin });
  }

  /** A fresh set of backup codes; the old ones die. Same proof as `disable`. */
  async regenerateBackupCodes(userId: string, password: string | undefined, code: string, origin?: EventOrigin): Promise<{ backup_codes: string[] }> {
    await this.#userWithPassword(userId, password, origin);
    const codes = Array.from({ length: BACKUP_CODE_COUNT }, backupCode);
    await this.#withSecondCode(userId, code, origin, (trx) =>
      replaceBackupCodes(
        trx,
        userId,
        codes.map((c) => this.#backupHash(c)),
        this.ctx.opts.now(),
      ),
    );
    await this.ctx.audit.record('backup_codes_regenerated', { userId, origin });
    return { backup_codes: codes };
  }

  /** `/login/mfa`: finishes an `mfa_id` with a TOTP or backup code. */
  async loginSecondFactor(mfaId: string, method: 'totp' | 'backup_code', code: string, origin?: EventOrigin): Promise<TokenPair & { user: User }> {
    const userId = await this.challenges.consume(mfaId, 'totp', { origin, verify: (trx, id) => this.#checkCode(trx, id, code, method) });
    if (method === 'backup_code') await this.#backupCodeUsed(userId, origin);
    const login = await this.sessions.loginAfterSecondFactor(userId, origin);
    await this.ctx.audit.record('login_success', { userId, data: { method: `mfa:${method}` }, origin });
    return login;
  }

  /** The user, after checking `password` when the account has one (a password-less account gives none). */
  async #userWithPassword(userId: string, password: string | undefined, origin: EventOrigin | undefined): Promise<UserRecord> {
    const user = await this.ctx.database.run((db) => findUserById(db, userId));
    if (!user) throw new NotFoundError('user not found');
    if (user.password_hash && !(await accountPasswordMatches(this.ctx, user, password, origin))) throw wrongPassword();
    return user;
  }

  /** Runs `work` in the transaction that accepts `code` (TOTP or backup code) of the user's confirmed TOTP; 400 when wrong. */
  async #withSecondCode(userId: string, code: string, origin: EventOrigin | undefined, work: (trx: Transaction<Database>) => Promise<void>): Promise<void> {
    const method = /^\d+$/.test(code) ? 'totp' : 'backup_code';
    // Counted per account with the sign-in's second factors: a stolen access token must not buy
    // unlimited guesses at the code that turns MFA off (the user's row serialises them).
    const { verdict, notify } = await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { user: userId }, async (trx) => {
        await lockCredentialVersion(trx, userId);
        await this.ctx.secondFactors.check(trx, userId);
        const checked = await this.#checkCode(trx, userId, code, method);
        if (checked !== 'ok') return { verdict: checked, notify: await this.ctx.secondFactors.failed(trx, userId) };
        await this.ctx.secondFactors.succeeded(trx, userId);
        await work(trx);
        return { verdict: checked, notify: false };
      }),
    );
    if (verdict !== 'ok') {
      await this.ctx.audit.record('mfa_failed', { userId, data: { method }, origin });
      if (notify) await this.challenges.tellOfFailures(userId);
      throw invalidCode(verdict);
    }
    if (method === 'backup_code') await this.#backupCodeUsed(userId, origin);
  }

  /** Audited after the transaction that used it: the audit writes on a connection of its own. */
  async #backupCodeUsed(userId: string, origin: EventOrigin | undefined): Promise<void> {
    const remaining = await this.ctx.database.run((db) => countBackupCodes(db, userId));
    await this.ctx.audit.record('backup_code_used', { userId, data: { remaining }, origin });
  }

  /** Whether `code` is a current TOTP code (never accepted twice) or an unused backup code of the user. */
  async #checkCode(trx: Transaction<Database>, userId: string, code: string, method: 'totp' | 'backup_code'): Promise<CodeVerdict> {
    const totp = await findTotp(trx, userId);
    if (!totp?.confirmed) return 'wrong';
    if (method === 'totp') return this.#acceptTotp(trx, userId, totp.secret_enc, code, false);
    // A used backup code is gone, so it reads as wrong: nothing tells it from one never issued.
    return (await useBackupCode(trx, userId, this.#backupHash(code), this.ctx.opts.now())) ? 'ok' : 'wrong';
  }

  /** `used`: the code is right for its time step, but that step was already accepted (a replay, or the same code sent twice at once). */
  async #acceptTotp(trx: Transaction<Database>, userId: string, secretEnc: string, code: string, confirm: boolean): Promise<CodeVerdict> {
    // Bound to this user's row: a secret copied from another user's row does not open here.
    const secret = unseal(this.ctx.opts.encryptionKey, secretEnc, sealedAt.totpSecret(userId));
    if (!secret || !/^\d{6}$/.test(code)) return 'wrong';
    const now = this.ctx.opts.now().getTime();
    const delta = this.#totp(secret, '').validate({ token: code, timestamp: now, window: TOTP_WINDOW });
    if (delta === null) return 'wrong';
    const step = Math.floor(now / 1000 / TOTP_PERIOD) + delta;
    return (await acceptTotpStep(trx, userId, step, this.ctx.opts.now(), confirm)) ? 'ok' : 'used';
  }

  #totp(secretBase32: string, username: string): OTPAuthModule.TOTP {
    return new (otpauth().TOTP)({
      issuer: this.ctx.opts.mfa.issuer,
      label: username,
      algorithm: 'SHA1',
      digits: TOTP_DIGITS,
      period: TOTP_PERIOD,
      secret: otpauth().Secret.fromBase32(secretBase32),
    });
  }

  #backupHash(code: string): string {
    return keyedHash(this.ctx.opts.encryptionKey, `backup\0${code.toLowerCase().replace(/[\s-]/g, '')}`);
  }
}

function backupCode(): string {
  let out = '';
  for (let i = 0; i < 10; i++) out += BACKUP_ALPHABET[randomInt(BACKUP_ALPHABET.length)];
  return `${out.slice(0, 5)}-${out.slice(5)}`;
}
