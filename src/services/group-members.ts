import type { Kysely, Transaction } from 'kysely';
import * as z from 'zod';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import {
  adminsAmong,
  countGroupAdmins,
  deleteMember,
  directMemberships,
  findGroupsByIds,
  findMember,
  insertMember,
  listMembers,
  lockGroup,
  membershipPaths,
  parentEdgesAmong,
  updateMemberRoles,
} from '../db/groups-repository.js';
import type { Database, GroupMemberRow } from '../db/schema.js';
import { findUserById, findUserByIdentifier, findUsersByIds, isUserId, lockUser } from '../db/users-repository.js';
import type { User } from '../public-user.js';
import { deepFreeze } from '../deep-freeze.js';
import type { GroupMembership, MembershipLoader } from '../security/group-memberships.js';
import type { EventOrigin } from '../security/audit.js';
import { lazySchema, parseInput } from '../validation.js';
import type { ServiceContext } from './context.js';
import { GROUP_ADMIN_ROLE, isSiteAdmin, pageSchema, toGroup, userFor, type Actor, type Group, type GroupAccess, type GroupUser } from './group-access.js';
import { auditRevokedKeys, revokeKeysWithoutStanding } from './service-key-standing.js';
import { ROLE_NAME } from './roles.js';

/**
 * A direct member of a group: `is_admin` when they administer it (admin in it or in an ancestor).
 * `user` is the full user for a site admin (and trusted code), `{id, username, real_name}` for anyone else.
 */
export interface GroupMember {
  user: User | GroupUser;
  roles: string[];
  is_admin: boolean;
}

/** Who to add: exactly one of the three. */
export interface AddMemberInput {
  user_id?: string;
  username?: string;
  email?: string;
  /** Roles inside the group; `admin` makes a group admin. @default [] */
  roles?: string[];
}

/** One group a user belongs to, directly (`via` is the group itself) or through a descendant (`via`). */
export interface UserGroup {
  group: Group;
  /** The user's roles there: those of a direct membership, none for an inherited one; `admin` exactly when `is_admin`. */
  roles: string[];
  is_admin: boolean;
  via: Group;
}

/** One of a user's groups as `membershipsOf` lists it (the shape of `req.auth.groups`). */
export type Membership = GroupMembership;

const roles = lazySchema(() => z.array(z.string().regex(ROLE_NAME, 'must match ^[a-z][a-z0-9_:-]{0,63}$')).max(64));
/** `PATCH /groups/{id}/members/{user_id}`: a member's new roles in the group. */
export const setRolesSchema = lazySchema(() => z.object({ roles: roles() }));
export const addSchema = lazySchema(() =>
  z
    .object({
      user_id: z.string().max(64).optional(),
      username: z.string().max(256).optional(),
      email: z.string().max(320).optional(),
      roles: roles().optional(),
    })
    .refine((o) => [o.user_id, o.username, o.email].filter((x) => x !== undefined).length === 1, {
      message: 'give exactly one of user_id, username or email',
      path: ['user_id'],
    }),
);

const sorted = (list: Iterable<string>) => [...new Set(list)].sort();
const lastAdmin = () => new ConflictError('this is the last admin of the group; make another member admin first');
/**
 * A signed-in site admin can always act on a group, its last admin included (contract 5.6). Trusted
 * code without an actor (the CLI, `auth.groups`) keeps the rule as a safety net; it passes a site
 * admin as `actor` to override it.
 */
const overridesLastAdmin = (actor: Actor) => actor !== 'system' && actor.siteAdmin;

