import type { Kysely, Transaction } from 'kysely';
import * as z from 'zod';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import {
  accessOf,
  ancestorIds,
  ancestorsOfEach,
  childIds,
  childrenOf,
  deleteEdge,
  deleteGroup,
  descendantIds,
  findGroup,
  insertEdge,
  insertGroup,
  isSelfOrAncestor,
  listAllGroups,
  listGroupsOf,
  lockHierarchy,
  parentsOf,
  slugsLike,
  updateGroup,
} from '../db/groups-repository.js';
import { insertMember } from '../db/groups-repository.js';
import type { Database, GroupRow } from '../db/schema.js';
import { isForeignKeyViolation, isUniqueViolation } from '../db/unavailable.js';
import type { EventOrigin } from '../security/audit.js';
import { lazySchema, parseInput } from '../validation.js';
import type { ServiceContext } from './context.js';
import { GROUPS_CHANGED } from '../security/revocation.js';
import { auditRevokedKeys, revokeKeysWithoutStanding } from './service-key-standing.js';
import { GROUP_ADMIN_ROLE, SLUG, isIdShaped, isSiteAdmin, pageSchema, toGroup, type Actor, type Group, type GroupAccess } from './group-access.js';

/** Input of `auth.groups.create` and `POST /groups`. */
export interface CreateGroupInput {
  name: string;
  /** Derived from the name when absent. */
  slug?: string | undefined;
  description?: string | null | undefined;
  /** Id or slug of the parent; the actor must administer it. */
  parent_id?: string | undefined;
}

/** Input of `auth.groups.update` and `PATCH /groups/{id}`. */
export interface UpdateGroupInput {
  name?: string;
  slug?: string;
  description?: string | null;
}

/** A group with its direct parents and children. */
export interface GroupDetail {
  group: Group;
  parents: Group[];
  children: Group[];
}

/** `GET /groups/{id}` lists at most this many parents and children (by slug): a root may have thousands. */
export const MAX_LISTED_RELATIVES = 100;

const name = lazySchema(() => z.string().trim().min(1, 'is required').max(100));
const slug = lazySchema(() =>
  z
    .string()
    .regex(SLUG, 'must match ^[a-z0-9][a-z0-9-]{0,62}$')
    .refine((s) => !isIdShaped(s), 'must not be shaped like a group id (32 hex digits, with or without hyphens)'),
);
const description = lazySchema(() => z.string().trim().max(1000).nullable());

export const createSchema = lazySchema(() =>
  z.object({ name: name(), slug: slug().optional(), description: description().optional(), parent_id: z.string().min(1).max(100).optional() }),
);
export const updateSchema = lazySchema(() => z.object({ name: name().optional(), slug: slug().optional(), description: description().optional() }));

/**
 * A slug made of a name: lower-case ASCII letters and digits, anything else one '-', at most 63;
 * a name that would give an id-shaped slug (a group named after an id) gets `group-` in front.
 */
export function slugOf(text: string): string {
  const base = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  if (isIdShaped(base)) return `group-${base}`.slice(0, 63).replace(/-+$/, '');
  return base || 'group';
}

/**
 * `base`, or `base-2`, `base-3`... whichever is not in `taken` and not shaped like an id (kept
 * within 63 characters): `0123...cde` (31 hex digits) must not become an id with `-f`.
 */
