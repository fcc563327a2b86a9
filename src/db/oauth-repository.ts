import type { Kysely, Transaction } from 'kysely';
import type { Database, OAuthAccountRow, OAuthStateRow } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export async function insertOAuthState(db: Db, row: { state_hash: string; provider: string; verifier_enc: string | null; redirect_to: string | null; created_at: Date; expires_at: Date }): Promise<void> {
  await db.insertInto('oauth_states').values(row).execute();
}

/** Takes a state out of the table: single use, and only while unexpired. The database arbitrates replays. */
export function consumeOAuthState(db: Db, stateHash: string, now: Date): Promise<OAuthStateRow | undefined> {
  return db.deleteFrom('oauth_states').where('state_hash', '=', stateHash).where('expires_at', '>', now).returningAll().executeTakeFirst();
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
  row: { provider: string; provider_user_id: string; user_id: string; email: string | null; access_token_enc: string | null; refresh_token_enc: string | null; scopes: string[]; created_at: Date; updated_at: Date },
): Promise<void> {
  await db.insertInto('oauth_accounts').values({ ...row, scopes: JSON.stringify(row.scopes) }).execute();
}

/** Stores the tokens of the latest login with this account. */
export async function updateOAuthTokens(db: Db, provider: string, providerUserId: string, t: { access_token_enc: string | null; refresh_token_enc: string | null; scopes: string[]; email: string | null; updated_at: Date }): Promise<void> {
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
