import { sql, type Kysely, type SelectQueryBuilder, type Transaction } from 'kysely';
import { identityKey } from '../identity-key.js';
import { isWrittenId } from '../id-shape.js';
import type { Database, NewUserRow, UserRow } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A user row with its role names (sorted), whether TOTP is confirmed (MFA on), whether the user has a passkey, and whether they are in any group. */
export interface UserRecord extends UserRow {
  roles: string[];
  mfa_enabled: boolean;
  has_passkey: boolean;
  in_groups: boolean;
}

/**
 * Whether `id` can be a user id (hyphenated, either case); anything else would make PostgreSQL
 * raise, or name an id in a spelling the rest of the library does not accept, instead of finding nothing.
 */
export const isUserId = isWrittenId;

export { identityKey };

function selectUsers(db: Db) {
  return db
    .selectFrom('users')
    .selectAll('users')
    .select((eb) => [
      sql<
        string[]
      >`array(${eb.selectFrom('user_roles').select('user_roles.role').whereRef('user_roles.user_id', '=', 'users.id').orderBy('user_roles.role')})`.as('roles'),
      sql<boolean>`exists(${eb.selectFrom('mfa_totp').select('mfa_totp.user_id').whereRef('mfa_totp.user_id', '=', 'users.id').where('mfa_totp.confirmed_at', 'is not', null)})`.as(
        'mfa_enabled',
      ),
      sql<boolean>`exists(${eb.selectFrom('passkeys').select('passkeys.user_id').whereRef('passkeys.user_id', '=', 'users.id')})`.as('has_passkey'),
      sql<boolean>`exists(${eb.selectFrom('group_members').select('group_members.user_id').whereRef('group_members.user_id', '=', 'users.id')})`.as(
        'in_groups',
      ),
    ]);
}

export function findUserById(db: Db, id: string): Promise<UserRecord | undefined> {
  if (!isUserId(id)) return Promise.resolve(undefined);
  return selectUsers(db).where('users.id', '=', id).executeTakeFirst();
}

/** The users of `ids` that exist, in no particular order. */
export function findUsersByIds(db: Db, ids: readonly string[]): Promise<UserRecord[]> {
  const valid = ids.filter(isUserId);
  if (valid.length === 0) return Promise.resolve([]);
  return selectUsers(db).where('users.id', 'in', valid).execute();
}

/** By username or email, compared through `identityKey`. */
export function findUserByIdentifier(db: Db, identifier: string): Promise<UserRecord | undefined> {
  const key = identityKey(identifier);
  return selectUsers(db)
    .where((eb) => eb.or([eb('users.username_key', '=', key), eb('users.email_key', '=', key)]))
    .orderBy(sql`users.username_key = ${key}`, 'desc')
    .executeTakeFirst();
}

/** Inserts a user and its roles; the unique keys make a duplicate fail with 23505. */
export async function insertUser(db: Db, row: NewUserRow, roles: readonly string[]): Promise<string> {
  const { id } = await db.insertInto('users').values(row).returning('id').executeTakeFirstOrThrow();
  if (roles.length > 0)
    await db
      .insertInto('user_roles')
      .values(roles.map((role) => ({ user_id: id, role })))
      .execute();
  return id;
}

/** Replaces the user's roles and bumps the token version, so tokens naming the old roles stop working. */
export async function replaceRoles(db: Db, userId: string, roles: readonly string[], now: Date): Promise<boolean> {
  const bumped = await bumpTokenVersion(db, userId, now);
  if (!bumped) return false;
  await db.deleteFrom('user_roles').where('user_id', '=', userId).execute();
  if (roles.length > 0)
    await db
      .insertInto('user_roles')
      .values(roles.map((role) => ({ user_id: userId, role })))
      .execute();
  return true;
}

