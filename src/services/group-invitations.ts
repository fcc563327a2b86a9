import * as z from 'zod';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import {
  deleteExpiredInvitations,
  deleteInvitation,
  findInvitation,
  invitationsFor,
  invite,
  writeDecoyInvitation,
  type SentInvitation,
} from '../db/group-invitations-repository.js';
import { findGroupsByIds, insertMember, lockGroup } from '../db/groups-repository.js';
import type { GroupInvitationRow, GroupRow } from '../db/schema.js';
import { findUserById, findUsersByIds, identityKey, isUserId, lockUser, type UserRecord } from '../db/users-repository.js';
import type { EventOrigin } from '../security/audit.js';
import { email, lazySchema, parseInput } from '../validation.js';
import { holdsProvenAddress } from './address-ownership.js';
import type { ServiceContext } from './context.js';
import { activeAdminOf, toGroup, type Actor, type Group, type GroupAccess, type GroupUser } from './group-access.js';
import { setRolesSchema } from './group-members.js';

/** How long an invitation can be accepted. */
export const INVITATION_DAYS = 7;

/** Whom to invite: exactly one of `email` or `username`, with the roles they get inside the group. */
export interface InviteInput {
  email?: string;
  username?: string;
  /** @default [] */
  roles?: string[];
}

/** A pending invitation, as its invitee sees it. */
export interface Invitation {
  id: string;
  group: Group;
  roles: string[];
  invited_by: GroupUser;
  created_at: string;
  expires_at: string;
}

export const inviteSchema = lazySchema(() =>
  z
    .object({ email: email().optional(), username: z.string().min(1).max(256).optional(), roles: setRolesSchema().shape.roles.optional() })
    .refine((o) => (o.email === undefined) !== (o.username === undefined), { message: 'give exactly one of email or username', path: ['email'] }),
);

const notFound = () => new NotFoundError('invitation not found');
const sorted = (list: Iterable<string>) => [...new Set(list)].sort();

/**
 * Joining a group by invitation: a group admin invites an account (by username) or an address (by
 * email); the invitee lists, accepts or declines. Inviting answers alike whether or not the account
 * exists, so it reveals nothing about accounts. An invitation addressed to an email is listed and
 * acceptable only by an account whose email is that address, verified and proven by its holder
 * (`owner_proven`: not by whoever registered it, even once the owner clicked a verification link
 * that registrant asked for); one addressed to a username only by that account. Only an inviter
 * who proved their own address (or a site admin) invites, and each target address gets at most
 * `rateLimit.invitationMail` invitation mails per window (the rest are stored, not mailed). It lives `INVITATION_DAYS`, is renewed by
 * inviting again, ends with its group or its inviter, and is void once the inviter no longer
 * administers the group.
 */
