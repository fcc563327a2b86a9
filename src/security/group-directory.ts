import { isGroupId, type Lineage } from '../db/groups-repository.js';
import type { GroupMembership, GroupRef } from './group-memberships.js';

/** A group as `requireAuth({ group })` and `auth.guard` see it, kept in memory. */
export interface GroupEntry extends GroupRef {
  /** Ids of every ancestor: an admin of any of them administers this group. */
  readonly ancestors: ReadonlySet<string>;
  /** The group and its ancestors as memberships with no roles: what a service key of this group belongs to (its scopes become its roles in the first). */
  readonly lineage: readonly GroupMembership[];
  /** The top-level groups above it, or itself when it has no parent: the organizations it belongs to. */
  readonly roots: readonly GroupRef[];
}

/** How long a group is trusted before it is re-read (hierarchy edits are announced; this is the backstop). */
export const GROUP_CACHE_TTL_MS = 30_000;
/** Upper bound on cached groups; the oldest entry goes first. */
export const GROUP_CACHE_MAX = 10_000;

interface Cached {
  entry: GroupEntry;
  loadedAt: number;
}

export function toGroupEntry({ group, ancestors, top_level }: Lineage): GroupEntry {
  const self = { id: group.id, slug: group.slug, name: group.name };
  const ref = (g: GroupRef): GroupRef => ({ id: g.id, slug: g.slug, name: g.name });
  return Object.freeze({
    ...self,
    ancestors: new Set(ancestors.map((a) => a.id)),
    lineage: Object.freeze([self, ...ancestors].map((g) => Object.freeze({ id: g.id, slug: g.slug, roles: Object.freeze([]) }))),
    roots: Object.freeze(top_level ? [self] : ancestors.filter((a) => a.top_level).map(ref)),
  });
}

/**
 * Groups by id and by slug, so that a guard naming a group (usually from a route parameter) decides
 * without a database read. Ids and slugs are two separate namespaces: a reference shaped like an id
 * (in either case) is only ever looked up as an id, anything else only as a slug, so one key can
 * never name two groups (slugs are never id-shaped either). Every instance drops them all when the
 * hierarchy or a slug changes, or a group is deleted (Revocation's `groups` event), so a deleted
 * group's slug taken by another group, or a renamed slug, never reaches the old entry; a name that
 * names no group is not remembered (it may be created).
 */
export class GroupDirectory {
  readonly #byId = new Map<string, Cached>();
  readonly #bySlug = new Map<string, Cached>();
  #epoch = 0;

  constructor(private readonly load: (idOrSlug: string) => Promise<Lineage | undefined>) {}

  /** The group if it is in memory and fresh; undefined when it must be loaded. */
  peek(idOrSlug: string): GroupEntry | undefined {
    const hit = isGroupId(idOrSlug) ? this.#byId.get(idOrSlug.toLowerCase()) : this.#bySlug.get(idOrSlug);
    return hit && Date.now() - hit.loadedAt < GROUP_CACHE_TTL_MS ? hit.entry : undefined;
  }

  /** The group, loaded if need be; undefined when there is none. */
  async get(idOrSlug: string): Promise<GroupEntry | undefined> {
    const known = this.peek(idOrSlug);
    if (known) return known;
    const epoch = this.#epoch;
    const lineage = await this.load(idOrSlug);
    if (!lineage) return undefined;
    const entry = toGroupEntry(lineage);
    // A change announced while this was read may have made it stale: used once, not kept.
    if (epoch === this.#epoch) {
      // Each map holds at most half the bound; the oldest entry goes first.
      for (const map of [this.#byId, this.#bySlug]) while (map.size >= GROUP_CACHE_MAX / 2) map.delete(map.keys().next().value!);
      const at = { entry, loadedAt: Date.now() };
      this.#byId.set(entry.id, at);
      this.#bySlug.set(entry.slug, at);
    }
    return entry;
  }

  clear(): void {
    this.#epoch += 1;
    this.#byId.clear();
    this.#bySlug.clear();
  }
}
