import { AuthenticationError, ConflictError, ForbiddenError, InvalidLinkError, NotConfiguredError, ValidationError } from '../errors.js';
import { isUniqueViolation } from '../db/unavailable.js';
import { deleteAllApiTokens } from '../db/api-tokens-repository.js';
import { retireOneTimeTokens } from '../db/one-time-tokens-repository.js';
import { revokeAllForUser } from '../db/refresh-tokens-repository.js';
import type { Transaction } from 'kysely';
import type { Database, OneTimePurpose, UserOneTimeTokenRow } from '../db/schema.js';
import {
  bumpTokenVersion,
  findUserByEmail,
  findUserById,
  identityKey,
  lockUser,
  markEmailVerified,
  updateUserFields,
  type UserRecord,
} from '../db/users-repository.js';
import type { MailDispatcher } from '../mail/mailer.js';
import { checkPassword } from '../passwords/policy.js';
import { toPublicUser, type User } from '../public-user.js';
import type { EventOrigin } from '../security/audit.js';
import type { ServiceContext } from './context.js';
import { accountPasswordMatches } from './account-password.js';
import type { OneTimeTokens } from './one-time-tokens.js';
import { claimForProvenHolder } from './address-ownership.js';

/** Every link purpose: a password reset or an email change ends the live links of all of them. */
const LINK_PURPOSES: readonly OneTimePurpose[] = ['password_reset', 'verification', 'email_change'];

const REQUESTED = { password_reset: 'password_reset_requested', verification: 'verification_requested', email_change: 'email_change_requested' } as const;

const invalidLink = () => new InvalidLinkError();

/**
 * What confirms an email change besides the link: the account's password, or for a password-less
 * account the id of the user whose own access JWT came with the request.
 */
export interface EmailChangeProof {
  password?: string;
  holderId?: string;
}

/**
 * The account lifecycle by mail: password reset, email verification and email change. Links are
 * single use, expiring, stored hashed (OneTimeTokens); mail goes out after the change commits, in
 * the background, so answers are the same, and as fast, for known and unknown addresses.
 */
