import { ConflictError, ForbiddenError, NotConfiguredError, NotFoundError, ValidationError } from '../errors.js';
import { listOAuthAccounts } from '../db/oauth-repository.js';
import { deletePasskey, insertPasskey, listPasskeys, renamePasskey, type PasskeyRecord } from '../db/passkeys-repository.js';
import { revokeSession } from '../db/refresh-tokens-repository.js';
import { liveSessionsOpenedBy, sessionStartedAt } from '../db/sessions-repository.js';
import { isUniqueViolation } from '../db/unavailable.js';
import { findUserById, lockUser, type UserRecord } from '../db/users-repository.js';
import type { EventOrigin } from '../security/audit.js';
import type { ResolvedWebAuthn } from '../webauthn-options.js';
import { accountPasswordMatches } from './account-password.js';
import { holdsProvenAddress } from './address-ownership.js';
import type { ServiceContext } from './context.js';
import type { PasskeyChallenges } from './passkey-challenges.js';
import { challengeOf, creationOptions, verifyRegistration, type CreationOptions, type RegistrationResponse } from './webauthn-ceremony.js';

/** A passkey as listed: never its key material. */
export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  /** `singleDevice`, or `multiDevice` for a passkey the provider syncs between devices. */
  device_type: string;
  backed_up: boolean;
}

/**
 * How recent the caller's sign-in must be to add a passkey without the password: the login of the
 * access token (its `sid`) began at most this long ago (a refresh does not make it younger).
 */
export const REAUTHENTICATION_WINDOW_SECONDS = 600;

/** The name a passkey gets when the registration names none. */
export const DEFAULT_PASSKEY_NAME = 'Passkey';

export function toPasskey(row: PasskeyRecord): Passkey {
  return {
    id: row.id,
    name: row.name,
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at ? row.last_used_at.toISOString() : null,
    device_type: row.device_type,
    backed_up: row.backed_up,
  };
}

/**
 * Only an account whose holder proved its address (or that has none) enrols a passkey: a way in
 * planted by whoever registered someone else's address would outlive the owner's recovery of it.
 */
function mayEnrol(user: UserRecord): boolean {
  return user.email === null || holdsProvenAddress(user);
}

const notVerified = () =>
  new ForbiddenError('email_not_verified', 'prove your email address (verify it with your password, or recover the account by mail) before adding a passkey');
const refused = () =>
  new ValidationError(
    { response: 'could not be verified: an unknown, used, expired or foreign challenge, another origin or RP ID, or no user verification' },
    'the passkey was not accepted',
  );
const notFound = () => new NotFoundError('passkey not found');

