import type { Transaction } from 'kysely';
import { ConflictError } from '../errors.js';
import { lockRole } from '../db/roles-repository.js';
import type { Database } from '../db/schema.js';
import { countActiveHolders, lockUser, type UserRecord } from '../db/users-repository.js';

/** What a change leaves of a user: its roles and/or active flag (unchanged when absent), or nothing. */
export type UserAfter = { roles?: readonly string[] | undefined; active?: boolean | undefined } | 'deleted';

/**
 * Locks the user for a change that may take it out of the active holders of `adminRole`, and
 * refuses (409) to let the last one go: the system must never lock its admins out. When the change
 * would take the role from an active admin, the admin role's row is locked (FOR NO KEY UPDATE)
 * before the others are counted, so of two such changes the second waits for the first and counts
 * after it committed. Locks are always taken user first, then role, so they cannot deadlock;
 * granting the role, and changes to other users, take no role lock. Returns the user as it is
 * now, or undefined when it does not exist.
 */
export async function lockUserKeepingAnAdmin(trx: Transaction<Database>, adminRole: string, userId: string, after: UserAfter): Promise<UserRecord | undefined> {
  const user = await lockUser(trx, userId);
  if (!user) return undefined;
  const isAdmin = user.is_active && user.roles.includes(adminRole);
  const staysAdmin = after !== 'deleted' && (after.active ?? user.is_active) && (after.roles ?? user.roles).includes(adminRole);
  if (isAdmin && !staysAdmin) {
    await lockRole(trx, adminRole, 'share');
    if ((await countActiveHolders(trx, adminRole, userId)) === 0) {
      throw new ConflictError(`this is the last active holder of the '${adminRole}' role; give the role to another active user first`);
    }
  }
  return user;
}