export class AccountLifecycleService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly tokens: OneTimeTokens,
  ) {}

  /** The mailer, or 501 `not_configured`. */
  requireMailer(): MailDispatcher {
    if (!this.ctx.mailer) throw new NotConfiguredError('this server sends no mail: the app has no `mailer` configured');
    return this.ctx.mailer;
  }

  /** Mails a reset link if the address belongs to an active account; answers alike either way. */
  async requestPasswordReset(email: string, origin?: EventOrigin): Promise<void> {
    this.requireMailer();
    const user = await this.ctx.database.run((db) => findUserByEmail(db, email));
    this.#mailLink(user?.is_active && user.email ? user : undefined, 'password_reset', user?.email ?? email, this.ctx.opts.resetTokenExpiry, origin);
  }

  /**
   * Sets the new password, verifies the email the link went to, and ends every login and link of
   * the user. When the account's holder had never proven the address, this is the address's owner
   * taking it back: everything set up before ends too (see claimForProvenHolder).
   */
  async confirmPasswordReset(token: string, password: string, origin?: EventOrigin): Promise<void> {
    const { user } = await this.#peek('password_reset', token);
    checkPassword(password, this.ctx.opts.passwordPolicy, user);
    const hash = await this.ctx.hasher.hash(password);
    const now = this.ctx.opts.now();
    const recovered = await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { user: user.id }, async (trx) => {
        // The user's row first, then the link: the order in which links are issued.
        const current = await lockUser(trx, user.id);
        if (!current || !(await this.tokens.claim(trx, 'password_reset', token))) throw invalidLink();
        // The link is bound to the address and password it was issued under, so it went to this
        // account's current address: whoever read the mail controls it, and it counts as verified.
        if (await claimForProvenHolder(trx, current, hash, now)) return true;
        await bumpTokenVersion(trx, user.id, now, { password_hash: hash, email_verified: true });
        await this.#endEverything(trx, user.id, now);
        return false;
      }),
    );
    await this.ctx.audit.record('password_reset', { userId: user.id, origin });
    if (recovered) await this.ctx.audit.record('account_recovered', { userId: user.id, data: { by: 'password_reset' }, origin });
  }

  /** Mails a verification link to an existing, unverified address; answers alike otherwise. */
  async requestVerification(email: string, origin?: EventOrigin): Promise<void> {
    this.requireMailer();
    const user = await this.ctx.database.run((db) => findUserByEmail(db, email));
    this.#mailLink(
      user?.is_active && user.email && !user.email_verified ? user : undefined,
      'verification',
      user?.email ?? email,
      this.ctx.opts.verificationTokenExpiry,
      origin,
    );
  }

  /** Registration with `requireEmailVerification`: the first verification mail, when a mailer exists. */
  async sendVerificationAfterRegister(userId: string, origin?: EventOrigin): Promise<void> {
    if (!this.ctx.mailer) return;
    const user = await this.ctx.database.run((db) => findUserById(db, userId));
    if (user?.email && !user.email_verified) this.#mailLink(user, 'verification', user.email, this.ctx.opts.verificationTokenExpiry, origin);
  }

  /**
   * Marks the address the link went to verified. A bare click proves the address, not that whoever
   * clicked holds the account (a squatter may have asked for the link): the account keeps its login,
   * but its holder counts as proven (`owner_proven`) only when the account's password comes with
   * the link (401 `invalid_credentials` when wrong; the link stays usable).
   */
  async confirmVerification(token: string, password?: string, origin?: EventOrigin): Promise<User> {
    const now = this.ctx.opts.now();
    const { row, user: holder } = await this.#peek('verification', token);
    if (!row.email) throw invalidLink();
    let proven = false;
    if (password !== undefined) {
      proven = holder.password_hash !== null && (await accountPasswordMatches(this.ctx, holder, password, origin));
      if (!proven) throw new AuthenticationError('invalid_credentials', 'the password is wrong');
    }
    const user = await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { user: row.user_id }, async (trx) => {
        const current = await lockUser(trx, row.user_id);
        if (!current || !(await this.tokens.claim(trx, 'verification', token))) throw invalidLink();
        // The password checked above must still be the account's (the link dies with a change, too).
        if (proven && current.password_hash !== holder.password_hash) throw invalidLink();
        if (!(await markEmailVerified(trx, row.user_id, identityKey(row.email!), now))) throw invalidLink();
        if (proven) await updateUserFields(trx, row.user_id, { owner_proven: true }, now);
        return (await findUserById(trx, row.user_id))!;
      }),
    );
    await this.ctx.audit.record('email_verified', { userId: user.id, data: { owner_proven: user.owner_proven }, origin });
    return toPublicUser(user);
  }

  /** Mails a confirmation link to `newEmail`; 409 when another account has it. */
  async requestEmailChange(userId: string, newEmail: string, origin?: EventOrigin): Promise<void> {
    this.requireMailer();
    const user = await this.ctx.database.run(async (db) => {
      const me = await findUserById(db, userId);
      const owner = await findUserByEmail(db, newEmail);
      if (owner && owner.id !== userId) throw new ConflictError('email is already taken');
      if (owner) throw new ValidationError({ new_email: 'is already the email of this account' });
      return me!;
    });
    this.#mailLink(user, 'email_change', newEmail, this.ctx.opts.emailChangeTokenExpiry, origin);
  }

  /**
   * Moves the account to the link's address (verified, since the link was read there), ends every
   * login and link of the user, and sends a notice to the old address. The token proves the
   * mailbox; the holder of the account must prove themselves too, or whoever asked could send the
   * link to someone else's address and have its owner's click move that address into his account:
   * an account with a password gives it (401 `invalid_credentials` when wrong; the link stays
   * usable), a password-less one comes with an access JWT of its own (`holderId`: not an API token,
   * service key or impersonation token; 401 `unauthorized` without one, 403 `forbidden` for
   * another user's). Either way the holder proved the new address (`owner_proven`).
   */
  async confirmEmailChange(token: string, proof: EmailChangeProof, origin?: EventOrigin): Promise<User> {
    const { row, user } = await this.#peek('email_change', token);
    if (user.password_hash) {
      const matches = await accountPasswordMatches(this.ctx, user, proof.password, origin);
      if (!matches) throw new AuthenticationError('invalid_credentials', 'the password is wrong');
    } else if (proof.holderId === undefined) {
      throw new AuthenticationError('unauthorized', 'this account has no password: confirm signed in to it, with its access token');
    } else if (proof.holderId !== user.id) {
      throw new ForbiddenError('forbidden', 'the link is for another account: confirm signed in to the account that asked for it');
    }
    const newEmail = row.email!;
    const now = this.ctx.opts.now();
    let changed: UserRecord;
    try {
      changed = await this.ctx.database.run((db) =>
        this.ctx.revocation.commit(db, { user: user.id }, async (trx) => {
          const current = await lockUser(trx, user.id);
          if (!current || !(await this.tokens.claim(trx, 'email_change', token))) throw invalidLink();
          // The password checked above must still be the account's (one set since would bump the
          // version and kill the link, but the proof is only as good as the hash it was checked against).
          if (current.password_hash !== user.password_hash) throw invalidLink();
          // Asked for while signed in, confirmed with the holder's password or access token: the
          // account's holder reads the new address.
          await bumpTokenVersion(trx, user.id, now, { email: newEmail, email_key: identityKey(newEmail), email_verified: true, owner_proven: true });
          await this.#endEverything(trx, user.id, now);
          return (await findUserById(trx, user.id))!;
        }),
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError('email is already taken', { cause: err });
      throw err;
    }
    await this.ctx.audit.record('email_changed', { userId: user.id, origin });
    if (user.email) this.ctx.mailer?.dispatch({ kind: 'email_changed', to: user.email, user, newEmail, origin });
    return toPublicUser(changed);
  }

  /**
   * Account recovery ends everything that let anyone in: every login (refresh tokens; access tokens
   * through the version bump the caller made), every API token, every outstanding link.
   */
  async #endEverything(trx: Transaction<Database>, userId: string, now: Date): Promise<void> {
    await revokeAllForUser(trx, userId, now);
    await deleteAllApiTokens(trx, userId);
    await retireOneTimeTokens(trx, userId, LINK_PURPOSES, now);
  }

  /** The live link and its user, without using the link up (nothing is spent on a request that fails a check). */
  async #peek(purpose: OneTimePurpose, token: string): Promise<{ row: UserOneTimeTokenRow; user: UserRecord }> {
    return this.ctx.database.run(async (db) => {
      const row = await this.tokens.peek(db, purpose, token);
      const user = row && (await findUserById(db, row.user_id));
      if (!row || !user?.is_active) throw invalidLink();
      return { row, user };
    });
  }

  /**
   * Issues the link and mails it, both after the response (tracked), so the answer cannot tell
   * whether it happened. Without a `user` (unknown address) the same work is done on nothing, and
   * the request is audited without a user.
   */
  #mailLink(user: UserRecord | undefined, kind: keyof typeof REQUESTED, to: string, ttlSeconds: number, origin?: EventOrigin): void {
    const mailer = this.requireMailer();
    const work = async () => {
      try {
        if (user) {
          const issued = await this.ctx.database.run((db) =>
            this.tokens.issue(db, { userId: user.id, purpose: kind, email: to, ttlSeconds, version: user.credential_version }),
          );
          // The address or password changed since the request was read: that request is void.
          if (!issued) return;
          mailer.dispatch({ kind, to, user, token: issued.token, expiresAt: issued.expiresAt, origin });
        } else {
          await this.ctx.database.run((db) => this.tokens.decoy(db, kind));
        }
        await this.ctx.audit.record(REQUESTED[kind], { userId: user?.id ?? null, origin });
      } catch (err) {
        this.ctx.logger.warn({ kind, user_id: user?.id, err: { message: (err as Error)?.message } }, 'express-authlib: could not issue a mailed link');
      }
    };
    this.ctx.background.defer(work);
  }
}