/** Invalidates every access token issued to the user so far. Returns whether the user exists. */
export async function bumpTokenVersion(
  db: Db,
  userId: string,
  now: Date,
  changes: Partial<Pick<UserRow, 'is_active' | 'password_hash' | 'email' | 'email_key' | 'email_verified' | 'owner_proven'>> = {},
): Promise<boolean> {
  if (!isUserId(userId)) return false;
  const result = await db
    .updateTable('users')
    .set((eb) => ({ ...changes, token_version: eb('token_version', '+', 1), updated_at: now }))
    .where('id', '=', userId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Locks the user's row until the transaction ends and returns it as it is now (roles, version, hash).
 * Every change that ends logins updates this row first, so a transaction that holds the lock
 * cannot interleave with one: it sees the revocation, or the revocation sees what it wrote.
 */
export function lockUser(db: Transaction<Database>, userId: string): Promise<UserRecord | undefined> {
  if (!isUserId(userId)) return Promise.resolve(undefined);
  return selectUsers(db).where('users.id', '=', userId).forUpdate().executeTakeFirst();
}

/**
 * Locks the user's row (as lockUser) and returns only its credential version: what a link, code or
 * mfa_id is issued under. Issuing under the lock makes concurrent requests take turns.
 */
export async function lockCredentialVersion(db: Transaction<Database>, userId: string): Promise<number | undefined> {
  if (!isUserId(userId)) return undefined;
  const row = await db.selectFrom('users').select('credential_version').where('id', '=', userId).forUpdate().executeTakeFirst();
  return row?.credential_version;
}

/** The account whose email has this comparison key, with whether that email is verified. */
export function findEmailOwner(db: Db, emailKey: string): Promise<Pick<UserRow, 'id' | 'email_verified' | 'owner_proven'> | undefined> {
  return db.selectFrom('users').select(['id', 'email_verified', 'owner_proven']).where('email_key', '=', emailKey).executeTakeFirst();
}

/** By email only (not username), compared through `identityKey`. */
export function findUserByEmail(db: Db, email: string): Promise<UserRecord | undefined> {
  return selectUsers(db).where('users.email_key', '=', identityKey(email)).executeTakeFirst();
}

/** Marks the email verified if it is still `emailKey` (it may have changed since the link was sent). */
export async function markEmailVerified(db: Db, userId: string, emailKey: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ email_verified: true, updated_at: now })
    .where('id', '=', userId)
    .where('email_key', '=', emailKey)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function touchLastLogin(db: Db, userId: string, now: Date): Promise<void> {
  await db.updateTable('users').set({ last_login: now }).where('id', '=', userId).execute();
}

/** `term` as a LIKE pattern matching it anywhere, with `%`, `_` and `\` (the default escape) taken literally. */
export function containsPattern(term: string): string {
  return `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** What `listUsers` filters on: `search` is a substring of the username or email, compared through `identityKey`. */
export interface UserFilter {
  search?: string | undefined;
  role?: string | undefined;
}

function filteredUsers<O>(query: SelectQueryBuilder<Database, 'users', O>, filter: UserFilter): SelectQueryBuilder<Database, 'users', O> {
  let q = query;
  if (filter.search) {
    // Two LIKEs on the folded keys, each served by its trigram index (sql/0008_admin.sql).
    const pattern = containsPattern(identityKey(filter.search));
    q = q.where((eb) => eb.or([eb('users.username_key', 'like', pattern), eb('users.email_key', 'like', pattern)]));
  }
  if (filter.role) {
    const role = filter.role;
    q = q.where((eb) =>
      eb.exists(eb.selectFrom('user_roles').select('user_roles.user_id').whereRef('user_roles.user_id', '=', 'users.id').where('user_roles.role', '=', role)),
    );
  }
  return q;
}

/** One page of users, newest first, and how many match in all. */
export async function listUsers(db: Db, filter: UserFilter, page: { limit: number; offset: number }): Promise<{ rows: UserRecord[]; total: number }> {
  const rows = await filteredUsers(selectUsers(db), filter)
    .orderBy('users.created_at', 'desc')
    .orderBy('users.id', 'desc')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
  const counted = await filteredUsers(db.selectFrom('users'), filter)
    .select((eb) => eb.fn.countAll<string | number | bigint>().as('n'))
    .executeTakeFirstOrThrow();
  return { rows, total: Number(counted.n) };
}

/** The columns an admin may change directly (roles, active flag and password go through their own paths). */
export type UserFields = Partial<Pick<UserRow, 'username' | 'username_key' | 'email' | 'email_key' | 'email_verified' | 'owner_proven' | 'real_name'>> & {
  profile?: string;
};

/** Updates plain columns of a user. Returns whether the user exists; a taken username or email fails with 23505. */
export async function updateUserFields(db: Db, userId: string, fields: UserFields, now: Date): Promise<boolean> {
  if (!isUserId(userId)) return false;
  const result = await db
    .updateTable('users')
    .set({ ...fields, updated_at: now })
    .where('id', '=', userId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Deletes a user; its roles, logins, API tokens and identities go with it (ON DELETE CASCADE), its audit events stay. */
export async function deleteUser(db: Db, userId: string): Promise<boolean> {
  if (!isUserId(userId)) return false;
  const result = await db.deleteFrom('users').where('id', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** How many active users hold `role`, leaving out `exceptUserId`. */
export async function countActiveHolders(db: Db, role: string, exceptUserId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .innerJoin('user_roles', 'user_roles.user_id', 'users.id')
    .where('user_roles.role', '=', role)
    .where('users.is_active', '=', true)
    .where('users.id', '!=', exceptUserId)
    .select((eb) => eb.fn.countAll<string | number | bigint>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
