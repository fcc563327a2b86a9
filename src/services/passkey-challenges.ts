import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { claimPasskeyChallenge } from '../db/one-time-tokens-repository.js';
import type { Database, OneTimeTokenRow } from '../db/schema.js';
import type { UserRecord } from '../db/users-repository.js';
import { AuthenticationError } from '../errors.js';
import { sha256 } from '../tokens/secrets.js';
import type { ServiceContext } from './context.js';
import type { OneTimeTokens } from './one-time-tokens.js';
import { newChallenge, PASSKEY_CHALLENGE_SECONDS } from './webauthn-ceremony.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A challenge as handed out: its id for the client to send back, and the challenge for the options. */
export interface IssuedChallenge {
  challengeId: string;
  challenge: string;
}

/** What a sign-in challenge was asked for: an account (by username or an `mfa_id`), or anyone (discoverable). */
export interface SignInBinding {
  /** The account whose passkey must answer; a random id for an unknown username, so nothing can. */
  user?: string;
}

/**
 * WebAuthn challenges in `one_time_tokens`, like every other single-use secret: 256 bits, stored
 * only as SHA-256, valid 300 s, used up by the first response that presents them (right or wrong).
 * A registration challenge is bound to its user and to the credentials it was issued under (a new
 * one replaces it); a sign-in challenge is bound to the attempt that asked for it.
 */
export class PasskeyChallenges {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly tokens: OneTimeTokens,
  ) {}

  /** A registration challenge for `user`, under their current address and password. */
  async forRegistration(user: UserRecord): Promise<IssuedChallenge> {
    const challenge = newChallenge();
    const challengeId = randomUUID();
    const issued = await this.ctx.database.run((db) =>
      this.tokens.issue(db, {
        userId: user.id,
        purpose: 'passkey_register',
        email: null,
        ttlSeconds: PASSKEY_CHALLENGE_SECONDS,
        secret: { id: challengeId, hash: sha256(challenge) },
        version: user.credential_version,
      }),
    );
    // The address or password changed since the caller was read: sign in again.
    if (!issued) throw new AuthenticationError('invalid_token', 'the account changed; sign in again');
    return { challengeId, challenge };
  }

  /** A sign-in challenge, for the account in `binding` or (without one) for whoever answers. */
  async forSignIn(binding: SignInBinding): Promise<IssuedChallenge> {
    const challenge = newChallenge();
    const challengeId = randomUUID();
    await this.ctx.database.run((db) =>
      this.tokens.issueAnonymous(db, {
        purpose: 'passkey_login',
        ttlSeconds: PASSKEY_CHALLENGE_SECONDS,
        data: binding.user === undefined ? {} : { user: binding.user },
        secret: { id: challengeId, hash: sha256(challenge) },
      }),
    );
    return { challengeId, challenge };
  }

  /**
   * Uses up the challenge a response signed (`challenge`, read from its client data), if it is
   * live and, when `challengeId` is given, the one of that id; for a registration, only `userId`'s.
   */
  claim(
    db: Db,
    purpose: 'passkey_register' | 'passkey_login',
    input: { challenge: string; challengeId?: string | undefined; userId: string | null },
  ): Promise<OneTimeTokenRow | undefined> {
    return claimPasskeyChallenge(
      db,
      purpose,
      { tokenHash: sha256(input.challenge), challengeId: input.challengeId, userId: input.userId },
      this.ctx.opts.now(),
    );
  }
}

/** The account a sign-in challenge was asked for, if any. */
export function boundUser(row: OneTimeTokenRow): string | undefined {
  const user = (row.data as { user?: unknown }).user;
  return typeof user === 'string' ? user : undefined;
}
