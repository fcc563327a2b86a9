import { randomUUID } from 'node:crypto';
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

/** An invitation as sent, with what its mail needs: the invitee's account (if any) and the inviter's username. */
export interface SentInvitation {
  row: GroupInvitationRow;
  invitee: { id: string; username: string; email: string | null; email_verified: boolean } | undefined;
  inviter: string;
}

const RENEWED = ['roles', 'invited_by', 'created_at', 'expires_at'] as const;

/**
 * Invites the account whose username has `usernameKey`, or with `email` the address (whether or
 * not an account has it); a pending invitation of the same invitee into the same group is renewed
 * (roles, inviter, expiry). One statement either way, which also reads what the mail needs, so a
 * known and an unknown invitee cost the same single round trip. Undefined for no such username.
 */
export async function invite(
  db: Db,
  to: { usernameKey: string } | { email: string; emailKey: string },
  f: InvitationFields,
): Promise<SentInvitation | undefined> {
  const inserted = (q: Kysely<Database>) =>
    'usernameKey' in to
      ? q
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
              .where('users.username_key', '=', to.usernameKey),
          )
          .onConflict((oc) =>
            oc
              .columns(['group_id', 'user_id'])
              .where('user_id', 'is not', null)
              .doUpdateSet((eb) => Object.fromEntries(RENEWED.map((c) => [c, eb.ref(`excluded.${c}`)]))),
          )
          .returningAll()
      : q
          .insertInto('group_invitations')
          .values({
            group_id: f.group_id,
            email_key: to.emailKey,
            email: to.email,
            roles: f.roles,
            invited_by: f.invited_by,
            created_at: f.now,
            expires_at: f.expires_at,
          })
          .onConflict((oc) =>
            oc
              .columns(['group_id', 'email_key'])
              .where('email_key', 'is not', null)
              .doUpdateSet((eb) => ({ email: eb.ref('excluded.email'), ...Object.fromEntries(RENEWED.map((c) => [c, eb.ref(`excluded.${c}`)])) })),
          )
          .returningAll();
  const row = await db
    .with('sent', (q) => inserted(q as unknown as Kysely<Database>))
    .selectFrom('sent')
    .innerJoin('users as inviter', 'inviter.id', 'sent.invited_by')
    .leftJoin('users as invitee', (join) =>
      join.on((eb) => eb.or([eb('invitee.id', '=', eb.ref('sent.user_id')), eb('invitee.email_key', '=', eb.ref('sent.email_key'))])),
    )
    .selectAll('sent')
    .select([
      'inviter.username as inviter_username',
      'invitee.id as invitee_id',
      'invitee.username as invitee_username',
      'invitee.email as invitee_email',
      'invitee.email_verified as invitee_email_verified',
    ])
    .executeTakeFirst();
  if (!row) return undefined;
  const { inviter_username, invitee_id, invitee_username, invitee_email, invitee_email_verified, ...invitation } = row;
  return {
    row: invitation,
    invitee: invitee_id
      ? { id: invitee_id, username: invitee_username!, email: invitee_email ?? null, email_verified: invitee_email_verified === true }
      : undefined,
    inviter: inviter_username,
  };
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

/**
 * What an invitation to no one writes instead: a row that is inserted and deleted in the same
 * transaction (no other transaction ever sees it), so the commit writes and flushes about as much
 * as a real invitation's and takes as long.
 */
export async function writeDecoyInvitation(trx: Transaction<Database>, f: InvitationFields): Promise<void> {
  const row = await trx
    .insertInto('group_invitations')
    .values({ group_id: f.group_id, email_key: `decoy:${randomUUID()}`, roles: f.roles, invited_by: f.invited_by, created_at: f.now, expires_at: f.expires_at })
    .returning('id')
    .executeTakeFirstOrThrow();
  await trx.deleteFrom('group_invitations').where('id', '=', row.id).execute();
}
