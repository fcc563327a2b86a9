import type { Kysely, Transaction } from 'kysely';
import type { Database, RefreshTokenRow } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export async function insertRefreshToken(
  db: Db,
  row: { id: string; family_id: string; user_id: string; token_hash: string; parent_id: string | null; created_at: Date; expires_at: Date },
): Promise<void> {
  await db.insertInto('refresh_tokens').values(row).execute();
}

/**
 * Marks the token used if, and only if, it is still live. The database arbitrates between
 * concurrent refreshes: exactly one caller gets the row back.
 */
export function claimRefreshToken(db: Db, id: string, tokenHash: string, now: Date): Promise<RefreshTokenRow | undefined> {
  return db
    .updateTable('refresh_tokens')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

export function findRefreshToken(db: Db, id: string, tokenHash: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom('refresh_tokens').selectAll().where('id', '=', id).where('token_hash', '=', tokenHash).executeTakeFirst();
}

export function findChild(db: Db, parentId: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom('refresh_tokens').selectAll().where('parent_id', '=', parentId).executeTakeFirst();
}

/** Revokes every token of a login. */
export async function revokeSession(db: Db, sessionId: string, now: Date): Promise<void> {
  await db.updateTable('refresh_tokens').set({ revoked_at: now }).where('family_id', '=', sessionId).where('revoked_at', 'is', null).execute();
}

/** Logins with a refresh token revoked after `since`: their access tokens may still be unexpired. */
export async function sessionsRevokedSince(db: Db, since: Date): Promise<string[]> {
  const rows = await db.selectFrom('refresh_tokens').select('family_id').distinct().where('revoked_at', '>', since).execute();
  return rows.map((r) => r.family_id);
}

/** Revokes every refresh token of a user (logout-all, password change, disable). */
export async function revokeAllForUser(db: Db, userId: string, now: Date): Promise<void> {
  await db.updateTable('refresh_tokens').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
}
