import type { Kysely, Transaction } from 'kysely';
import type { ApiTokenRow, Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Whose token: a user's, or a group's (a service key). */
export type ApiTokenOwner = { user_id: string } | { group_id: string };

function ownedBy<Q extends { where(column: 'user_id' | 'group_id', op: '=', value: string): Q }>(query: Q, owner: ApiTokenOwner): Q {
  return 'user_id' in owner ? query.where('user_id', '=', owner.user_id) : query.where('group_id', '=', owner.group_id);
}

export async function insertApiToken(
  db: Db,
  row: ApiTokenOwner & {
    id: string;
    name: string;
    token_hash: string;
    scopes: string[];
    created_at: Date;
    expires_at: Date | null;
    /** A service key's minter. */
    created_by?: string | null;
  },
): Promise<ApiTokenRow> {
  return db
    .insertInto('api_tokens')
    .values({ ...row, scopes: JSON.stringify(row.scopes) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findApiToken(db: Db, id: string): Promise<ApiTokenRow | undefined> {
  return db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listApiTokens(db: Db, owner: ApiTokenOwner): Promise<ApiTokenRow[]> {
  return ownedBy(db.selectFrom('api_tokens').selectAll(), owner).orderBy('created_at').orderBy('id').execute();
}

/** Deletes the token only if it belongs to `owner`; another owner's token looks like a missing one. */
export async function deleteApiToken(db: Db, owner: ApiTokenOwner, id: string): Promise<boolean> {
  const result = await ownedBy(db.deleteFrom('api_tokens').where('id', '=', id), owner).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function touchApiToken(db: Db, id: string, now: Date): Promise<void> {
  await db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
}

/** Deletes every API token of the user (account recovery: a reset or an email change ends them all). */
export async function deleteAllApiTokens(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('api_tokens').where('user_id', '=', userId).execute();
}

/**
 * A token someone minted on another's behalf: a service key (for `group_id`), or a user's token a
 * site admin minted for them (`group_id` null), and who minted it.
 */
export interface MintedServiceKey {
  id: string;
  group_id: string | null;
  /** The user a minted user's token belongs to (null for a service key). */
  user_id: string | null;
  created_by: string;
}

/** The tokens minted by `creatorId` (keys and users' tokens), or the keys minted (by anyone) for one of `groupIds`. */
export async function mintedServiceKeys(db: Db, filter: { creatorId: string } | { groupIds: readonly string[] }): Promise<MintedServiceKey[]> {
  let q = db.selectFrom('api_tokens').select(['id', 'group_id', 'user_id', 'created_by']).where('created_by', 'is not', null);
  if ('creatorId' in filter) q = q.where('created_by', '=', filter.creatorId);
  else if (filter.groupIds.length === 0) return [];
  else q = q.where('group_id', 'in', [...filter.groupIds]);
  const rows = await q.execute();
  return rows.map((r) => ({ id: r.id, group_id: r.group_id, user_id: r.user_id, created_by: r.created_by! }));
}

/** Deletes the tokens `ids`. */
export async function deleteApiTokensByIds(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length > 0)
    await db
      .deleteFrom('api_tokens')
      .where('id', 'in', [...ids])
      .execute();
}