export function freeSlug(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base) && !isIdShaped(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const candidate = `${base.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
    if (!taken.has(candidate) && !isIdShaped(candidate)) return candidate;
  }
}

const slugTaken = (s: string) => new ConflictError(`slug '${s}' is already taken`);

/**
 * Tries at a slug derived from a name before a 409. In a race, each round has one winner among
 * those that picked the same free suffix (the others wait for its commit, then look again), so
 * this many creations of one name at once all succeed.
 */
const DERIVED_SLUG_ATTEMPTS = 50;

/** Groups and their hierarchy: `auth.groups` and `/groups`. Every change is audited with the actor. */
export class GroupService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly access: GroupAccess,
  ) {}

  /** A group by id or slug, or undefined; no visibility rule (for trusted code such as `requireAuth({ group })`). */
  async resolve(idOrSlug: string): Promise<Group | undefined> {
    if (typeof idOrSlug !== 'string' || idOrSlug === '') return undefined;
    const row = await this.ctx.database.run((db) => findGroup(db, idOrSlug));
    return row && toGroup(row);
  }

  /** Site admins see every group; others the groups they belong to (directly or through a descendant), by slug. */
  async list(actor: Actor, page: { limit?: number | undefined; offset?: number | undefined } = {}): Promise<Group[]> {
    const p = parseInput(pageSchema(), page);
    const rows = await this.ctx.database.run((db) => (isSiteAdmin(actor) ? listAllGroups(db, p) : listGroupsOf(db, (actor as { id: string }).id, p)));
    return rows.map(toGroup);
  }

  /**
   * Creates a group; a user who creates one becomes its admin. With `parent_id` the actor must
   * administer the parent. Without a slug one is derived from the name and made unique.
   */
  async create(actor: Actor, input: CreateGroupInput, origin?: EventOrigin): Promise<Group> {
    const data = parseInput(createSchema(), input);
    if (this.ctx.opts.groupCreation === 'admin' && !isSiteAdmin(actor)) throw new ForbiddenError('forbidden', 'only site admins can create groups');
    const parent = data.parent_id === undefined ? undefined : await this.#administeredField(actor, data.parent_id, 'parent_id');
    const creator = actor === 'system' ? undefined : actor.id;
    const now = this.ctx.opts.now();
    const work = async (db: Kysely<Database>): Promise<GroupRow> => {
      const row = await this.#insert(db, data.name, data.slug, data.description ?? null, now);
      if (creator) await insertMember(db, { group_id: row.id, user_id: creator, roles: [GROUP_ADMIN_ROLE], now });
      if (parent) await insertEdge(db, parent.id, row.id);
      return row;
    };
    const row = await this.ctx.database
      .run((db) => (creator ? this.ctx.revocation.commit(db, { user: creator }, work) : db.transaction().execute(work)))
      .catch((err: unknown) => {
        // The parent was deleted between the check and the insert.
        throw isForeignKeyViolation(err) ? new NotFoundError('parent group not found') : err;
      });
    await this.ctx.audit.record('group_created', {
      userId: creator ?? null,
      data: { group_id: row.id, slug: row.slug, parent_id: parent?.id ?? null },
      origin,
    });
    return toGroup(row);
  }

  /** A group the actor may see, with its direct parents and children (the first 100 of each, by slug); 404 for anyone else. */
  async get(actor: Actor, idOrSlug: string): Promise<GroupDetail> {
    const { row } = await this.access.seen(actor, idOrSlug);
    const [parents, children] = await this.ctx.database.run((db) =>
      Promise.all([parentsOf(db, row.id, MAX_LISTED_RELATIVES), childrenOf(db, row.id, MAX_LISTED_RELATIVES)]),
    );
    return { group: toGroup(row), parents: parents.map(toGroup), children: children.map(toGroup) };
  }

  /** Changes name, slug or description; group admins and site admins. 409 for a taken slug. */
  async update(actor: Actor, idOrSlug: string, patch: UpdateGroupInput, origin?: EventOrigin): Promise<Group> {
    const data = parseInput(updateSchema(), patch);
    const group = await this.access.administered(actor, idOrSlug);
    const fields = Object.fromEntries(Object.entries(data).filter(([, value]) => value !== undefined));
    // Guards resolve slugs and show names from memory: every instance forgets them when this commits.
    const row = await this.ctx.database
      .run((db) => this.ctx.revocation.commit(db, GROUPS_CHANGED, (trx) => updateGroup(trx, group.id, fields, this.ctx.opts.now())))
      .catch((err: unknown) => {
        throw isUniqueViolation(err) ? slugTaken(data.slug ?? '') : err;
      });
    if (!row) throw new NotFoundError('group not found');
    await this.ctx.audit.record('group_updated', { data: { group_id: row.id, fields: Object.keys(fields).sort() }, origin });
    return toGroup(row);
  }

  /**
   * Deletes a group with its memberships, invitations and service keys; its children are detached,
   * not deleted. When that takes a child out of the subtree of a group above, the actor must
   * administer that group too (see `#keepsAdministration`). Keys of groups below it whose minters
   * administered them only through it are revoked.
   */
  async delete(actor: Actor, idOrSlug: string, origin?: EventOrigin): Promise<void> {
    const group = await this.access.administered(actor, idOrSlug);
    const revoked = await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, GROUPS_CHANGED, async (trx) => {
        await lockHierarchy(trx);
        const [above, children, below] = await Promise.all([ancestorIds(trx, group.id), childIds(trx, group.id), descendantIds(trx, group.id)]);
        if (!(await deleteGroup(trx, group.id))) throw new NotFoundError('group not found');
        // A group at the top takes nothing out of anyone else's subtree.
        if (above.length > 0) await this.#keepsAdministration(trx, actor, above, [...(await ancestorsOfEach(trx, children)).values()]);
        return revokeKeysWithoutStanding(trx, this.ctx.opts.adminRole, { groupIds: below });
      }),
    );
    await this.ctx.audit.record('group_deleted', { data: { group_id: group.id, slug: group.slug, name: group.name }, origin });
    await auditRevokedKeys(this.ctx.audit, revoked, 'group_detached', origin);
  }

  /**
   * Makes `childIdOrSlug` a child of `idOrSlug`; the actor must administer both. 409 when it would
   * make a cycle (the child is the parent or one of its ancestors) or the edge exists. Edits of the
   * hierarchy hold one advisory lock, so of two edits that together would close a cycle the
   * second sees the first and is refused.
   */
  async addChild(actor: Actor, idOrSlug: string, childIdOrSlug: string, origin?: EventOrigin): Promise<void> {
    const parent = await this.access.administered(actor, idOrSlug);
    const child = await this.#administeredField(actor, childIdOrSlug, 'child_id');
    await this.ctx.database
      .run((db) =>
        this.ctx.revocation.commit(db, GROUPS_CHANGED, async (trx) => {
          await lockHierarchy(trx);
          if (await isSelfOrAncestor(trx, child.id, parent.id))
            throw new ConflictError('that would make a cycle: the child is the group itself or one of its ancestors');
          if (!(await insertEdge(trx, parent.id, child.id))) throw new ConflictError('the group is already a child of this group');
        }),
      )
      .catch((err: unknown) => {
        throw isForeignKeyViolation(err) ? new NotFoundError('group not found') : err;
      });
    await this.ctx.audit.record('group_child_added', { data: { group_id: parent.id, child_id: child.id }, origin });
  }

  /**
   * Detaches a child; the actor must administer the parent, and every group above whose subtree
   * the child leaves (see `#keepsAdministration`). 404 when it is not a child. Service keys of the
   * child and below whose minters administered them only from above are revoked.
   */
  async removeChild(actor: Actor, idOrSlug: string, childIdOrSlug: string, origin?: EventOrigin): Promise<void> {
    const parent = await this.access.administered(actor, idOrSlug);
    const { child, revoked } = await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, GROUPS_CHANGED, async (trx) => {
        await lockHierarchy(trx);
        const found = typeof childIdOrSlug === 'string' && childIdOrSlug !== '' ? await findGroup(trx, childIdOrSlug) : undefined;
        if (!found) throw new NotFoundError('no such child group');
        const above = [parent.id, ...(await ancestorIds(trx, parent.id))];
        if (!(await deleteEdge(trx, parent.id, found.id))) throw new NotFoundError('no such child group');
        const after = await ancestorsOfEach(trx, [found.id]);
        await this.#keepsAdministration(trx, actor, above, [...after.values()]);
        const below = [found.id, ...(await descendantIds(trx, found.id))];
        return { child: found, revoked: await revokeKeysWithoutStanding(trx, this.ctx.opts.adminRole, { groupIds: below }) };
      }),
    );
    await this.ctx.audit.record('group_child_removed', { data: { group_id: parent.id, child_id: child.id }, origin });
    await auditRevokedKeys(this.ctx.audit, revoked, 'group_detached', origin);
  }

  /**
   * Refuses (403, rolling the edit back) a hierarchy edit that takes a group out of the subtree of
   * a group the actor does not administer: `above` are the groups that had the detached groups in
   * their subtree, `after` the ancestors each detached group still has. Otherwise an admin of a
   * team could make himself admin of a child group and detach it, and the organization's admins
   * would lose a group they administered through someone who is not one of them.
   */
  async #keepsAdministration(trx: Transaction<Database>, actor: Actor, above: readonly string[], after: ReadonlyArray<ReadonlySet<string>>): Promise<void> {
    if (isSiteAdmin(actor)) return;
    const lost = above.filter((id) => after.some((ancestors) => !ancestors.has(id)));
    for (const id of lost) {
      if (!(await accessOf(trx, (actor as { id: string }).id, id)).admin)
        throw new ForbiddenError('forbidden', 'this would take a group out of a group above that you do not administer; ask an admin of that group');
    }
  }

  /** A group named in a body field that the actor must administer; one they cannot see is a 400 naming the field. */
  async #administeredField(actor: Actor, idOrSlug: string, field: string): Promise<GroupRow> {
    try {
      return await this.access.administered(actor, idOrSlug);
    } catch (err) {
      if (err instanceof NotFoundError) throw new ValidationError({ [field]: 'names no group you can see' });
      throw err;
    }
  }

  /** Inserts with the given slug (409 when taken) or a free one derived from the name (retried if taken meanwhile). */
  async #insert(db: Kysely<Database>, groupName: string, given: string | undefined, desc: string | null, now: Date): Promise<GroupRow> {
    if (given !== undefined) {
      const row = await insertGroup(db, { name: groupName, slug: given, description: desc, now });
      if (!row) throw slugTaken(given);
      return row;
    }
    const base = slugOf(groupName);
    // Every candidate starts with `base-`, or for a long base with its first 55 characters (the suffix shortens it).
    const prefix = base.length > 55 ? base.slice(0, 55) : `${base}-`;
    const taken = new Set(await slugsLike(db, base, prefix));
    for (let attempt = 0; attempt < DERIVED_SLUG_ATTEMPTS; attempt++) {
      const candidate = freeSlug(base, taken);
      const row = await insertGroup(db, { name: groupName, slug: candidate, description: desc, now });
      if (row) return row;
      // Taken meanwhile by a concurrent insert. Others of the same race may have committed further
      // suffixes since the first look (each statement sees what is committed when it starts): read
      // them again, or each retry only steps past the one it lost and a race of many runs out.
      taken.add(candidate);
      for (const slug of await slugsLike(db, base, prefix)) taken.add(slug);
    }
    throw slugTaken(base);
  }
}
