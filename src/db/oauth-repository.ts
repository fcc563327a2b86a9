import type { Kysely, Transaction } from 'kysely';
import type { Database, OAuthAccountRow, OAuthStateRow } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A state row as written when a flow begins. */
export type NewOAuthState = Omit<OAuthStateRow, 'verifier_enc'>;

/**
 * Stores a state and keeps at most `maxPerClient` live states per address: the oldest beyond that
 * are dropped, so one address cannot fill the table however many flows it begins.
 */
export async function insertOAuthState(db: Db, row: NewOAuthState, maxPerClient: number): Promise<void> {
  await db.insertInto('oauth_states').values(row).execute();
  const keep = db
    .selectFrom('oauth_states')
    .select('state_hash')
    .where('client_key', '=', row.client_key)
    .orderBy('created_at', 'desc')
    .orderBy('state_hash')
    .limit(maxPerClient);
  await db.deleteFrom('oauth_states').where('client_key', '=', row.client_key).where('state_hash', 'not in', keep).execute();
}

/**
 * Takes a state out of the table: single use, only while unexpired, and only for the browser that
 * began it (a request without that browser's cookie leaves the state for the real owner). The
 * database arbitrates replays.
 */
export function consumeOAuthState(db: Db, stateHash: string, browserHash: string, now: Date): Promise<OAuthStateRow | undefined> {
  return db
    .deleteFrom('oauth_states')
    .where('state_hash', '=', stateHash)
    .where('browser_hash', '=', browserHash)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

/** Housekeeping: states nobody came back for. */
export async function deleteExpiredOAuthStates(db: Db, now: Date): Promise<void> {
  await db.deleteFrom('oauth_states').where('expires_at', '<=', now).execute();
}

export function findOAuthAccount(db: Db, provider: string, providerUserId: string): Promise<OAuthAccountRow | undefined> {
  return db.selectFrom('oauth_accounts').selectAll().where('provider', '=', provider).where('provider_user_id', '=', providerUserId).executeTakeFirst();
}

export function findOAuthAccountOfUser(db: Db, userId: string, provider: string): Promise<OAuthAccountRow | undefined> {
  return db.selectFrom('oauth_accounts').selectAll().where('user_id', '=', userId).where('provider', '=', provider).executeTakeFirst();
}

export function listOAuthAccounts(db: Db, userId: string): Promise<OAuthAccountRow[]> {
  return db.selectFrom('oauth_accounts').selectAll().where('user_id', '=', userId).orderBy('provider').execute();
}

export async function insertOAuthAccount(
  db: Db,
  row: {
    provider: string;
    provider_user_id: string;
    user_id: string;
    email: string | null;
    email_verified: boolean;
    access_token_enc: string | null;
    refresh_token_enc: string | null;
    scopes: string[];
    created_at: Date;
    updated_at: Date;
  },
): Promise<void> {
  await db
    .insertInto('oauth_accounts')
    .values({ ...row, scopes: JSON.stringify(row.scopes) })
    .execute();
}

/** Stores the tokens of the latest login with this account. */
export async function updateOAuthTokens(
  db: Db,
  provider: string,
  providerUserId: string,
  t: { access_token_enc: string | null; refresh_token_enc: string | null; scopes: string[]; email: string | null; email_verified: boolean; updated_at: Date },
): Promise<void> {
  await db
    .updateTable('oauth_accounts')
    .set({ ...t, scopes: JSON.stringify(t.scopes) })
    .where('provider', '=', provider)
    .where('provider_user_id', '=', providerUserId)
    .execute();
}

export async function deleteOAuthAccount(db: Db, userId: string, provider: string): Promise<boolean> {
  const result = await db.deleteFrom('oauth_accounts').where('user_id', '=', userId).where('provider', '=', provider).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Unlinks every provider account of the user (a recovery ends the identities a previous holder linked). */
export async function deleteAllOAuthAccounts(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('oauth_accounts').where('user_id', '=', userId).execute();
}
