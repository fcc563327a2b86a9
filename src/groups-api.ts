import { ForbiddenError, NotFoundError } from './errors.js';
import type { EventOrigin } from './security/audit.js';
import type { ApiTokenInfo, CreatedApiToken } from './services/api-tokens.js';
import type { Actor, Group } from './services/group-access.js';
import type { AddMemberInput, GroupMember, GroupMemberService, Membership, UserGroup } from './services/group-members.js';
import type { CreateGroupInput, GroupDetail, GroupService, UpdateGroupInput } from './services/groups.js';
import type { ServiceKeyService } from './services/service-keys.js';
import type { UserService } from './services/users.js';

/**
 * Options of an `auth.groups` call. `actor`: id of the user the call is made as, so the rules of
 * the HTTP endpoints apply to them; without it the call is trusted code and may do anything.
 */
export interface GroupCallOptions {
  actor?: string;
}

/** Paging of a listing: `limit` 1-100 (default 20), `offset` (default 0). */
export interface GroupPageOptions extends GroupCallOptions {
  limit?: number;
  offset?: number;
}

/** `auth.groups`: groups, their members and hierarchy, and their service keys; the same rules and shapes as `/groups`. */
export interface Groups {
  /** Creates a group; an actor becomes its admin. `parent_id`: the actor must administer it. */
  create(input: CreateGroupInput, options?: GroupCallOptions): Promise<Group>;
  /** A group with its direct parents and children; 404 when the actor may not see it. */
  get(idOrSlug: string, options?: GroupCallOptions): Promise<GroupDetail>;
  /** Every group (no actor, or a site admin), or those the actor belongs to; by slug. */
  list(options?: GroupPageOptions): Promise<Group[]>;
  update(idOrSlug: string, patch: UpdateGroupInput, options?: GroupCallOptions): Promise<Group>;
  /** Deletes a group; its children are detached, not deleted. */
  delete(idOrSlug: string, options?: GroupCallOptions): Promise<void>;
  /** A page of direct members, oldest first, and their total. */
  listMembers(idOrSlug: string, options?: GroupPageOptions): Promise<{ members: GroupMember[]; total: number }>;
  /** Adds a user by `user_id`, `username` or `email`, with `roles` inside the group; 409 when already a member. */
  addMember(idOrSlug: string, input: AddMemberInput, options?: GroupCallOptions): Promise<GroupMember>;
  /** Removes a member (an actor may always remove themself); the last admin cannot go (409). */
  removeMember(idOrSlug: string, userId: string, options?: GroupCallOptions): Promise<void>;
  /** Replaces a member's roles; the last admin cannot lose `admin` (409). */
  setMemberRoles(idOrSlug: string, userId: string, roles: string[], options?: GroupCallOptions): Promise<GroupMember>;
  /** Makes one group a child of another; 409 when that would make a cycle. */
  addChild(idOrSlug: string, childIdOrSlug: string, options?: GroupCallOptions): Promise<void>;
  removeChild(idOrSlug: string, childIdOrSlug: string, options?: GroupCallOptions): Promise<void>;
  /** Every group the user belongs to, directly or through a descendant: `[{group, roles, is_admin, via}]`. */
  groupsOf(userId: string): Promise<UserGroup[]>;
  /** `[{id, slug, roles}]` of every group the user belongs to (direct and inherited). */
  membershipsOf(userId: string): Promise<Membership[]>;
  /** A group by id or slug, or undefined; no visibility rule. */
  resolve(idOrSlug: string): Promise<Group | undefined>;
  /** Service keys: API tokens that act for a group; managed by its admins. */
  serviceKeys: {
    create(idOrSlug: string, input: { name: string; scopes?: string[]; expiresInDays?: number | null }, options?: GroupCallOptions): Promise<CreatedApiToken>;
    list(idOrSlug: string, options?: GroupCallOptions): Promise<ApiTokenInfo[]>;
    revoke(idOrSlug: string, tokenId: string, options?: GroupCallOptions): Promise<void>;
  };
}

/** `auth.groups`, over the services: an `actor` id becomes the Actor the HTTP layer would build for that user. */
export function groupsApi(d: {
  groups: GroupService;
  members: GroupMemberService;
  serviceKeys: ServiceKeyService;
  users: UserService;
  adminRole: string;
}): Groups {
  const as = async (options?: GroupCallOptions): Promise<[Actor, EventOrigin | undefined]> => {
    if (options?.actor === undefined) return ['system', undefined];
    const user = await d.users.findById(options.actor);
    if (!user) throw new NotFoundError('user not found');
    if (!user.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
    return [{ id: user.id, siteAdmin: user.roles.includes(d.adminRole) }, { actorId: user.id }];
  };
  const page = (o?: GroupPageOptions) => ({ limit: o?.limit, offset: o?.offset });
  return {
    create: async (input, o) => {
      const [actor, origin] = await as(o);
      return d.groups.create(actor, input, origin);
    },
    get: async (id, o) => d.groups.get((await as(o))[0], id),
    list: async (o) => d.groups.list((await as(o))[0], page(o)),
    update: async (id, patch, o) => {
      const [actor, origin] = await as(o);
      return d.groups.update(actor, id, patch, origin);
    },
    delete: async (id, o) => {
      const [actor, origin] = await as(o);
      return d.groups.delete(actor, id, origin);
    },
    listMembers: async (id, o) => d.members.list((await as(o))[0], id, page(o)),
    addMember: async (id, input, o) => {
      const [actor, origin] = await as(o);
      return d.members.add(actor, id, input, origin);
    },
    removeMember: async (id, userId, o) => {
      const [actor, origin] = await as(o);
      return d.members.remove(actor, id, userId, origin);
    },
    setMemberRoles: async (id, userId, roles, o) => {
      const [actor, origin] = await as(o);
      return d.members.setRoles(actor, id, userId, roles, origin);
    },
    addChild: async (id, child, o) => {
      const [actor, origin] = await as(o);
      return d.groups.addChild(actor, id, child, origin);
    },
    removeChild: async (id, child, o) => {
      const [actor, origin] = await as(o);
      return d.groups.removeChild(actor, id, child, origin);
    },
    groupsOf: (userId) => d.members.groupsOf(userId),
    membershipsOf: (userId) => d.members.membershipsOf(userId),
    resolve: (id) => d.groups.resolve(id),
    serviceKeys: {
      create: async (id, input, o) => {
        const [actor, origin] = await as(o);
        return d.serviceKeys.create(actor, id, input, origin);
      },
      list: async (id, o) => d.serviceKeys.list((await as(o))[0], id),
      revoke: async (id, tokenId, o) => {
        const [actor, origin] = await as(o);
        return d.serviceKeys.revoke(actor, id, tokenId, origin);
      },
    },
  };
}
