import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import {
  claimOneTimeToken,
  findLiveOneTimeToken,
  insertOneTimeToken,
  pruneOneTimeTokens,
  retireAllButNewest,
  retireOneTimeTokens,
} from '../db/one-time-tokens-repository.js';
import { lockCredentialVersion } from '../db/users-repository.js';
import type { Database, OneTimePurpose, UserOneTimeTokenRow } from '../db/schema.js';
import { randomBase62, sha256 } from '../tokens/secrets.js';

type Db = Kysely<Database> | Transaction<Database>;

/** 43 base62 characters: 256 bits. */
const LINK_TOKEN_LENGTH = 43;
const LINK_TOKEN = /^[0-9A-Za-z]{43}$/;

/** At most this many `mfa_id`s of one account are live at once; beginning another retires the oldest. */
export const MFA_LIVE_CHALLENGES = 3;

/** A link token as issued: the secret for the mail, and when it dies. */
export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

/**
 * Single-use, expiring secrets kept only as SHA-256 in `one_time_tokens`: the links of password
 * reset, email verification and email change, pending second factors (`mfa_id`) and WebAuthn
 * challenges.
 */
export class OneTimeTokens {
  #prunedAt = 0;

  constructor(private readonly now: () => Date) {}

  /**
   * Issues a token for `purpose` under the user's current address and password (it dies when
   * either changes). A newer one replaces every live one of the user for that purpose; an `mfa_id`
   * instead retires the oldest beyond MFA_LIVE_CHALLENGES. The user's row is locked first, so
   * concurrent requests take turns and exactly one token stays live (the unique partial index on
   * live tokens backs this up). `secret` gives the id and hash to store (an email code's); by
   * default a 256-bit link token is made. Undefined when the user is gone.
   */
  async issue(
    db: Kysely<Database>,
    input: {
      userId: string;
      purpose: OneTimePurpose;
      email: string | null;
      ttlSeconds: number;
      data?: Record<string, unknown>;
      secret?: { id: string; hash: string };
      /** The credential version the caller read the user (and the address it mails) under: nothing is issued if it changed since. */
      version: number;
    },
  ): Promise<IssuedToken | undefined> {
    const now = this.now();
    const token = input.secret ? '' : randomBase62(LINK_TOKEN_LENGTH);
    const expiresAt = new Date(now.getTime() + input.ttlSeconds * 1000);
    // Rows a day past their expiry go, at most once a minute per instance.
    if (Date.now() - this.#prunedAt > 60_000) {
      this.#prunedAt = Date.now();
      await pruneOneTimeTokens(db, new Date(now.getTime() - 86_400_000));
    }
    const issued = await db.transaction().execute(async (trx) => {
      const version = await lockCredentialVersion(trx, input.userId);
      if (version === undefined || version !== input.version) return false;
      if (input.purpose === 'mfa') await retireAllButNewest(trx, input.userId, 'mfa', MFA_LIVE_CHALLENGES - 1, now);
      else await retireOneTimeTokens(trx, input.userId, [input.purpose], now);
      await insertOneTimeToken(trx, {
        id: input.secret?.id ?? randomUUID(),
        user_id: input.userId,
        purpose: input.purpose,
        token_hash: input.secret?.hash ?? sha256(token),
        email: input.email,
        ...(input.data ? { data: input.data } : {}),
        credential_version: version,
        created_at: now,
        expires_at: expiresAt,
      });
      return true;
    });
    return issued ? { token, expiresAt } : undefined;
  }

  /**
   * Stores a challenge of a passkey sign-in, which is asked for before anyone is known: no user,
   * so nothing to replace; `secret` gives its id and the hash of the challenge.
   */
  async issueAnonymous(
    db: Kysely<Database>,
    input: { purpose: 'passkey_login'; ttlSeconds: number; data: Record<string, unknown>; secret: { id: string; hash: string } },
  ): Promise<IssuedToken> {
    const now = this.now();
    const expiresAt = new Date(now.getTime() + input.ttlSeconds * 1000);
    if (Date.now() - this.#prunedAt > 60_000) {
      this.#prunedAt = Date.now();
      await pruneOneTimeTokens(db, new Date(now.getTime() - 86_400_000));
    }
    await insertOneTimeToken(db, {
      id: input.secret.id,
      user_id: null,
      purpose: input.purpose,
      token_hash: input.secret.hash,
      email: null,
      data: input.data,
      credential_version: 0,
      created_at: now,
      expires_at: expiresAt,
    });
    return { token: '', expiresAt };
  }

  /**
   * The database work of `issue` for an address that has no account, so that the background work a
   * request leaves behind (which on embedded PGlite holds the one session the next request needs) does
   * not tell known and unknown addresses apart: the same transaction, matching nothing.
   */
  async decoy(db: Kysely<Database>, purpose: OneTimePurpose): Promise<void> {
    await db.transaction().execute(async (trx) => {
      await lockCredentialVersion(trx, randomUUID());
      await retireOneTimeTokens(trx, randomUUID(), [purpose], this.now());
      await findLiveOneTimeToken(trx, purpose, sha256(randomBase62(LINK_TOKEN_LENGTH)), this.now());
    });
  }

  /** The live token, without using it up (to check what it is for before the work that uses it). */
  peek(db: Db, purpose: OneTimePurpose, token: string): Promise<UserOneTimeTokenRow | undefined> {
    if (!LINK_TOKEN.test(token)) return Promise.resolve(undefined);
    return findLiveOneTimeToken(db, purpose, sha256(token), this.now());
  }

  /** Uses the token up if it is live; undefined for an unknown, used, expired or replaced one. */
  claim(db: Db, purpose: OneTimePurpose, token: string): Promise<UserOneTimeTokenRow | undefined> {
    if (!LINK_TOKEN.test(token)) return Promise.resolve(undefined);
    return claimOneTimeToken(db, purpose, sha256(token), this.now());
  }
}
