import type { AuthError } from './errors.js';
import type { GroupRef } from './security/group-memberships.js';
import type { AuthContext } from './services/authenticator.js';

/** What `auth.guard` checks besides authentication; every part that is given must pass. */
export interface GuardOptions {
  /** Any one of these effective roles. */
  roles?: string[];
  /** Every one of these scopes, for an API token (access JWTs are not scope-limited). */
  scopes?: string[];
  /**
   * An operation of the `permissions` option, as `requireAuth({ permission })`: with `group`, granted
   * by the caller's roles in that group; alone, by site roles (never to a service key). One that
   * `permissions` does not declare is never authorized.
   */
  operation?: string;
  /** A group (id or slug) the caller must belong to, as `requireAuth({ group })`; it becomes the context's organization. */
  group?: string;
  /** With `group`: one of these roles inside it. */
  groupRoles?: string[];
}

/** Who is calling, for the app's own decisions: the user, their groups, and the organization in question. */
export interface GuardContext {
  /** The calling user; null for a service key. */
  user: AuthContext['user'] | null;
  groups: AuthContext['groups'];
  /** The group named by `group`, else the caller's only top-level group, else null. */
  organization: GroupRef | null;
}

/** The result of `auth.guard`: never throws. */
export interface GuardResult {
  is_authenticated: boolean;
  is_authorized: boolean;
  auth: AuthContext | null;
  /** Null when the token was not accepted. */
  context: GuardContext | null;
  error: AuthError | null;
}
