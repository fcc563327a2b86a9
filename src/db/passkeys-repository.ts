import type { Kysely, Transaction } from 'kysely';
import type { Database, PasskeyRow } from './schema.js';
import { isUserId } from './users-repository.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A passkey as stored, with its counter as a number (bigint comes back as a string from node-postgres). */
export type PasskeyRecord = Omit<PasskeyRow, 'counter'> & { counter: number };

const record = (row: PasskeyRow): PasskeyRecord => ({ ...row, counter: Number(row.counter) });

export async function insertPasskey(
  db: Db,
  row: {
    user_id: string;
    credential_id: string;
    public_key: string;
    counter: number;
    transports: string[];
    name: string;
    device_type: string;
    backed_up: boolean;
    created_at: Date;
  },
): Promise<PasskeyRecord> {
  return record(await db.insertInto('passkeys').values(row).returningAll().executeTakeFirstOrThrow());
}

/** The user's passkeys, oldest first. */
export async function listPasskeys(db: Db, userId: string): Promise<PasskeyRecord[]> {
  if (!isUserId(userId)) return [];
  const rows = await db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
  return rows.map(record);
}

/** Whether the user has a passkey of this id. */
export async function passkeyExists(db: Db, userId: string, id: string): Promise<boolean> {
  if (!isUserId(userId) || !isUserId(id)) return false;
  return (await db.selectFrom('passkeys').select('id').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst()) !== undefined;
}

/** The passkey of a credential id (whoever's it is), as an assertion names it. */
export async function findPasskeyByCredentialId(db: Db, credentialId: string): Promise<PasskeyRecord | undefined> {
  const row = await db.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
  return row && record(row);
}

/** Renames one of the user's passkeys; undefined when the user has no passkey of that id. */
export async function renamePasskey(db: Db, userId: string, id: string, name: string): Promise<PasskeyRecord | undefined> {
  if (!isUserId(userId) || !isUserId(id)) return undefined;
  const row = await db.updateTable('passkeys').set({ name }).where('id', '=', id).where('user_id', '=', userId).returningAll().executeTakeFirst();
  return row && record(row);
}

/** Deletes one of the user's passkeys; whether it existed. */
export async function deletePasskey(db: Db, userId: string, id: string): Promise<boolean> {
  if (!isUserId(userId) || !isUserId(id)) return false;
  const result = await db.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Deletes every passkey of the user (a recovery of the address by its owner). */
export async function deleteAllPasskeys(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('passkeys').where('user_id', '=', userId).execute();
}

/**
 * Records an accepted assertion: the new counter, when it was used and whether it is backed up now.
 * Only if the counter is still `previous` (the database arbitrates: of two assertions checked
 * against one counter at once, one wins); returns whether it did.
 */
export async function recordPasskeyUse(db: Db, id: string, update: { previous: number; counter: number; backedUp: boolean; now: Date }): Promise<boolean> {
  const result = await db
    .updateTable('passkeys')
    .set({ counter: update.counter, backed_up: update.backedUp, last_used_at: update.now })
    .where('id', '=', id)
    .where('counter', '=', update.previous)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
