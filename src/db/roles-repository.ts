import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export async function listRoles(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('roles').select('name').orderBy('name').execute();
  return rows.map((r) => r.name);
}

/** Creates the roles that do not exist yet (idempotent, race-safe). */
export async function ensureRoles(db: Db, roles: readonly string[]): Promise<void> {
  if (roles.length === 0) return;
  await db
    .insertInto('roles')
    .values(roles.map((name) => ({ name })))
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

/** Which of `roles` do not exist. */
export async function missingRoles(db: Db, roles: readonly string[]): Promise<string[]> {
  if (roles.length === 0) return [];
  const found = await db.selectFrom('roles').select('name').where('name', 'in', [...roles]).execute();
  const have = new Set(found.map((r) => r.name));
  return roles.filter((r) => !have.has(r));
}