/** Members of groups, and the groups of a user. Membership changes reach `requireAuth` on every instance at once. */
export class GroupMemberService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly access: GroupAccess,
  ) {}

  /** A page of the group's direct members (oldest first) and their total; for whoever may see the group. */
  async list(
    actor: Actor,
    idOrSlug: string,
    page: { limit?: number | undefined; offset?: number | undefined } = {},
  ): Promise<{ members: GroupMember[]; total: number }> {
    const p = parseInput(pageSchema(), page);
    const { row: group } = await this.access.seen(actor, idOrSlug);
    return this.ctx.database.run(async (db) => {
      const { rows, total } = await listMembers(db, group.id, p);
      const ids = rows.map((r) => r.user_id);
      const [users, admins] = await Promise.all([findUsersByIds(db, ids), adminsAmong(db, group.id, ids)]);
      const byId = new Map(users.map((u) => [u.id, u]));
      const members = rows.flatMap((r) => {
        const user = byId.get(r.user_id);
        return user ? [{ user: userFor(actor, user), roles: sorted(r.roles), is_admin: admins.has(r.user_id) }] : [];
      });
      return { members, total };
    });
  }

  /**
   * Adds a user (by id, username or email) to the group without asking them: site admins and
   * trusted code only (a group admin invites instead, see GroupInvitationService), so nobody else
   * can look accounts up by name or address here, or put someone in a group without consent.
   * 409 when they are a member already.
   */
  async add(actor: Actor, idOrSlug: string, input: AddMemberInput, origin?: EventOrigin): Promise<GroupMember> {
    const data = parseInput(addSchema(), input);
    const { row: group } = await this.access.seen(actor, idOrSlug);
    if (!isSiteAdmin(actor))
      throw new ForbiddenError('forbidden', 'only site admins add members directly; invite them instead (POST /groups/{id}/invitations)');
    const user = await this.ctx.database.run((db) =>
      data.user_id !== undefined ? findUserById(db, data.user_id) : findUserByIdentifier(db, (data.username ?? data.email)!),
    );
    if (!user) throw new NotFoundError('user not found');
    const memberRoles = sorted(data.roles ?? []);
    const row = await this.#change(user.id, group.id, async (trx) => {
      const added = await insertMember(trx, { group_id: group.id, user_id: user.id, roles: memberRoles, now: this.ctx.opts.now() });
      if (!added) throw new ConflictError('the user is already a member of this group');
      return added;
    });
    await this.ctx.audit.record('group_member_added', { userId: user.id, data: { group_id: group.id, roles: memberRoles }, origin });
    return this.#member(actor, group.id, row);
  }

  /**
   * Replaces a member's roles in the group; group admins only. The last admin cannot lose `admin`
   * (409), unless a site admin does it: they can always act. Service keys the
   * member minted and may no longer hold are revoked with the change.
   */
  async setRoles(actor: Actor, idOrSlug: string, userId: string, newRoles: string[], origin?: EventOrigin): Promise<GroupMember> {
    const list = sorted(parseInput(setRolesSchema(), { roles: newRoles }).roles);
    const group = await this.access.administered(actor, idOrSlug);
    const { row, revoked } = await this.#change(userId, group.id, async (trx) => {
      const current = await findMember(trx, group.id, userId);
      if (!current) throw new NotFoundError('no such member');
      if (
        !overridesLastAdmin(actor) &&
        current.roles.includes(GROUP_ADMIN_ROLE) &&
        !list.includes(GROUP_ADMIN_ROLE) &&
        (await countGroupAdmins(trx, group.id, userId)) === 0
      )
        throw lastAdmin();
      const updated = (await updateMemberRoles(trx, group.id, userId, list))!;
      return { row: updated, revoked: await revokeKeysWithoutStanding(trx, this.ctx.opts.adminRole, { creatorId: userId }) };
    });
    await this.ctx.audit.record('group_member_updated', { userId, data: { group_id: group.id, roles: list }, origin });
    await auditRevokedKeys(this.ctx.audit, revoked, 'creator_demoted', origin);
    return this.#member(actor, group.id, row);
  }

  /**
   * Removes a member: a group admin may remove anyone, a member may leave. The last admin cannot go
   * (409), unless a site admin removes them. Service keys the member minted and
   * may no longer hold are revoked with the change.
   */
  async remove(actor: Actor, idOrSlug: string, userId: string, origin?: EventOrigin): Promise<void> {
    const leaving = actor !== 'system' && actor.id === userId;
    const seen = await this.access.seen(actor, idOrSlug);
    if (!seen.admin && !leaving) throw new ForbiddenError('forbidden', 'only an admin of this group can remove other members');
    const revoked = await this.#change(userId, seen.row.id, async (trx) => {
      const current = await findMember(trx, seen.row.id, userId);
      if (!current) throw new NotFoundError('no such member');
      if (!overridesLastAdmin(actor) && current.roles.includes(GROUP_ADMIN_ROLE) && (await countGroupAdmins(trx, seen.row.id, userId)) === 0) throw lastAdmin();
      await deleteMember(trx, seen.row.id, userId);
      return revokeKeysWithoutStanding(trx, this.ctx.opts.adminRole, { creatorId: userId });
    });
    await this.ctx.audit.record('group_member_removed', { userId, data: { group_id: seen.row.id, left: leaving }, origin });
    await auditRevokedKeys(this.ctx.audit, revoked, 'creator_removed', origin);
  }

  /**
   * Every group the user belongs to, by slug: each direct membership and every ancestor of it.
   * Roles hold only in the group where they were granted: an inherited membership (an ancestor of a
   * direct one) carries none, whatever the user holds below. Only `admin` reaches further, and only
   * down the hierarchy: `admin` is in `roles` exactly when the user administers that group (admin in
   * it or in an ancestor). `via` is the group itself for a direct membership, else the nearest
   * group it is inherited through.
   */
  async groupsOf(userId: string): Promise<UserGroup[]> {
    if (!isUserId(userId)) return [];
    const groups = await this.ctx.database.run((db) => this.#groupsOf(db, userId));
    return groups.map(({ top_level: _unused, ...group }) => group);
  }

  /**
   * The same memberships as guards use them (`req.auth.groups` and the guard context's top-level
   * groups), read on `db`; loaded with a cached user, see Revocation.
   */
  readonly membershipView: MembershipLoader = async (db, userId) => {
    const groups = await this.#groupsOf(db, userId);
    return deepFreeze({
      groups: groups.map((g) => ({ id: g.group.id, slug: g.group.slug, roles: g.roles })),
      topLevel: groups.filter((g) => g.top_level).map((g) => ({ id: g.group.id, slug: g.group.slug, name: g.group.name })),
    });
  };

  async #groupsOf(db: Kysely<Database>, userId: string): Promise<Array<UserGroup & { top_level: boolean }>> {
    const paths = await membershipPaths(db, userId);
    if (paths.length === 0) return [];
    const ids = [...new Set(paths.map((p) => p.group_id))];
    const direct = new Map((await directMemberships(db, userId)).map((m) => [m.group_id, m.roles]));
    const [groups, edges] = await Promise.all([findGroupsByIds(db, ids), parentEdgesAmong(db, ids)]);
    const byId = new Map(groups.map((g) => [g.id, g]));
    const parents = new Map<string, string[]>();
    for (const e of edges) parents.set(e.child_id, [...(parents.get(e.child_id) ?? []), e.parent_id]);
    const adminAt = new Set([...direct].filter(([, r]) => r.includes(GROUP_ADMIN_ROLE)).map(([id]) => id));
    const administers = (id: string): boolean => {
      // Up from the group: its ancestors are all in `ids`, since they are ancestors of a direct membership too.
      const seen = new Set<string>();
      const pending = [id];
      while (pending.length > 0) {
        const g = pending.pop()!;
        if (adminAt.has(g)) return true;
        for (const p of parents.get(g) ?? []) {
          if (seen.has(p)) continue;
          seen.add(p);
          pending.push(p);
        }
      }
      return false;
    };
    const result: Array<UserGroup & { top_level: boolean }> = [];
    for (const id of ids) {
      const group = byId.get(id);
      if (!group) continue;
      const ways = paths.filter((p) => p.group_id === id);
      const isDirect = direct.has(id);
      const nearest = isDirect
        ? id
        : ways.sort((a, b) => a.depth - b.depth || (byId.get(a.via)?.slug ?? '').localeCompare(byId.get(b.via)?.slug ?? ''))[0]!.via;
      // Roles hold only where they were granted: an inherited membership is a plain one.
      const held = isDirect ? direct.get(id)! : [];
      const isAdmin = administers(id);
      const roleSet = sorted([...held.filter((r) => r !== GROUP_ADMIN_ROLE), ...(isAdmin ? [GROUP_ADMIN_ROLE] : [])]);
      const via = byId.get(nearest);
      // Every ancestor of a membership is in `ids`, so a group with no parent among them has none at all.
      if (via) result.push({ group: toGroup(group), roles: roleSet, is_admin: isAdmin, via: toGroup(via), top_level: !parents.has(id) });
    }
    return result.sort((a, b) => a.group.slug.localeCompare(b.group.slug));
  }

  /** `[{id, slug, roles}]` of every group the user belongs to (direct and inherited), as `groupsOf` judges them. */
  async membershipsOf(userId: string): Promise<Membership[]> {
    return (await this.groupsOf(userId)).map((g) => ({ id: g.group.id, slug: g.group.slug, roles: g.roles }));
  }

  /** Whose groups an actor may list: their own, or anyone's for a site admin. */
  canSeeGroupsOf(actor: Actor, userId: string): boolean {
    return isSiteAdmin(actor) || (actor !== 'system' && actor.id === userId);
  }

  /**
   * Runs a membership change in one transaction that locks the group's row first (FOR UPDATE), so
   * two changes of one group's members are serialised and the count of admins a removal relies on
   * cannot change under it; then the user's row, as minting a service key does, so a key minted
   * while its minter is removed is either seen by the removal or sees it. Announced as a change of
   * the user, so their cached rights (and the keys they minted) refresh on every instance.
   */
  #change<T>(userId: string, groupId: string, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    if (!isUserId(userId)) return Promise.reject(new NotFoundError('no such member'));
    return this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { user: userId }, async (trx) => {
        if (!(await lockGroup(trx, groupId))) throw new NotFoundError('group not found');
        if (!(await lockUser(trx, userId))) throw new NotFoundError('no such member');
        return work(trx);
      }),
    );
  }

  async #member(actor: Actor, groupId: string, row: GroupMemberRow): Promise<GroupMember> {
    return this.ctx.database.run(async (db) => {
      const user = await findUserById(db, row.user_id);
      if (!user) throw new NotFoundError('user not found');
      const admins = await adminsAmong(db, groupId, [row.user_id]);
      return { user: userFor(actor, user), roles: sorted(row.roles), is_admin: admins.has(row.user_id) };
    });
  }
}
