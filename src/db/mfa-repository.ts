import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface TotpRecord {
  secret_enc: string;
  confirmed: boolean;
  last_step: number | null;
}

export async function findTotp(db: Db, userId: string): Promise<TotpRecord | undefined> {
  const row = await db.selectFrom('mfa_totp').select(['secret_enc', 'confirmed_at', 'last_step']).where('user_id', '=', userId).executeTakeFirst();
  return row && { secret_enc: row.secret_enc, confirmed: row.confirmed_at !== null, last_step: row.last_step === null ? null : Number(row.last_step) };
}

/** Stores a pending secret, replacing an earlier pending one; a confirmed one is left alone (returns false). */
export async function savePendingTotp(db: Db, userId: string, secretEnc: string, now: Date): Promise<boolean> {
  const result = await db
    .insertInto('mfa_totp')
    .values({ user_id: userId, secret_enc: secretEnc, created_at: now })
    .onConflict((oc) =>
      oc.column('user_id').doUpdateSet({ secret_enc: secretEnc, created_at: now, last_step: null }).where('mfa_totp.confirmed_at', 'is', null),
    )
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/**
 * Records `step` as the last accepted time step if it is newer than the last one: the database
 * arbitrates, so one code is accepted once even by concurrent requests. `confirm` also turns a
 * pending secret on.
 */
export async function acceptTotpStep(db: Db, userId: string, step: number, now: Date, confirm: boolean): Promise<boolean> {
  const result = await db
    .updateTable('mfa_totp')
    .set({ last_step: step, ...(confirm ? { confirmed_at: now } : {}) })
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', sql<string>`${step}`)]))
    .where('confirmed_at', confirm ? 'is' : 'is not', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteMfa(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('mfa_backup_codes').where('user_id', '=', userId).execute();
  await db.deleteFrom('mfa_totp').where('user_id', '=', userId).execute();
}

export async function replaceBackupCodes(db: Db, userId: string, hashes: readonly string[], now: Date): Promise<void> {
  await db.deleteFrom('mfa_backup_codes').where('user_id', '=', userId).execute();
  await db
    .insertInto('mfa_backup_codes')
    .values(hashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now })))
    .execute();
}

/** Uses a backup code up if it is the user's and unused; exactly one concurrent use wins. */
export async function useBackupCode(db: Db, userId: string, codeHash: string, now: Date): Promise<boolean> {
  const row = await db
    .updateTable('mfa_backup_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function countBackupCodes(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('mfa_backup_codes')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
