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
  const found = await db
    .selectFrom('roles')
    .select('name')
    .where('name', 'in', [...roles])
    .execute();
  const have = new Set(found.map((r) => r.name));
  return roles.filter((r) => !have.has(r));
}

/** Every role with how many users hold it, by name. */
export async function listRolesWithCounts(db: Db): Promise<Array<{ name: string; users: number }>> {
  const rows = await db
    .selectFrom('roles')
    .leftJoin('user_roles', 'user_roles.role', 'roles.name')
    .select(['roles.name', (eb) => eb.fn.count<string | number | bigint>('user_roles.user_id').as('users')])
    .groupBy('roles.name')
    .orderBy('roles.name')
    .execute();
  return rows.map((r) => ({ name: r.name, users: Number(r.users) }));
}

/** Creates a role; false when it exists already. */
export async function insertRole(db: Db, name: string, now: Date): Promise<boolean> {
  const row = await db
    .insertInto('roles')
    .values({ name, created_at: now })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('name')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Locks a role's row until the transaction ends; false when it does not exist. `share` (FOR NO KEY
 * UPDATE) serialises the changes that could take the last holder of the admin role away while
 * letting new holders be added; `exclusive` (FOR UPDATE) also waits for, and then blocks, every
 * grant of the role (a grant's foreign-key check takes KEY SHARE), as deleting it must.
 */
export async function lockRole(db: Transaction<Database>, name: string, mode: 'share' | 'exclusive'): Promise<boolean> {
  const query = db.selectFrom('roles').select('name').where('name', '=', name);
  const row = await (mode === 'exclusive' ? query.forUpdate() : query.forNoKeyUpdate()).executeTakeFirst();
  return row !== undefined;
}

/** How many users hold `role`. */
export async function countHolders(db: Db, role: string): Promise<number> {
  const row = await db
    .selectFrom('user_roles')
    .where('role', '=', role)
    .select((eb) => eb.fn.countAll<string | number | bigint>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function deleteRole(db: Db, name: string): Promise<void> {
  await db.deleteFrom('roles').where('name', '=', name).execute();
}
