import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { AuthenticationError, InvalidCodeError } from '../errors.js';
import { findPasskeyByCredentialId, listPasskeys, recordPasskeyUse, type PasskeyRecord } from '../db/passkeys-repository.js';
import type { Database } from '../db/schema.js';
import { findUserByIdentifier, identityKey } from '../db/users-repository.js';
import type { User } from '../public-user.js';
import type { EventOrigin } from '../security/audit.js';
import { keyedHash } from '../tokens/secrets.js';
import type { ServiceContext } from './context.js';
import type { MfaChallenges } from './mfa-challenges.js';
import { boundUser, type PasskeyChallenges } from './passkey-challenges.js';
import type { PasskeyService } from './passkeys.js';
import type { SessionService, TokenPair } from './sessions.js';
import {
  challengeOf,
  counterRegressed,
  requestOptions,
  userHandleOf,
  verifyAssertion,
  type AssertionResponse,
  type RequestOptions,
} from './webauthn-ceremony.js';

type Db = Kysely<Database> | Transaction<Database>;

/** One answer for every assertion that is refused, whatever the reason (contract 5.7). */
const refused = () => new AuthenticationError('invalid_credentials', 'the passkey was not accepted');

/** What checking an assertion found: the passkey that signed, or why it was refused. */
type Refusal = { ok: false; userId: string | null; clone?: { passkey: PasskeyRecord; presented: number } };
type Checked = { ok: true; passkey: PasskeyRecord } | Refusal;

/**
 * Signing in with a passkey (contract 5.7): options with a fresh challenge (for an account, or for
 * whoever answers: discoverable credentials), then the assertion, which is the whole sign-in (a
 * passkey with user verification is two factors) or the second factor of an `mfa_id`.
 */
