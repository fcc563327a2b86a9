import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, GroupMemberRow, GroupRow } from './schema.js';
import { isUserId } from './users-repository.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Page of a listing. */
export interface Page {
  limit: number;
  offset: number;
}

/** Key of the transaction-scoped advisory lock that serialises edits of the hierarchy (any schema: they are rare). */
const HIERARCHY_LOCK_KEY = 0x6175_7468_6772; // 'authgr': within JavaScript's safe integers

/**
 * A group id is a uuid in its hyphenated form, in either case; anything else in a path or a guard
 * is a slug. Slugs are never shaped like an id (see `isIdShaped`), so a reference names one group.
 */
export const isGroupId = isUserId;

/** The one spelling of a group id (lower case), so that `ABC...` and `abc...` are the same key. */
export function canonicalGroupRef(idOrSlug: string): string {
  return isGroupId(idOrSlug) ? idOrSlug.toLowerCase() : idOrSlug;
}

/** A group by id (any case) or by slug, never one for the other. */
export function findGroup(db: Db, idOrSlug: string): Promise<GroupRow | undefined> {
  const q = db.selectFrom('groups').selectAll();
  return (isGroupId(idOrSlug) ? q.where('id', '=', idOrSlug.toLowerCase()) : q.where('slug', '=', idOrSlug)).executeTakeFirst();
}

/** Inserts a group; undefined when its slug is taken (the unique key decides, also under concurrency). */
export function insertGroup(db: Db, row: { name: string; slug: string; description: string | null; now: Date }): Promise<GroupRow | undefined> {
  return db
    .insertInto('groups')
    .values({ name: row.name, slug: row.slug, description: row.description, created_at: row.now, updated_at: row.now })
    .onConflict((oc) => oc.column('slug').doNothing())
    .returningAll()
    .executeTakeFirst();
}

/**
 * The slugs that are `base` or start with `prefix` (slug characters are never LIKE wildcards), to
 * pick a free suffix from.
 */
export async function slugsLike(db: Db, base: string, prefix: string): Promise<string[]> {
  const rows = await db
    .selectFrom('groups')
    .select('slug')
    .where((eb) => eb.or([eb('slug', '=', base), eb('slug', 'like', `${prefix}%`)]))
    .execute();
  return rows.map((r) => r.slug);
}

