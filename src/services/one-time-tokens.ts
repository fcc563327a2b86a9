import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { claimOneTimeToken, findLiveOneTimeToken, insertOneTimeToken, pruneOneTimeTokens, retireOneTimeTokens } from '../db/one-time-tokens-repository.js';
import type { Database, OneTimePurpose, OneTimeTokenRow } from '../db/schema.js';
import { randomBase62, sha256 } from '../tokens/secrets.js';

type Db = Kysely<Database> | Transaction<Database>;

/** 43 base62 characters: 256 bits. */
const LINK_TOKEN_LENGTH = 43;
const LINK_TOKEN = /^[0-9A-Za-z]{43}$/;

/** A link token as issued: the secret for the mail, and when it dies. */
export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

/**
 * Single-use, expiring secrets kept only as SHA-256 in `one_time_tokens`: the links of password
 * reset, email verification and email change, and pending second factors (`mfa_id`).
 */
export class OneTimeTokens {
  #prunedAt = 0;

  constructor(private readonly now: () => Date) {}

  /** Issues a token for `purpose`; a newer one replaces every live one of the user for that purpose. */
  async issue(
    db: Db,
    input: { userId: string; purpose: OneTimePurpose; email: string | null; ttlSeconds: number; data?: Record<string, unknown> },
  ): Promise<IssuedToken> {
    const now = this.now();
    const token = randomBase62(LINK_TOKEN_LENGTH);
    const expiresAt = new Date(now.getTime() + input.ttlSeconds * 1000);
    if (input.purpose !== 'mfa') await retireOneTimeTokens(db, input.userId, [input.purpose], now);
    // Rows a day past their expiry go, at most once a minute per instance.
    if (Date.now() - this.#prunedAt > 60_000) {
      this.#prunedAt = Date.now();
      await pruneOneTimeTokens(db, new Date(now.getTime() - 86_400_000));
    }
    await insertOneTimeToken(db, {
      id: randomUUID(),
      user_id: input.userId,
      purpose: input.purpose,
      token_hash: sha256(token),
      email: input.email,
      ...(input.data ? { data: input.data } : {}),
      created_at: now,
      expires_at: expiresAt,
    });
    return { token, expiresAt };
  }

  /**
   * The database work of `issue` for an address that has no account, so that the background work a
   * request leaves behind (which on embedded PGlite shares the thread with the next request) does
   * not tell known and unknown addresses apart: the same transaction, matching nothing.
   */
  async decoy(db: Kysely<Database>, purpose: OneTimePurpose): Promise<void> {
    await db.transaction().execute(async (trx) => {
      await retireOneTimeTokens(trx, randomUUID(), [purpose], this.now());
      await findLiveOneTimeToken(trx, purpose, sha256(randomBase62(LINK_TOKEN_LENGTH)), this.now());
    });
  }

  /** The live token, without using it up (to check what it is for before the work that uses it). */
  peek(db: Db, purpose: OneTimePurpose, token: string): Promise<OneTimeTokenRow | undefined> {
    if (!LINK_TOKEN.test(token)) return Promise.resolve(undefined);
    return findLiveOneTimeToken(db, purpose, sha256(token), this.now());
  }

  /** Uses the token up if it is live; undefined for an unknown, used, expired or replaced one. */
  claim(db: Db, purpose: OneTimePurpose, token: string): Promise<OneTimeTokenRow | undefined> {
    if (!LINK_TOKEN.test(token)) return Promise.resolve(undefined);
    return claimOneTimeToken(db, purpose, sha256(token), this.now());
  }
}