export class PasskeySignIn {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly passkeys: PasskeyService,
    private readonly challenges: PasskeyChallenges,
    private readonly sessions: SessionService,
    private readonly mfa: MfaChallenges,
  ) {}

  /**
   * PublicKeyCredentialRequestOptions and the challenge's id. With `username`, the account's
   * passkeys are named (an unknown name, or an account without passkeys, gets one made-up
   * credential derived from the name: the same shape, the same answer each time); with `mfaId`,
   * the passkeys of that sign-in's user; with neither, none (the browser offers its discoverable ones).
   */
  async options(input: { username?: string | undefined; mfaId?: string | undefined }): Promise<{ challenge_id: string; options: RequestOptions }> {
    const cfg = this.passkeys.config();
    let allow: Array<{ credential_id: string }> | undefined;
    let user: string | undefined;
    if (input.mfaId !== undefined) {
      user = await this.mfa.userOf(input.mfaId);
      allow = await this.ctx.database.run((db) => listPasskeys(db, user!));
    } else if (input.username !== undefined) {
      const name = input.username;
      const found = await this.ctx.database.run(async (db) => {
        const account = await findUserByIdentifier(db, name);
        // The same two queries for an unknown name.
        return { account, passkeys: await listPasskeys(db, account?.id ?? randomUUID()) };
      });
      user = found.account?.id ?? randomUUID();
      allow = found.passkeys.length > 0 ? found.passkeys : [this.#decoy(name)];
    }
    const { challengeId, challenge } = await this.challenges.forSignIn(user === undefined ? {} : { user });
    return { challenge_id: challengeId, options: await requestOptions(cfg, { challenge, allow }) };
  }

  /** Signs in with an assertion (401 `invalid_credentials` for any refused one), or finishes `mfaId` with it. */
  async login(
    input: { challengeId: string; response: AssertionResponse; mfaId?: string | undefined },
    origin?: EventOrigin,
  ): Promise<TokenPair & { user: User }> {
    if (input.mfaId !== undefined) return this.secondFactor(input.mfaId, input, origin);
    this.passkeys.config();
    const checked = await this.ctx.database.run((db) => this.#check(db, input.response, input.challengeId, undefined));
    if (!checked.ok) {
      await this.#refusal(checked, origin);
      throw refused();
    }
    const { passkey } = checked;
    const login = await this.sessions.loginVerified(passkey.user_id, 'passkey', { origin, passkeyId: passkey.id });
    await this.ctx.audit.record('passkey_login', { userId: passkey.user_id, data: { passkey_id: passkey.id }, origin });
    await this.ctx.audit.record('login_success', { userId: passkey.user_id, data: { method: 'passkey' }, origin });
    return login;
  }

  /**
   * `/login/mfa {method: 'passkey'}` (or `/login/passkey` with an `mfa_id`): the passkey finishes a
   * sign-in begun with another method. It must be the user's of that `mfa_id`; a refused one counts
   * as a wrong second factor of that account (and answers 401 `invalid_credentials`).
   */
  async secondFactor(
    mfaId: string,
    input: { challengeId?: string | undefined; response: AssertionResponse },
    origin?: EventOrigin,
  ): Promise<TokenPair & { user: User }> {
    this.passkeys.config();
    // What the check inside the challenge's transaction found, for the audit after it.
    const seen: { refusal?: Refusal; used?: PasskeyRecord } = {};
    let userId: string;
    try {
      userId = await this.mfa.consume(mfaId, 'passkey', {
        origin,
        verify: async (trx, owner) => {
          const checked = await this.#check(trx, input.response, input.challengeId, owner);
          if (!checked.ok) {
            seen.refusal = checked;
            return 'wrong';
          }
          seen.used = checked.passkey;
          return 'ok';
        },
      });
    } catch (err) {
      // Every refusal is audited as mfa_failed by the challenge; a cloned authenticator also on its own.
      if (seen.refusal?.clone) await this.#refusal(seen.refusal, origin);
      // A refused passkey is 401 invalid_credentials like any refused assertion; a dead mfa_id stays 401 invalid_code.
      if (err instanceof InvalidCodeError && err.status === 400) throw refused();
      throw err;
    }
    const login = await this.sessions.loginAfterSecondFactor(userId, undefined, seen.used!.id);
    await this.ctx.audit.record('passkey_login', { userId, data: { passkey_id: seen.used!.id, second_factor: true }, origin });
    await this.ctx.audit.record('login_success', { userId, data: { method: 'mfa:passkey' }, origin });
    return login;
  }

  /**
   * Checks an assertion: its challenge (used up here, right or wrong) must be live and, if it was
   * asked for an account, that account's; the credential must be registered (to `owner`, for a
   * second factor), the user handle (if sent) its user's, the signature right over the configured
   * origins and RP ID with user verification, and the counter past the stored one.
   */
  async #check(db: Db, response: AssertionResponse, challengeId: string | undefined, owner: string | undefined): Promise<Checked> {
    const cfg = this.passkeys.config();
    const challenge = challengeOf(response);
    if (challenge === undefined) return { ok: false, userId: null };
    const row = await this.challenges.claim(db, 'passkey_login', { challenge, challengeId, userId: null });
    if (!row) return { ok: false, userId: null };
    const passkey = await findPasskeyByCredentialId(db, response.id);
    if (!passkey) return { ok: false, userId: null };
    const expected = boundUser(row);
    const handle = response.response.userHandle;
    if ((expected !== undefined && expected !== passkey.user_id) || (owner !== undefined && owner !== passkey.user_id))
      return { ok: false, userId: passkey.user_id };
    if (handle !== undefined && handle !== Buffer.from(userHandleOf(passkey.user_id)).toString('base64url')) return { ok: false, userId: passkey.user_id };
    const verified = await verifyAssertion(cfg, response, challenge, passkey);
    if (!verified) return { ok: false, userId: passkey.user_id };
    // A right signature over a counter that did not move: another copy of the key signed it.
    if (counterRegressed(passkey.counter, verified.counter)) return { ok: false, userId: passkey.user_id, clone: { passkey, presented: verified.counter } };
    const recorded = await recordPasskeyUse(db, passkey.id, {
      previous: passkey.counter,
      counter: verified.counter,
      backedUp: verified.backedUp,
      now: this.ctx.opts.now(),
    });
    // Another assertion of this passkey was accepted meanwhile: its counter is the newer one.
    if (!recorded) return { ok: false, userId: passkey.user_id };
    return { ok: true, passkey };
  }

  /** Audits a refused assertion; a cloned authenticator loudly. */
  async #refusal(checked: Refusal, origin: EventOrigin | undefined): Promise<void> {
    if (checked.clone) {
      const { passkey, presented } = checked.clone;
      this.ctx.logger.warn(
        { event: 'passkey_clone_suspected', user_id: passkey.user_id, passkey_id: passkey.id },
        'express-authlib: a passkey signed with a counter that did not increase; it may have been copied',
      );
      await this.ctx.audit.record('passkey_clone_suspected', {
        userId: passkey.user_id,
        data: { passkey_id: passkey.id, stored_counter: passkey.counter, presented_counter: presented },
        origin,
      });
      return;
    }
    await this.ctx.audit.record('login_failure', { userId: checked.userId, data: { method: 'passkey' }, origin });
  }

  /** A made-up credential for a name with no passkeys: derived from the name under the server's key, so it is the same each time. */
  #decoy(name: string): { credential_id: string } {
    return {
      credential_id: Buffer.from(keyedHash(this.ctx.opts.encryptionKey, `passkey decoy\0${identityKey(name)}`), 'hex')
        .subarray(0, 16)
        .toString('base64url'),
    };
  }
}
