import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** One entry of `req.auth.groups`: a group the caller belongs to (directly or through a descendant) and its roles there. */
export interface GroupMembership {
  readonly id: string;
  readonly slug: string;
  /** Roles inside the group; `admin` exactly where the caller administers it (there or in an ancestor). */
  readonly roles: readonly string[];
}

/** A group by itself, as guards see it: `name` for the guard context, ancestors for administration from above. */
export interface GroupRef {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
}

/** What a user's cached entry knows of their groups, computed once per load and shared by every request. */
export interface MembershipView {
  /** `req.auth.groups`, frozen. */
  readonly groups: readonly GroupMembership[];
  /** The top-level groups (no parent) among them: the organizations the guard context can name. */
  readonly topLevel: readonly GroupRef[];
}

/** Loads a user's memberships (only called for users who are in a group). */
export type MembershipLoader = (db: Kysely<Database>, userId: string) => Promise<MembershipView>;

/** The view of a user in no group: shared by every such user. */
export const NO_MEMBERSHIPS: MembershipView = Object.freeze({ groups: Object.freeze([]), topLevel: Object.freeze([]) });
