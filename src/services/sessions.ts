import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { AuthenticationError, ForbiddenError, NotFoundError, RateLimitError } from '../errors.js';
import type { Database } from '../db/schema.js';
import { bumpTokenVersion, findUserById, findUserByIdentifier, lockUser, touchLastLogin, type UserRecord } from '../db/users-repository.js';
import { claimRefreshToken, findChild, findRefreshToken, insertRefreshToken, revokeAllForUser, revokeSession } from '../db/refresh-tokens-repository.js';
import { toPublicUser, type User } from '../public-user.js';
import type { EventOrigin } from '../security/audit.js';
import { signAccessToken } from '../tokens/access-token.js';
import { signRefreshToken, verifyRefreshToken } from '../tokens/refresh-token.js';
import { randomBase62, sha256 } from '../tokens/secrets.js';
import type { ServiceContext } from './context.js';
import type { MfaChallenges, SignInMethod } from './mfa-challenges.js';
import { checkPassword } from '../passwords/policy.js';
import { accountPasswordMatches } from './account-password.js';
import { deviceHistory, insertSession, touchSession } from '../db/sessions-repository.js';
import { passkeyExists } from '../db/passkeys-repository.js';
import { placeOf } from './session-place.js';

type Db = Kysely<Database> | Transaction<Database>;

/** An access token and the refresh token that renews it. */
export interface TokenPair {
  token: string;
  refresh_token: string;
}

/** A password login, with where it comes from (both absent for programmatic calls). */
export interface LoginInput {
  /** Username or email. */
  identifier: string;
  password: string;
  ip?: string | undefined;
  userAgent?: string | undefined;
  /** The `mfa_id` of a sign-in whose first factor was another method: the password is its second. */
  mfaId?: string | undefined;
}

const invalidCredentials = () => new AuthenticationError('invalid_credentials', 'invalid username or password');
const invalidRefresh = () => new AuthenticationError('invalid_token', 'refresh token is invalid or has been revoked');

/**
 * Sessions: one per login, the chain of refresh tokens that renews it (stored as a refresh-token
 * `family_id`, carried as `sid` in access tokens and `fam` in refresh tokens). Login, refresh
 * rotation, logout, password change.
 */