export class GroupInvitationService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly access: GroupAccess,
    /**
     * Counts one invitation mail to this address and says whether it may go out (false over the
     * per-target limit). Runs after the answer, so the limit changes neither the answer nor its time.
     */
    private readonly mayMail: (to: string) => Promise<boolean> = () => Promise.resolve(true),
  ) {}

  /**
   * Invites into a group the actor administers (404 unseen, 403 member). The inviter must hold a
   * proven address (403 `email_not_verified`): the mail goes to someone else's inbox in this app's
   * name, so a throw-away account (or a squatter on an address) cannot send it. Site admins are
   * exempt: the app appointed them. Whether or not an account
   * has that name or address, one statement is run and nothing is returned; the mail (when a mailer
   * is set) goes out in the background: to the address for an email invitation, to the account's
   * verified address for a username one.
   */
  async invite(actor: Actor, idOrSlug: string, input: InviteInput, origin?: EventOrigin): Promise<void> {
    if (actor === 'system') throw new TypeError('express-authlib: an invitation needs an inviter: pass { actor } (trusted code adds members with addMember)');
    const data = parseInput(inviteSchema(), input);
    const group = await this.access.administered(actor, idOrSlug);
    if (!actor.siteAdmin) {
      const inviter = await this.ctx.database.run((db) => findUserById(db, actor.id));
      if (!inviter || !holdsProvenAddress(inviter)) throw new ForbiddenError('email_not_verified', 'verify your email address before inviting anyone');
    }
    const now = this.ctx.opts.now();
    const fields = {
      group_id: group.id,
      roles: sorted(data.roles ?? []),
      invited_by: actor.id,
      now,
      expires_at: new Date(now.getTime() + INVITATION_DAYS * 86_400_000),
    };
    const to = data.email !== undefined ? { email: data.email, emailKey: identityKey(data.email) } : { usernameKey: identityKey(data.username!) };
    const sent = await this.ctx.database.run((db) =>
      db.transaction().execute(async (trx) => {
        await deleteExpiredInvitations(trx, group.id, now);
        const result = await invite(trx, to, fields);
        // A commit that wrote waits for the log to reach the disk, one that did not returns at
        // once: without the decoy, the time of the answer would tell who has an account.
        if (!result) await writeDecoyInvitation(trx, fields);
        return result;
      }),
    );
    const row = sent?.row;
    // Recorded alike either way; only site admins read the audit log.
    await this.ctx.audit.record('group_invitation_sent', {
      userId: row?.user_id ?? null,
      data: { group_id: group.id, invitation_id: row?.id ?? null, to: data.email !== undefined ? 'email' : 'username', roles: fields.roles },
      origin,
    });
    if (sent) this.#mail(sent, group, origin);
  }

  /** The invitee's live invitations (to the account, or to its proven email), oldest first; void ones are left out. */
  async list(userId: string): Promise<Invitation[]> {
    const now = this.ctx.opts.now();
    return this.ctx.database.run(async (db) => {
      const me = isUserId(userId) ? await findUserById(db, userId) : undefined;
      if (!me) return [];
      const rows = await invitationsFor(db, me.id, verifiedKey(me), now);
      const live: GroupInvitationRow[] = [];
      for (const row of rows) if (await activeAdminOf(db, this.ctx.opts.adminRole, row.invited_by, row.group_id)) live.push(row);
      const [groups, inviters] = await Promise.all([
        findGroupsByIds(
          db,
          live.map((r) => r.group_id),
        ),
        findUsersByIds(
          db,
          live.map((r) => r.invited_by),
        ),
      ]);
      const groupById = new Map(groups.map((g) => [g.id, g]));
      const inviterById = new Map(inviters.map((u) => [u.id, u]));
      return live.flatMap((row) => {
        const group = groupById.get(row.group_id);
        const inviter = inviterById.get(row.invited_by);
        if (!group || !inviter) return [];
        return [
          {
            id: row.id,
            group: toGroup(group),
            roles: sorted(row.roles),
            invited_by: { id: inviter.id, username: inviter.username, real_name: inviter.real_name },
            created_at: row.created_at.toISOString(),
            expires_at: row.expires_at.toISOString(),
          },
        ];
      });
    });
  }

  /**
   * Accepts: the invitee becomes a direct member with the invitation's roles, announced on every
   * instance at once. 404 for an invitation that is not theirs, expired, or void (its inviter no
   * longer administers the group); 409 when they are a member already (decline it then).
   */
  async accept(userId: string, invitationId: string, origin?: EventOrigin): Promise<{ group: Group; roles: string[] }> {
    if (!isUserId(userId)) throw notFound();
    const now = this.ctx.opts.now();
    const { group, invitation } = await this.ctx.database.run(async (db) => {
      const first = await findInvitation(db, invitationId);
      if (!first) throw notFound();
      return this.ctx.revocation.commit(db, { user: userId }, async (trx) => {
        // Locks in the order membership changes take them: the group, then (here) the invitation, then the user.
        if (!(await lockGroup(trx, first.group_id))) throw notFound();
        const row = await findInvitation(trx, invitationId, true);
        const me = await lockUser(trx, userId);
        if (!row || !me || !addressedTo(row, me) || row.expires_at <= now) throw notFound();
        if (!(await activeAdminOf(trx, this.ctx.opts.adminRole, row.invited_by, row.group_id))) throw notFound();
        const added = await insertMember(trx, { group_id: row.group_id, user_id: userId, roles: sorted(row.roles), now });
        if (!added) throw new ConflictError('you are already a member of this group; decline the invitation');
        await deleteInvitation(trx, row.id);
        const found = (await findGroupsByIds(trx, [row.group_id]))[0]!;
        return { group: found, invitation: row };
      });
    });
    const roles = sorted(invitation.roles);
    const data = { group_id: group.id, invitation_id: invitation.id, invited_by: invitation.invited_by, roles };
    await this.ctx.audit.record('group_invitation_accepted', { userId, data, origin });
    await this.ctx.audit.record('group_member_added', { userId, data: { group_id: group.id, roles }, origin });
    return { group: toGroup(group), roles };
  }

  /** Declines (and deletes) one of the invitee's invitations; 404 for one that is not theirs or expired. */
  async decline(userId: string, invitationId: string, origin?: EventOrigin): Promise<void> {
    const now = this.ctx.opts.now();
    const row = await this.ctx.database.run(async (db) => {
      const me = isUserId(userId) ? await findUserById(db, userId) : undefined;
      const found = await findInvitation(db, invitationId);
      if (!me || !found || !addressedTo(found, me) || found.expires_at <= now) throw notFound();
      if (!(await deleteInvitation(db, found.id))) throw notFound();
      return found;
    });
    await this.ctx.audit.record('group_invitation_declined', { userId, data: { group_id: row.group_id, invitation_id: row.id }, origin });
  }

  /**
   * Queues the invitation mail, from what the invitation statement read (no further query, so a
   * known invitee costs the answer nothing more than an unknown one). The per-target count runs
   * after the answer: over the limit the invitation stands and no mail goes, and nobody can tell.
   */
  #mail({ row, invitee, inviter }: SentInvitation, group: GroupRow, origin: EventOrigin | undefined): void {
    if (!this.ctx.mailer) return;
    // A username invitation goes to the account's address only when verified: an unverified one may be someone else's.
    const to = row.user_id !== null ? (invitee?.email_verified ? invitee.email : null) : row.email;
    if (!to) return;
    const mailer = this.ctx.mailer;
    this.ctx.background.defer(async () => {
      let allowed: boolean;
      try {
        allowed = await this.mayMail(to);
      } catch (err) {
        // Not counted, not sent: an invitation mail is not worth an uncounted one.
        this.ctx.logger.warn({ err: { message: (err as Error)?.message } }, 'express-authlib: counting an invitation mail failed; not sent');
        return;
      }
      if (!allowed) return;
      mailer.dispatch({
        kind: 'group_invitation',
        to,
        user: invitee ? { id: invitee.id, username: invitee.username } : { id: '', username: '' },
        expiresAt: row.expires_at,
        invitation: { group: { name: group.name, slug: group.slug }, invitedBy: inviter, roles: sorted(row.roles) },
        origin,
      });
    });
  }
}

/**
 * The account's email key if its holder proved that email: the only address an email invitation
 * is listed or accepted through. Verified is not enough: a squatter's registration verified by the
 * owner's bare click still holds the squatter's password.
 */
function verifiedKey(user: UserRecord): string | null {
  return user.email_key && holdsProvenAddress(user) ? user.email_key : null;
}

/** Whether the invitation is addressed to this account: by its id, or by its proven email. */
function addressedTo(row: GroupInvitationRow, user: UserRecord): boolean {
  if (row.user_id !== null) return row.user_id === user.id;
  return row.email_key !== null && row.email_key === verifiedKey(user);
}