/** Updates name, slug and/or description; a taken slug fails with 23505. */
export function updateGroup(db: Db, id: string, fields: Partial<Pick<GroupRow, 'name' | 'slug' | 'description'>>, now: Date): Promise<GroupRow | undefined> {
  return db
    .updateTable('groups')
    .set({ ...fields, updated_at: now })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Deletes a group; its edges, memberships and service keys go with it (ON DELETE CASCADE): children are detached. */
export async function deleteGroup(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('groups').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Every group by slug. */
export function listAllGroups(db: Db, page: Page): Promise<GroupRow[]> {
  return db.selectFrom('groups').selectAll().orderBy('slug').limit(page.limit).offset(page.offset).execute();
}

/**
 * The groups a user belongs to, directly or through a descendant: the direct memberships and,
 * walking up the child -> parent index, every ancestor of them. UNION (not UNION ALL) visits each
 * group once, so a diamond costs nothing extra.
 */
function memberOf(db: Db, userId: string) {
  return db.withRecursive('up(id)', (qc) =>
    qc
      .selectFrom('group_members')
      .select('group_members.group_id as id')
      .where('group_members.user_id', '=', userId)
      .union((qc2) => qc2.selectFrom('group_parents').innerJoin('up', 'up.id', 'group_parents.child_id').select('group_parents.parent_id as id')),
  );
}

/** The groups a user belongs to (directly or through a descendant), by slug. */
export function listGroupsOf(db: Db, userId: string, page: Page): Promise<GroupRow[]> {
  return memberOf(db, userId)
    .selectFrom('groups')
    .innerJoin('up', 'up.id', 'groups.id')
    .selectAll('groups')
    .orderBy('groups.slug')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

/** `groupId` and its ancestors, walking up the child -> parent index. */
function selfAndAncestors(db: Db, groupId: string) {
  return db.withRecursive('anc(id)', (qc) =>
    qc
      .selectFrom('groups')
      .select('groups.id as id')
      .where('groups.id', '=', groupId)
      .union((qc2) => qc2.selectFrom('group_parents').innerJoin('anc', 'anc.id', 'group_parents.child_id').select('group_parents.parent_id as id')),
  );
}

/** `groupId` and its descendants, walking down the parent -> child primary key. */
function selfAndDescendants(db: Db, groupId: string) {
  return db.withRecursive('desc(id)', (qc) =>
    qc
      .selectFrom('groups')
      .select('groups.id as id')
      .where('groups.id', '=', groupId)
      .union((qc2) => qc2.selectFrom('group_parents').innerJoin('desc', 'desc.id', 'group_parents.parent_id').select('group_parents.child_id as id')),
  );
}

/** A group and each of its ancestors, with whether it has a parent itself. */
export interface Lineage {
  group: GroupRow;
  /** The group's ancestors (not itself); `top_level` marks those with no parent. */
  ancestors: Array<{ id: string; slug: string; name: string; top_level: boolean }>;
  top_level: boolean;
}

/** A group by id or slug with its ancestors, for guards that name a group; undefined when there is none. */
export async function findLineage(db: Db, idOrSlug: string): Promise<Lineage | undefined> {
  const group = await findGroup(db, idOrSlug);
  if (!group) return undefined;
  const rows = await selfAndAncestors(db, group.id)
    .selectFrom('anc')
    .innerJoin('groups', 'groups.id', 'anc.id')
    .select(['groups.id', 'groups.slug', 'groups.name'])
    .select((eb) =>
      eb.not(eb.exists(eb.selectFrom('group_parents').select('group_parents.parent_id').whereRef('group_parents.child_id', '=', 'groups.id'))).as('top_level'),
    )
    .execute();
  const self = rows.find((r) => r.id === group.id);
  const lineage = rows.map((r) => ({ id: r.id, slug: r.slug, name: r.name, top_level: r.top_level === true }));
  return { group, ancestors: lineage.filter((r) => r.id !== group.id), top_level: self === undefined || self.top_level === true };
}

/** The ids of a group's ancestors (not itself). */
export async function ancestorIds(db: Db, groupId: string): Promise<string[]> {
  const rows = await selfAndAncestors(db, groupId).selectFrom('anc').select('anc.id').where('anc.id', '!=', groupId).execute();
  return rows.map((r) => r.id);
}

/** The ids of a group's direct children. */
export async function childIds(db: Db, groupId: string): Promise<string[]> {
  const rows = await db.selectFrom('group_parents').select('child_id').where('parent_id', '=', groupId).execute();
  return rows.map((r) => r.child_id);
}

/** Each of `ids` with the ids of its ancestors (not itself), in one walk up the child -> parent index. */
export async function ancestorsOfEach(db: Db, ids: readonly string[]): Promise<Map<string, Set<string>>> {
  const result = new Map<string, Set<string>>(ids.map((id) => [id, new Set<string>()]));
  if (ids.length === 0) return result;
  const rows = await db
    .withRecursive('up(origin, id)', (qc) =>
      qc
        .selectFrom('group_parents')
        .select(['group_parents.child_id as origin', 'group_parents.parent_id as id'])
        .where('group_parents.child_id', 'in', [...ids])
        .union((qc2) =>
          qc2.selectFrom('group_parents').innerJoin('up', 'up.id', 'group_parents.child_id').select(['up.origin as origin', 'group_parents.parent_id as id']),
        ),
    )
    .selectFrom('up')
    .select(['up.origin', 'up.id'])
    .execute();
  for (const r of rows) result.get(r.origin)?.add(r.id);
  return result;
}

/** The ids of a group's descendants (not itself). */
export async function descendantIds(db: Db, groupId: string): Promise<string[]> {
  const rows = await selfAndDescendants(db, groupId).selectFrom('desc').select('desc.id').where('desc.id', '!=', groupId).execute();
  return rows.map((r) => r.id);
}

/** Whether `candidate` is `groupId` or one of its ancestors. */
export async function isSelfOrAncestor(db: Db, candidate: string, groupId: string): Promise<boolean> {
  const row = await selfAndAncestors(db, groupId).selectFrom('anc').select('anc.id').where('anc.id', '=', candidate).limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * What `userId` may do with `groupId`: `member` (a member of it or of a descendant) and `admin`
 * (holds `admin` in it or in an ancestor). Each walk starts from the small side: the user's own
 * memberships going up, and the group going up. One statement, so both answers come from one
 * snapshot: a member whose membership is being removed is seen as both or neither, never as a
 * member who is no admin (which would answer 403 where 404 is due).
 */
export async function accessOf(db: Db, userId: string, groupId: string): Promise<{ member: boolean; admin: boolean }> {
  if (!isUserId(userId)) return { member: false, admin: false };
  const row = await memberOf(db, userId)
    .withRecursive('anc(id)', (qc) =>
      qc
        .selectFrom('groups')
        .select('groups.id as id')
        .where('groups.id', '=', groupId)
        .union((qc2) => qc2.selectFrom('group_parents').innerJoin('anc', 'anc.id', 'group_parents.child_id').select('group_parents.parent_id as id')),
    )
    .selectNoFrom((eb) => [
      eb.exists(eb.selectFrom('up').select('up.id').where('up.id', '=', groupId)).as('member'),
      eb
        .exists(
          eb
            .selectFrom('anc')
            .innerJoin('group_members', 'group_members.group_id', 'anc.id')
            .select('group_members.group_id')
            .where('group_members.user_id', '=', userId)
            .where(sql<boolean>`'admin' = any(group_members.roles)`),
        )
        .as('admin'),
    ])
    .executeTakeFirstOrThrow();
  return { member: row.member === true, admin: row.admin === true };
}

/** Which of `userIds` hold `admin` in `groupId` or in one of its ancestors. */
export async function adminsAmong(db: Db, groupId: string, userIds: readonly string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await selfAndAncestors(db, groupId)
    .selectFrom('anc')
    .innerJoin('group_members', 'group_members.group_id', 'anc.id')
    .select('group_members.user_id')
    .distinct()
    .where('group_members.user_id', 'in', [...userIds])
    .where(sql<boolean>`'admin' = any(group_members.roles)`)
    .execute();
  return new Set(rows.map((r) => r.user_id));
}

/** One group a user belongs to: `via` is the direct membership it comes through, `depth` how many edges up. */
export interface MembershipPath {
  group_id: string;
  via: string;
  depth: number;
}

/**
 * Every (group, via) a user belongs to, with the shortest depth: the direct memberships (depth 0)
 * and their ancestors. Bounded by the user's memberships times the height of the hierarchy.
 */
export async function membershipPaths(db: Db, userId: string): Promise<MembershipPath[]> {
  if (!isUserId(userId)) return [];
  const rows = await db
    .withRecursive('up(group_id, via, depth)', (qc) =>
      qc
        .selectFrom('group_members')
        .select(['group_members.group_id as group_id', 'group_members.group_id as via', sql<number>`0`.as('depth')])
        .where('group_members.user_id', '=', userId)
        .union((qc2) =>
          qc2
            .selectFrom('group_parents')
            .innerJoin('up', 'up.group_id', 'group_parents.child_id')
            .select(['group_parents.parent_id as group_id', 'up.via as via', sql<number>`up.depth + 1`.as('depth')])
            // The hierarchy has no cycle; the bound only keeps a damaged one from running forever.
            .where('up.depth', '<', 1000),
        ),
    )
    .selectFrom('up')
    .select(['up.group_id', 'up.via', (eb) => eb.fn.min<number>('up.depth').as('depth')])
    .groupBy(['up.group_id', 'up.via'])
    .execute();
  return rows.map((r) => ({ group_id: r.group_id, via: r.via, depth: Number(r.depth) }));
}

/** The direct memberships of a user. */
export function directMemberships(db: Db, userId: string): Promise<GroupMemberRow[]> {
  if (!isUserId(userId)) return Promise.resolve([]);
  return db.selectFrom('group_members').selectAll().where('user_id', '=', userId).execute();
}

/** The edges whose child is one of `ids`. */
export function parentEdgesAmong(db: Db, ids: readonly string[]): Promise<Array<{ parent_id: string; child_id: string }>> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('group_parents')
    .select(['parent_id', 'child_id'])
    .where('child_id', 'in', [...ids])
    .execute();
}

/** Groups by id. */
export function findGroupsByIds(db: Db, ids: readonly string[]): Promise<GroupRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('groups')
    .selectAll()
    .where('id', 'in', [...ids])
    .execute();
}

/** The first `limit` direct parents of a group, by slug. */
export function parentsOf(db: Db, groupId: string, limit: number): Promise<GroupRow[]> {
  return db
    .selectFrom('group_parents')
    .innerJoin('groups', 'groups.id', 'group_parents.parent_id')
    .selectAll('groups')
    .where('group_parents.child_id', '=', groupId)
    .orderBy('groups.slug')
    .limit(limit)
    .execute();
}

/** The first `limit` direct children of a group, by slug. */
export function childrenOf(db: Db, groupId: string, limit: number): Promise<GroupRow[]> {
  return db
    .selectFrom('group_parents')
    .innerJoin('groups', 'groups.id', 'group_parents.child_id')
    .selectAll('groups')
    .where('group_parents.parent_id', '=', groupId)
    .orderBy('groups.slug')
    .limit(limit)
    .execute();
}

/**
 * Serialises every edit of the hierarchy until the transaction ends. A cycle check reads edges
 * that another transaction may be about to add (A->B and B->A at once): only one editor at a time
 * makes "check, then insert" safe. PGlite has one connection, so it is serialised anyway.
 */
export async function lockHierarchy(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${HIERARCHY_LOCK_KEY}::bigint)`.execute(trx);
}

/** Adds parent -> child; false when the edge exists already. */
export async function insertEdge(db: Db, parentId: string, childId: string): Promise<boolean> {
  const row = await db
    .insertInto('group_parents')
    .values({ parent_id: parentId, child_id: childId })
    .onConflict((oc) => oc.columns(['parent_id', 'child_id']).doNothing())
    .returning('child_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Removes parent -> child; false when there was no such edge. */
export async function deleteEdge(db: Db, parentId: string, childId: string): Promise<boolean> {
  const result = await db.deleteFrom('group_parents').where('parent_id', '=', parentId).where('child_id', '=', childId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Locks a group's row until the transaction ends (FOR UPDATE); false when it does not exist. */
export async function lockGroup(trx: Transaction<Database>, groupId: string): Promise<boolean> {
  const row = await trx.selectFrom('groups').select('id').where('id', '=', groupId).forUpdate().executeTakeFirst();
  return row !== undefined;
}

/** How many direct members hold `admin` in the group, leaving out `exceptUserId`. */
export async function countGroupAdmins(db: Db, groupId: string, exceptUserId: string): Promise<number> {
  const row = await db
    .selectFrom('group_members')
    .where('group_id', '=', groupId)
    .where('user_id', '!=', exceptUserId)
    .where(sql<boolean>`'admin' = any(roles)`)
    .select((eb) => eb.fn.countAll<string | number | bigint>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export function findMember(db: Db, groupId: string, userId: string): Promise<GroupMemberRow | undefined> {
  if (!isUserId(userId)) return Promise.resolve(undefined);
  return db.selectFrom('group_members').selectAll().where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
}

/** Adds a direct member; undefined when the user is one already. */
export function insertMember(db: Db, row: { group_id: string; user_id: string; roles: string[]; now: Date }): Promise<GroupMemberRow | undefined> {
  return db
    .insertInto('group_members')
    .values({ group_id: row.group_id, user_id: row.user_id, roles: row.roles, created_at: row.now })
    .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function updateMemberRoles(db: Db, groupId: string, userId: string, roles: string[]): Promise<GroupMemberRow | undefined> {
  return db.updateTable('group_members').set({ roles }).where('group_id', '=', groupId).where('user_id', '=', userId).returningAll().executeTakeFirst();
}

export async function deleteMember(db: Db, groupId: string, userId: string): Promise<boolean> {
  const result = await db.deleteFrom('group_members').where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** One page of a group's direct members (oldest membership first) and how many there are. */
export async function listMembers(db: Db, groupId: string, page: Page): Promise<{ rows: GroupMemberRow[]; total: number }> {
  const rows = await db
    .selectFrom('group_members')
    .selectAll()
    .where('group_id', '=', groupId)
    .orderBy('created_at')
    .orderBy('user_id')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
  const counted = await db
    .selectFrom('group_members')
    .where('group_id', '=', groupId)
    .select((eb) => eb.fn.countAll<string | number | bigint>().as('n'))
    .executeTakeFirstOrThrow();
  return { rows, total: Number(counted.n) };
}