export class SessionService {
  #dummyHash: Promise<string> | undefined;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly challenges: MfaChallenges,
  ) {}

  /**
   * Username-or-email + password. Unknown user, wrong password and password-less account give the
   * same error after the same work: a bcrypt compare always runs, against a dummy hash if need be.
   * With the client's `ip` (HTTP logins), failures are also delayed per account and address.
   */
  async login({ identifier, password, ip, userAgent, mfaId }: LoginInput): Promise<TokenPair & { user: User }> {
    const origin: EventOrigin = { ...(ip !== undefined ? { ip } : {}), ...(userAgent !== undefined ? { userAgent } : {}) };
    const dummy = (this.#dummyHash ??= this.#makeDummyHash());
    const user = await this.ctx.database.run((db) => findUserByIdentifier(db, identifier));
    // Counted as a failure before the password is checked, and taken back if it was right.
    const attempt = ip === undefined ? undefined : await this.ctx.throttle?.begin({ identifier }, ip);
    const matches = await this.ctx.hasher.verify(password, user?.password_hash ?? (await dummy));
    if (!user || !user.password_hash || !matches) {
      // The attempted name is kept only when it is a real account's: an unknown "username" is often a
      // password typed into the wrong field.
      await this.ctx.audit.record('login_failure', { userId: user?.id ?? null, data: user ? { identifier: user.username } : {}, origin });
      // As the second factor of a sign-in, a wrong password is a wrong second factor: it counts
      // against the challenge (the fifth ends it) and the account's second-factor delays.
      if (mfaId !== undefined) await this.#secondFactorFailed(mfaId, origin);
      throw invalidCredentials();
    }
    // The password was right: whatever follows (a second factor, an unverified email) is no guess.
    await attempt?.succeeded();
    if (this.ctx.opts.requireEmailVerification && !user.email_verified) {
      await this.ctx.audit.record('login_failure', { userId: user.id, data: { identifier: user.username, reason: 'email_not_verified' }, origin });
      throw new ForbiddenError('email_not_verified', 'verify your email address before signing in');
    }
    const result = await this.#afterFirstFactor(user, 'password', { mfaId, origin, checkedHash: user.password_hash });
    await this.ctx.audit.record('login_success', { userId: user.id, data: { method: mfaId === undefined ? 'password' : 'password+mfa' }, origin });
    return result;
  }

  /** Counts a failed password against the `mfa_id` it was to finish; a 429 of the second-factor delays passes through. */
  async #secondFactorFailed(mfaId: string, origin: EventOrigin): Promise<void> {
    try {
      await this.challenges.consume(mfaId, 'password', { origin, verify: () => Promise.resolve('wrong') });
    } catch (err) {
      if (err instanceof RateLimitError) throw err;
    }
  }

  /**
   * A login whose factor was checked elsewhere (OAuth, email OTP): checks the account is active,
   * asks for a second factor when MFA is on (or, with `mfaId`, takes this one as the second),
   * and starts a login.
   */
  async loginVerified(
    userId: string,
    method: SignInMethod = 'oauth',
    options: { mfaId?: string | undefined; origin?: EventOrigin | undefined; passkeyId?: string | undefined } = {},
  ): Promise<TokenPair & { user: User }> {
    const user = await this.ctx.database.run((db) => findUserById(db, userId));
    if (!user) throw new NotFoundError('user not found');
    return this.#afterFirstFactor(user, method, options);
  }

  /**
   * The login after `/login/mfa` consumed the challenge: both factors are done. `passkeyId`: the
   * passkey that was the second factor (the login ends when it is removed).
   */
  async loginAfterSecondFactor(userId: string, origin?: EventOrigin, passkeyId?: string): Promise<TokenPair & { user: User }> {
    const user = await this.ctx.database.run((db) => findUserById(db, userId));
    if (!user) throw new NotFoundError('user not found');
    return this.#beginLogin(user, undefined, origin, passkeyId);
  }

  /**
   * A first factor is done: finish an `mfa_id` with it, or start one when a second factor is due
   * (never after a passkey: one with user verification is two factors), else log in.
   */
  async #afterFirstFactor(
    user: UserRecord,
    method: SignInMethod,
    options: { mfaId?: string | undefined; origin?: EventOrigin | undefined; checkedHash?: string | null; passkeyId?: string | undefined },
  ): Promise<TokenPair & { user: User }> {
    if (!user.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
    if (options.mfaId !== undefined) {
      await this.challenges.consume(options.mfaId, method, { userId: user.id, origin: options.origin });
    } else if (method !== 'passkey' && this.challenges.due(user)) {
      throw await this.challenges.begin(user, method, options.origin);
    }
    return this.#beginLogin(user, options.checkedHash, options.origin, options.passkeyId);
  }

  /**
   * Starts a login for a user read earlier. The row is locked and read again first, so a password
   * change, logout-all, disable or role change that commits meanwhile is either seen here or sees
   * this login's refresh token and revokes it. `checkedHash` is the password hash that was just
   * verified: if it is no longer the account's, the password that was checked is no longer valid.
   * `origin` is where the sign-in comes from: kept with the session, and with `newDeviceNotice`
   * the account's address is told of a sign-in from a device it was never used from. `passkeyId`:
   * the passkey that opened the login, recorded with it; one removed meanwhile opens nothing.
   */
  async #beginLogin(stale: UserRecord, checkedHash?: string | null, origin?: EventOrigin, passkeyId?: string): Promise<TokenPair & { user: User }> {
    if (!stale.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
    const now = this.ctx.opts.now();
    const place = placeOf(origin);
    const { notice, ...result } = await this.ctx.database
      .run((db) =>
        db.transaction().execute(async (trx) => {
          const user = await lockUser(trx, stale.id);
          if (!user) throw new NotFoundError('user not found');
          if (checkedHash !== undefined && user.password_hash !== checkedHash) throw invalidCredentials();
          // Under the user's lock, which a removal takes first: the removal either sees this login or came before it.
          if (passkeyId !== undefined && !(await passkeyExists(trx, user.id, passkeyId))) throw invalidCredentials();
          if (!user.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
          this.#mayHoldTokens(user);
          await touchLastLogin(trx, user.id, now);
          // Only sign-ins with a known origin (HTTP) are judged: a programmatic login comes from no device.
          const watched = this.ctx.opts.newDeviceNotice && origin !== undefined && user.email !== null;
          const seen = watched ? await deviceHistory(trx, user.id, place.device) : undefined;
          const tokens = await this.#startSession(trx, user, origin, passkeyId);
          // The first sign-in of an account is no news to its owner; a device never seen before is.
          const newDevice = seen !== undefined && seen.any && !seen.thisDevice;
          return { ...tokens, user: toPublicUser({ ...user, last_login: now }), notice: newDevice ? user.email : null };
        }),
      )
      .finally(() => this.ctx.revocation.apply({ user: stale.id })); // the cached copy has the old last_login
    if (notice) this.ctx.mailer?.dispatch({ kind: 'new_device', to: notice, user: { id: result.user.id, username: result.user.username }, origin });
    return result;
  }

  /** The decoy hash is awaited only for unknown users; a failure must neither go unhandled nor stick. */
  #makeDummyHash(): Promise<string> {
    const pending = this.ctx.hasher.hash(randomBase62(32));
    this.ctx.background.track(
      pending.catch(() => {
        if (this.#dummyHash === pending) this.#dummyHash = undefined;
      }),
    );
    return pending;
  }

  /** Issues a fresh login (token pair) for a user, as after a successful password check. */
  async issueTokens(userId: string): Promise<TokenPair> {
    return this.ctx.database.run((db) => db.transaction().execute((trx) => this.startLogin(trx, userId)));
  }

  /** Starts a login inside the caller's transaction (registration: the user and its first login commit together). */
  async startLogin(trx: Transaction<Database>, userId: string, origin?: EventOrigin): Promise<TokenPair> {
    const user = await lockUser(trx, userId);
    if (!user) throw new NotFoundError('user not found');
    if (!user.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
    this.#mayHoldTokens(user);
    return this.#startSession(trx, user, origin);
  }

  /** With `requireEmailVerification`, no path hands tokens to an account whose address is not verified. */
  #mayHoldTokens(user: Pick<UserRecord, 'email_verified'>): void {
    if (this.ctx.opts.requireEmailVerification && !user.email_verified)
      throw new ForbiddenError('email_not_verified', 'verify your email address before signing in');
  }

  /**
   * Rotates a refresh token. Exactly one of any number of concurrent presentations wins (the
   * conditional UPDATE in claimRefreshToken); presenting an already-rotated token again revokes the
   * whole session, unless it is the immediately previous one within `refreshGraceSeconds`.
   */
  async refresh(refreshToken: string, origin?: EventOrigin): Promise<TokenPair> {
    const verified = verifyRefreshToken(this.ctx.opts, refreshToken);
    if (!verified.ok) {
      throw verified.code === 'token_expired' ? new AuthenticationError('token_expired', 'refresh token has expired') : invalidRefresh();
    }
    const { jti, sub } = verified.claims;
    const hash = sha256(refreshToken);
    const now = this.ctx.opts.now();

    const rotated = await this.ctx.database.run((db) =>
      db.transaction().execute(async (trx) => {
        // The same lock every revocation takes first: see lockUser.
        await lockUser(trx, sub);
        const claimed = await claimRefreshToken(trx, jti, hash, now);
        return claimed && this.#rotate(trx, claimed, origin);
      }),
    );
    if (rotated) {
      await this.ctx.audit.record('refresh', { userId: sub, origin });
      return rotated;
    }

    return this.ctx.database.run(async (db) => {
      const row = await findRefreshToken(db, jti, hash);
      if (!row || row.user_id !== sub || row.revoked_at) throw invalidRefresh();
      if (row.expires_at <= now) throw new AuthenticationError('token_expired', 'refresh token has expired');
      const grace = this.ctx.opts.refreshGraceSeconds * 1000;
      if (grace > 0 && row.used_at && now.getTime() - row.used_at.getTime() <= grace) {
        // Another tab already rotated this token: rotate its successor instead of flagging reuse.
        const child = await findChild(db, row.id);
        const again =
          child &&
          (await db.transaction().execute(async (trx) => {
            await lockUser(trx, row.user_id);
            const claimed = await claimRefreshToken(trx, child.id, child.token_hash, now);
            return claimed && this.#rotate(trx, claimed, origin);
          }));
        if (again) return again;
      }
      await this.#revokeSession(db, row.user_id, row.family_id, now);
      this.ctx.logger.warn(
        { event: 'refresh_token_reused', user_id: row.user_id, session_id: row.family_id },
        'express-authlib: refresh token reuse; session revoked',
      );
      await this.ctx.audit.record('refresh_reuse', { userId: row.user_id, data: { session_id: row.family_id }, origin });
      throw new AuthenticationError('refresh_token_reused', 'refresh token was already used; this login has been revoked');
    });
  }

  /** Revokes the session that `refreshToken` belongs to, and its access tokens. */
  async logout(refreshToken: string, origin?: EventOrigin): Promise<void> {
    const verified = verifyRefreshToken(this.ctx.opts, refreshToken);
    // An expired token's login is over anyway; anything else unverifiable is rejected.
    if (!verified.ok) {
      if (verified.code === 'token_expired') return;
      throw invalidRefresh();
    }
    const { jti, fam } = verified.claims;
    await this.ctx.database.run(async (db) => {
      const row = await findRefreshToken(db, jti, sha256(refreshToken));
      if (!row || row.family_id !== fam) throw invalidRefresh();
      await this.#revokeSession(db, row.user_id, row.family_id, this.ctx.opts.now());
      await this.ctx.audit.record('logout', { userId: row.user_id, data: { session_id: row.family_id }, origin });
    });
  }

  /** Ends every login of the user and every access token issued so far. */
  async logoutAll(userId: string, origin?: EventOrigin): Promise<void> {
    const now = this.ctx.opts.now();
    await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { user: userId }, async (trx) => {
        if (!(await bumpTokenVersion(trx, userId, now))) throw new NotFoundError('user not found');
        await revokeAllForUser(trx, userId, now);
      }),
    );
    await this.ctx.audit.record('logout_all', { userId, origin });
  }

  /** Checks the current password, stores the new one and ends every other login; returns a fresh login for the caller. */
  async changePassword(userId: string, currentPassword: string, newPassword: string, origin?: EventOrigin): Promise<TokenPair> {
    const user = await this.ctx.database.run((db) => findUserById(db, userId));
    if (!user) throw new NotFoundError('user not found');
    if (!(await accountPasswordMatches(this.ctx, user, currentPassword, origin)))
      throw new AuthenticationError('invalid_credentials', 'current password is wrong');
    checkPassword(newPassword, this.ctx.opts.passwordPolicy, user);
    const hash = await this.ctx.hasher.hash(newPassword);
    const now = this.ctx.opts.now();
    const tokens = await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { user: userId }, async (trx) => {
        await bumpTokenVersion(trx, userId, now, { password_hash: hash });
        await revokeAllForUser(trx, userId, now);
        const fresh = await findUserById(trx, userId);
        return this.#startSession(trx, fresh!, origin);
      }),
    );
    await this.ctx.audit.record('password_change', { userId, origin });
    return tokens;
  }

  /** Revokes one login everywhere: its refresh tokens in the database, its access tokens on every instance. */
  #revokeSession(db: Kysely<Database>, userId: string, sessionId: string, now: Date): Promise<void> {
    return this.ctx.revocation.commit(db, { session: sessionId }, async (trx) => {
      // Taken first, as a refresh does: a successor inserted concurrently is committed before we look.
      await lockUser(trx, userId);
      await revokeSession(trx, sessionId, now);
    });
  }

  async #startSession(db: Db, user: UserRecord, origin?: EventOrigin, passkeyId?: string): Promise<TokenPair> {
    const now = this.ctx.opts.now();
    const sessionId = randomUUID();
    const expiresAt = new Date(now.getTime() + this.ctx.opts.refreshTokenExpiry * 1000);
    await insertSession(db, { id: sessionId, user_id: user.id, created_at: now, passkey_id: passkeyId ?? null, ...placeOf(origin) });
    const refresh = await this.#insertRefresh(db, { userId: user.id, sessionId, parentId: null, expiresAt });
    return { token: this.#access(user, sessionId), refresh_token: refresh };
  }

  async #rotate(
    trx: Transaction<Database>,
    parent: { id: string; user_id: string; family_id: string; expires_at: Date },
    origin: EventOrigin | undefined,
  ): Promise<TokenPair> {
    const user = await findUserById(trx, parent.user_id);
    if (!user) throw invalidRefresh();
    if (!user.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
    this.#mayHoldTokens(user);
    // A refresh is the login's use that the server sees (access tokens are checked in memory).
    await touchSession(trx, parent.family_id, this.ctx.opts.now(), placeOf(origin));
    const refresh = await this.#insertRefresh(trx, { userId: user.id, sessionId: parent.family_id, parentId: parent.id, expiresAt: parent.expires_at });
    return { token: this.#access(user, parent.family_id), refresh_token: refresh };
  }

  async #insertRefresh(db: Db, t: { userId: string; sessionId: string; parentId: string | null; expiresAt: Date }): Promise<string> {
    const id = randomUUID();
    const token = signRefreshToken(this.ctx.opts, { userId: t.userId, id, sessionId: t.sessionId, expiresAt: t.expiresAt });
    await insertRefreshToken(db, {
      id,
      family_id: t.sessionId,
      user_id: t.userId,
      token_hash: sha256(token),
      parent_id: t.parentId,
      created_at: this.ctx.opts.now(),
      expires_at: t.expiresAt,
    });
    return token;
  }

  #access(user: UserRecord, sessionId: string): string {
    return signAccessToken(this.ctx.opts, { userId: user.id, roles: user.roles, version: user.token_version, sessionId });
  }
}
