import { ConflictError, ForbiddenError, NotConfiguredError, NotFoundError, ValidationError } from '../errors.js';
import { listOAuthAccounts } from '../db/oauth-repository.js';
import { deletePasskey, insertPasskey, listPasskeys, renamePasskey, type PasskeyRecord } from '../db/passkeys-repository.js';
import { isUniqueViolation } from '../db/unavailable.js';
import { findUserById, lockUser, type UserRecord } from '../db/users-repository.js';
import type { EventOrigin } from '../security/audit.js';
import type { ResolvedWebAuthn } from '../webauthn-options.js';
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

  /** PublicKeyCredentialCreationOptions for a new passkey of `userId`, with a challenge bound to them. */
  async registrationOptions(userId: string): Promise<{ challenge_id: string; options: CreationOptions }> {
    const cfg = this.config();
    const { user, passkeys } = await this.ctx.database.run(async (db) => {
      const found = await findUserById(db, userId);
      return { user: found, passkeys: found ? await listPasskeys(db, userId) : [] };
    });
    if (!user) throw new NotFoundError('user not found');
    if (!mayEnrol(user)) throw notVerified();
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
   * Verifies the browser's answer against the challenge issued to this user (used up either way)
   * and stores the passkey. 400 `validation_error` when it is not accepted; 409 when the credential
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
    try {
      row = await this.ctx.database.run((db) =>
        // Announced: every instance sees the user has a passkey (it can lift mfa_setup_required).
        this.ctx.revocation.commit(db, { user: userId }, async (trx) => {
          // Checked again under the user's lock: the address may have changed since the options.
          const user = await lockUser(trx, userId);
          if (!user) throw new NotFoundError('user not found');
          if (!mayEnrol(user)) throw notVerified();
          return insertPasskey(trx, {
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
        }),
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError('this passkey is already registered', { cause: err });
      throw err;
    }
    await this.ctx.audit.record('passkey_added', { userId, data: { passkey_id: row.id, device_type: row.device_type }, origin });
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
   * both take the last two.
   */
  async remove(userId: string, passkeyId: string, origin?: EventOrigin): Promise<void> {
    await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { user: userId }, async (trx) => {
        const user = await lockUser(trx, userId);
        const passkeys = user ? await listPasskeys(trx, userId) : [];
        if (!passkeys.some((p) => p.id === passkeyId)) throw notFound();
        if (!user!.password_hash && passkeys.length === 1 && (await listOAuthAccounts(trx, userId)).length === 0)
          throw new ConflictError('this is the only way this user can sign in; set a password, link a provider or add another passkey first');
        await deletePasskey(trx, userId, passkeyId);
      }),
    );
    await this.ctx.audit.record('passkey_removed', { userId, data: { passkey_id: passkeyId }, origin });
  }
}
