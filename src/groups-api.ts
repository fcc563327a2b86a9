import { ForbiddenError, NotFoundError } from './errors.js';
import { normalizeId } from './id-shape.js';
import type { EventOrigin } from './security/audit.js';
import type { ApiTokenInfo, CreatedApiToken } from './services/api-tokens.js';
import type { Actor, Group } from './services/group-access.js';
import type { AddMemberInput, GroupMember, GroupMemberService, Membership, UserGroup } from './services/group-members.js';
import type { GroupInvitationService, Invitation, InviteInput } from './services/group-invitations.js';
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
  /**
   * Adds a user by `user_id`, `username` or `email`, with `roles` inside the group, without asking
   * them; 409 when already a member. Trusted code, or an actor who is a site admin (403 for anyone
   * else: a group admin invites).
   */
  addMember(idOrSlug: string, input: AddMemberInput, options?: GroupCallOptions): Promise<GroupMember>;
  /** Invites into the group as `options.actor` (required: a group admin); resolves alike whether or not the account exists. */
  invite(idOrSlug: string, input: InviteInput, options: GroupCallOptions & { actor: string }): Promise<void>;
  /** The user's pending invitations (to the account, or to its verified email). */
  invitations(userId: string): Promise<Invitation[]>;
  /** Accepts one of the user's invitations: they join with its roles. */
  acceptInvitation(userId: string, invitationId: string): Promise<{ group: Group; roles: string[] }>;
  /** Declines one of the user's invitations. */
  declineInvitation(userId: string, invitationId: string): Promise<void>;
  /** Removes a member (an actor may always remove themself); the last admin cannot go (409), unless an actor who is a site admin removes them. */
  removeMember(idOrSlug: string, userId: string, options?: GroupCallOptions): Promise<void>;
  /** Replaces a member's roles; the last admin cannot lose `admin` (409), unless an actor who is a site admin demotes them. */
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
  invitations: GroupInvitationService;
  serviceKeys: ServiceKeyService;
  users: UserService;
  adminRole: string;
}): Groups {
  // Ids enter here: an id in either case becomes its one spelling (a slug stays a slug).
  const as = async (options?: GroupCallOptions): Promise<[Actor, EventOrigin | undefined]> => {
    if (options?.actor === undefined) return ['system', undefined];
    const user = await d.users.findById(normalizeId(options.actor));
    if (!user) throw new NotFoundError('user not found');
    if (!user.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
    return [{ id: user.id, siteAdmin: user.roles.includes(d.adminRole) }, { actorId: user.id }];
  };
  /** Runs `work` as the actor the options name, with the origin the audit records. */
  const acting = <T>(o: GroupCallOptions | undefined, work: (actor: Actor, origin: EventOrigin | undefined) => Promise<T>) =>
    as(o).then(([actor, origin]) => work(actor, origin));
  const page = (o?: GroupPageOptions) => ({ limit: o?.limit, offset: o?.offset });
  return {
    create: (input, o) => acting(o, (actor, origin) => d.groups.create(actor, input, origin)),
    get: (id, o) => acting(o, (actor) => d.groups.get(actor, normalizeId(id))),
    list: (o) => acting(o, (actor) => d.groups.list(actor, page(o))),
    update: (id, patch, o) => acting(o, (actor, origin) => d.groups.update(actor, normalizeId(id), patch, origin)),
    delete: (id, o) => acting(o, (actor, origin) => d.groups.delete(actor, normalizeId(id), origin)),
    listMembers: (id, o) => acting(o, (actor) => d.members.list(actor, normalizeId(id), page(o))),
    addMember: (id, input, o) => acting(o, (actor, origin) => d.members.add(actor, normalizeId(id), input, origin)),
    invite: (id, input, o) => acting(o, (actor, origin) => d.invitations.invite(actor, normalizeId(id), input, origin)),
    invitations: (userId) => d.invitations.list(normalizeId(userId)),
    acceptInvitation: (userId, invitationId) => d.invitations.accept(normalizeId(userId), normalizeId(invitationId), { actorId: normalizeId(userId) }),
    declineInvitation: (userId, invitationId) => d.invitations.decline(normalizeId(userId), normalizeId(invitationId), { actorId: normalizeId(userId) }),
    removeMember: (id, userId, o) => acting(o, (actor, origin) => d.members.remove(actor, normalizeId(id), normalizeId(userId), origin)),
    setMemberRoles: (id, userId, roles, o) => acting(o, (actor, origin) => d.members.setRoles(actor, normalizeId(id), normalizeId(userId), roles, origin)),
    addChild: (id, child, o) => acting(o, (actor, origin) => d.groups.addChild(actor, normalizeId(id), normalizeId(child), origin)),
    removeChild: (id, child, o) => acting(o, (actor, origin) => d.groups.removeChild(actor, normalizeId(id), normalizeId(child), origin)),
    groupsOf: (userId) => d.members.groupsOf(normalizeId(userId)),
    membershipsOf: (userId) => d.members.membershipsOf(normalizeId(userId)),
    resolve: (id) => d.groups.resolve(normalizeId(id)),
    serviceKeys: {
      create: (id, input, o) => acting(o, (actor, origin) => d.serviceKeys.create(actor, normalizeId(id), input, origin)),
      list: (id, o) => acting(o, (actor) => d.serviceKeys.list(actor, normalizeId(id))),
      revoke: (id, tokenId, o) => acting(o, (actor, origin) => d.serviceKeys.revoke(actor, normalizeId(id), tokenId, origin)),
    },
  };
}
