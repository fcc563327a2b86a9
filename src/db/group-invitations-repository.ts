import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, GroupInvitationRow } from './schema.js';
import { isUserId } from './users-repository.js';

type Db = Kysely<Database> | Transaction<Database>;

/** What an invitation carries, whoever it is addressed to. */
export interface InvitationFields {
  group_id: string;
  roles: string[];
  invited_by: string;
  now: Date;
  expires_at: Date;
}

/**
 * Invites the account whose username has `usernameKey`, in one statement that inserts nothing when
 * there is none: a known and an unknown name cost the same round trip. A pending invitation of the
 * same account into the same group is renewed (roles, inviter, expiry). Undefined for no account.
 */
export function inviteAccount(db: Db, usernameKey: string, f: InvitationFields): Promise<GroupInvitationRow | undefined> {
  return db
    .insertInto('group_invitations')
    .columns(['group_id', 'user_id', 'roles', 'invited_by', 'created_at', 'expires_at'])
    .expression((eb) =>
      eb
        .selectFrom('users')
        .select([
          sql<string>`${f.group_id}::uuid`.as('group_id'),
          'users.id',
          sql<string[]>`${sql.val(f.roles)}::text[]`.as('roles'),
          sql<string>`${f.invited_by}::uuid`.as('invited_by'),
          sql<Date>`${f.now}::timestamptz`.as('created_at'),
          sql<Date>`${f.expires_at}::timestamptz`.as('expires_at'),
        ])
        .where('users.username_key', '=', usernameKey),
    )
    .onConflict((oc) =>
      oc
        .columns(['group_id', 'user_id'])
        .where('user_id', 'is not', null)
        .doUpdateSet((eb) => ({
          roles: eb.ref('excluded.roles'),
          invited_by: eb.ref('excluded.invited_by'),
          created_at: eb.ref('excluded.created_at'),
          expires_at: eb.ref('excluded.expires_at'),
        })),
    )
    .returningAll()
    .executeTakeFirst();
}

/** Invites an email address (its identity key), whether or not an account has it; renews a pending one. */
export function inviteAddress(db: Db, email: string, emailKey: string, f: InvitationFields): Promise<GroupInvitationRow | undefined> {
  return db
    .insertInto('group_invitations')
    .values({ group_id: f.group_id, email_key: emailKey, email, roles: f.roles, invited_by: f.invited_by, created_at: f.now, expires_at: f.expires_at })
    .onConflict((oc) =>
      oc
        .columns(['group_id', 'email_key'])
        .where('email_key', 'is not', null)
        .doUpdateSet((eb) => ({
          email: eb.ref('excluded.email'),
          roles: eb.ref('excluded.roles'),
          invited_by: eb.ref('excluded.invited_by'),
          created_at: eb.ref('excluded.created_at'),
          expires_at: eb.ref('excluded.expires_at'),
        })),
    )
    .returningAll()
    .executeTakeFirst();
}

/**
 * The live invitations addressed to the account `userId`, or to `verifiedEmailKey` (the account's
 * email when it is verified; null otherwise), oldest first.
 */
export function invitationsFor(db: Db, userId: string, verifiedEmailKey: string | null, now: Date): Promise<GroupInvitationRow[]> {
  if (!isUserId(userId)) return Promise.resolve([]);
  return db
    .selectFrom('group_invitations')
    .selectAll()
    .where((eb) => (verifiedEmailKey === null ? eb('user_id', '=', userId) : eb.or([eb('user_id', '=', userId), eb('email_key', '=', verifiedEmailKey)])))
    .where('expires_at', '>', now)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** An invitation by id, locked until the transaction ends when given one to lock in. */
export function findInvitation(db: Db, id: string, lock = false): Promise<GroupInvitationRow | undefined> {
  if (!isUserId(id)) return Promise.resolve(undefined);
  const q = db.selectFrom('group_invitations').selectAll().where('id', '=', id);
  return (lock ? q.forUpdate() : q).executeTakeFirst();
}

export async function deleteInvitation(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('group_invitations').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Forgets the group's expired invitations (done on each new one, so the table does not grow). */
export async function deleteExpiredInvitations(db: Db, groupId: string, now: Date): Promise<void> {
  await db.deleteFrom('group_invitations').where('group_id', '=', groupId).where('expires_at', '<=', now).execute();
}
