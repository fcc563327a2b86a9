import type { Kysely } from 'kysely';
import * as z from 'zod';
import { lazySchema, pageOffset } from '../validation.js';
import { isIdShaped } from '../id-shape.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import { accessOf, findGroup } from '../db/groups-repository.js';
import { findUserById } from '../db/users-repository.js';
import type { Database, GroupRow } from '../db/schema.js';
import type { UserRecord } from '../db/users-repository.js';
import { toPublicUser, type User } from '../public-user.js';
import type { ServiceContext } from './context.js';

/**
 * Who asks: a signed-in user (`siteAdmin` when they hold `adminRole`), or `'system'` for trusted
 * code (the CLI, `auth.groups` called without an actor), which may do anything.
 */
export type Actor = { id: string; siteAdmin: boolean } | 'system';

/** A group on the wire. */
export interface Group {
  id: string;
  name: string;
  slug: string;
  description: string | null;
  created_at: string;
}

/** The role inside a group that makes a group admin. */
export const GROUP_ADMIN_ROLE = 'admin';

/** What a slug may be (besides not being shaped like an id). */
export const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Slugs shaped like an id are refused (see `isIdShaped`), so that a reference names one group. */
export { isIdShaped };

/** Paging of the group listings. */
export const MAX_GROUP_PAGE = 100;
export const DEFAULT_GROUP_PAGE = 20;

export const pageSchema = lazySchema(() =>
  z.object({
    limit: z.number().int().min(1).max(MAX_GROUP_PAGE).default(DEFAULT_GROUP_PAGE),
    offset: pageOffset(),
  }),
);

export function toGroup(row: GroupRow): Group {
  return { id: row.id, name: row.name, slug: row.slug, description: row.description, created_at: row.created_at.toISOString() };
}

/** Another user as group responses show them to anyone but a site admin: no email, roles or activity. */
export interface GroupUser {
  id: string;
  username: string;
  real_name: string | null;
}

/** A user in a group response: the full user for a site admin (or trusted code), else `{id, username, real_name}`. */
export function userFor(actor: Actor, row: UserRecord): User | GroupUser {
  return isSiteAdmin(actor) ? toPublicUser(row) : { id: row.id, username: row.username, real_name: row.real_name };
}

/**
 * Whether `userId` stands as an admin of `groupId` now: an active account that holds `admin` in it
 * or in an ancestor, or holds `adminRole`. What it takes to mint a service key or to invite, and
 * so what keeps a key or a pending invitation alive.
 */
export async function activeAdminOf(db: Kysely<Database>, adminRole: string, userId: string, groupId: string): Promise<boolean> {
  const user = await findUserById(db, userId);
  if (!user?.is_active) return false;
  if (user.roles.includes(adminRole)) return true;
  return (await accessOf(db, userId, groupId)).admin;
}

/** Whether the actor may do anything to any group. */
export const isSiteAdmin = (actor: Actor): boolean => actor === 'system' || actor.siteAdmin;

/** A group the actor may see, and whether they administer it. */
export interface SeenGroup {
  row: GroupRow;
  admin: boolean;
}

const notFound = () => new NotFoundError('group not found');

/**
 * The visibility and administration rules of groups, in one place: a group is seen by its members
 * (direct, or through a descendant), by admins of it or of an ancestor, and by site admins; anyone
 * else gets 404, exactly as for a group that does not exist.
 */
export class GroupAccess {
  constructor(private readonly ctx: Pick<ServiceContext, 'database'>) {}

  /** The group if the actor may see it; 404 otherwise. */
  async seen(actor: Actor, idOrSlug: string, db?: Kysely<Database>): Promise<SeenGroup> {
    const run = <T>(work: (d: Kysely<Database>) => Promise<T>) => (db ? work(db) : this.ctx.database.run(work));
    if (typeof idOrSlug !== 'string' || idOrSlug === '') throw notFound();
    return run(async (d) => {
      const row = await findGroup(d, idOrSlug);
      if (!row) throw notFound();
      if (isSiteAdmin(actor)) return { row, admin: true };
      const access = await accessOf(d, (actor as { id: string }).id, row.id);
      if (!access.member && !access.admin) throw notFound();
      return { row, admin: access.admin };
    });
  }

  /** The group if the actor administers it (admin of it or of an ancestor, or site admin); 404 if unseen, 403 if only a member. */
  async administered(actor: Actor, idOrSlug: string): Promise<GroupRow> {
    const seen = await this.seen(actor, idOrSlug);
    if (!seen.admin) throw new ForbiddenError('forbidden', 'only an admin of this group can do this');
    return seen.row;
  }
}