/** Registration of passkeys, and their listing, renaming and removal (contract 5.7). */
export class PasskeyService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly challenges: PasskeyChallenges,
  ) {}

  /** Whether the `webauthn` option is set. */
  get enabled(): boolean {
    return this.ctx.opts.webauthn !== undefined;
  }

  /** The option, or 501 `not_configured`. */
  config(): ResolvedWebAuthn {
    const cfg = this.ctx.opts.webauthn;
    if (!cfg) throw new NotConfiguredError('passkeys are not configured: the app has no `webauthn` option');
    return cfg;
  }

  /**
   * PublicKeyCredentialCreationOptions for a new passkey of `userId`, with a challenge bound to
   * them. Only for the account's holder proven again: the login `proof.sessionId` (the caller's
   * `sid`) began within REAUTHENTICATION_WINDOW_SECONDS, or `proof.password` is the account's
   * (counted like a login); otherwise 403 `reauthentication_required`.
   */
  async registrationOptions(
    userId: string,
    proof: { sessionId?: string | undefined; password?: string | undefined } = {},
    origin?: EventOrigin,
  ): Promise<{ challenge_id: string; options: CreationOptions }> {
    const cfg = this.config();
    const { user, passkeys, signedInAt } = await this.ctx.database.run(async (db) => {
      const found = await findUserById(db, userId);
      return {
        user: found,
        passkeys: found ? await listPasskeys(db, userId) : [],
        signedInAt: found && proof.sessionId !== undefined ? await sessionStartedAt(db, userId, proof.sessionId) : undefined,
      };
    });
    if (!user) throw new NotFoundError('user not found');
    if (!mayEnrol(user)) throw notVerified();
    await this.#mustBeHolder(user, signedInAt, proof.password, origin);
    const { challengeId, challenge } = await this.challenges.forRegistration(user);
    const options = await creationOptions(cfg, {
      challenge,
      userId: user.id,
      userName: user.username,
      displayName: user.real_name ?? user.username,
      exclude: passkeys,
    });
    return { challenge_id: challengeId, options };
  }

  /**
   * A stolen access token (XSS) must not plant a lasting way in (a passkey is two factors and
   * outlives a password reset and logout-all): the holder signed in moments ago, or knows the
   * password. A password-less account has only the fresh sign-in.
   */
  async #mustBeHolder(user: UserRecord, signedInAt: Date | undefined, password: string | undefined, origin: EventOrigin | undefined): Promise<void> {
    const now = this.ctx.opts.now().getTime();
    if (signedInAt !== undefined && now - signedInAt.getTime() <= REAUTHENTICATION_WINDOW_SECONDS * 1000) return;
    if (password !== undefined && (await accountPasswordMatches(this.ctx, user, password, origin))) return;
    throw new ForbiddenError(
      'reauthentication_required',
      user.password_hash
        ? `adding a passkey needs a sign-in of the last ${REAUTHENTICATION_WINDOW_SECONDS / 60} minutes or the account's password: send {password}`
        : `adding a passkey needs a sign-in of the last ${REAUTHENTICATION_WINDOW_SECONDS / 60} minutes: sign in again`,
    );
  }

  /**
   * Verifies the browser's answer against the challenge issued to this user (used up either way)
   * and stores the passkey. The proof of the holder is not asked again: the challenge was issued
   * only after it, is bound to this user (and to their address and password), used once and dies
   * within 300 s, so a registration answers a proof of at most that long ago. The account's
   * address (if any) is told, with no text the registrant chose. 400 `validation_error` when it is not accepted; 409 when the credential
   * is already registered.
   */
  async register(
    userId: string,
    input: { challengeId: string; response: RegistrationResponse; name?: string | undefined },
    origin?: EventOrigin,
  ): Promise<Passkey> {
    const cfg = this.config();
    const challenge = challengeOf(input.response);
    if (challenge === undefined) throw refused();
    const claimed = await this.ctx.database.run((db) => this.challenges.claim(db, 'passkey_register', { challenge, challengeId: input.challengeId, userId }));
    if (!claimed) throw refused();
    const credential = await verifyRegistration(cfg, input.response, challenge);
    if (!credential) throw refused();
    let row: PasskeyRecord;
    let holder: Pick<UserRecord, 'username' | 'email'>;
    try {
      ({ row, holder } = await this.ctx.database.run((db) =>
        // Announced: every instance sees the user has a passkey (it can lift mfa_setup_required).
        this.ctx.revocation.commit(db, { user: userId }, async (trx) => {
          // Checked again under the user's lock: the address may have changed since the options.
          const user = await lockUser(trx, userId);
          if (!user) throw new NotFoundError('user not found');
          if (!mayEnrol(user)) throw notVerified();
          const inserted = await insertPasskey(trx, {
            user_id: userId,
            credential_id: credential.credentialId,
            public_key: credential.publicKey,
            counter: credential.counter,
            transports: credential.transports,
            name: input.name ?? DEFAULT_PASSKEY_NAME,
            device_type: credential.deviceType,
            backed_up: credential.backedUp,
            created_at: this.ctx.opts.now(),
          });
          return { row: inserted, holder: user };
        }),
      ));
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError('this passkey is already registered', { cause: err });
      throw err;
    }
    await this.ctx.audit.record('passkey_added', { userId, data: { passkey_id: row.id, device_type: row.device_type }, origin });
    // Not the passkey's name: whoever holds the token chose it.
    if (holder.email !== null) this.ctx.mailer?.dispatch({ kind: 'passkey_added', to: holder.email, user: { id: userId, username: holder.username }, origin });
    return toPasskey(row);
  }

  /** 404 `not_found` unless the user exists (the admin routes name any user). */
  async userMustExist(userId: string): Promise<void> {
    if (!(await this.ctx.database.run((db) => findUserById(db, userId)))) throw new NotFoundError('user not found');
  }

  /** The user's passkeys, oldest first. */
  async list(userId: string): Promise<Passkey[]> {
    return (await this.ctx.database.run((db) => listPasskeys(db, userId))).map(toPasskey);
  }

  async rename(userId: string, passkeyId: string, name: string, origin?: EventOrigin): Promise<Passkey> {
    const row = await this.ctx.database.run((db) => renamePasskey(db, userId, passkeyId, name));
    if (!row) throw notFound();
    await this.ctx.audit.record('passkey_renamed', { userId, data: { passkey_id: row.id }, origin });
    return toPasskey(row);
  }

  /**
   * Removes a passkey; 409 `conflict` when it is the account's last way to sign in (no password, no
   * linked provider, no other passkey). The user's row is locked, so two removals at once cannot
   * both take the last two. Every live login the passkey opened (first or second factor) ends in
   * the same transaction: its refresh tokens revoked, its access tokens on every instance at once.
   */
  async remove(userId: string, passkeyId: string, origin?: EventOrigin): Promise<void> {
    const now = this.ctx.opts.now();
    const ended = await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { user: userId }, async (trx) => {
        // The lock a sign-in takes before it records its login: one racing this is seen here, or opens nothing.
        const user = await lockUser(trx, userId);
        const passkeys = user ? await listPasskeys(trx, userId) : [];
        if (!passkeys.some((p) => p.id === passkeyId)) throw notFound();
        if (!user!.password_hash && passkeys.length === 1 && (await listOAuthAccounts(trx, userId)).length === 0)
          throw new ConflictError('this is the only way this user can sign in; set a password, link a provider or add another passkey first');
        const sessions = await liveSessionsOpenedBy(trx, userId, passkeyId, now);
        for (const sessionId of sessions) {
          await revokeSession(trx, sessionId, now);
          await this.ctx.revocation.announce(trx, { session: sessionId });
        }
        await deletePasskey(trx, userId, passkeyId);
        return sessions;
      }),
    );
    for (const sessionId of ended) this.ctx.revocation.apply({ session: sessionId });
    await this.ctx.audit.record('passkey_removed', { userId, data: { passkey_id: passkeyId }, origin });
  }
}
