import type { AuthContext } from '../services/authenticator.js';
import type { GroupEntry } from './group-directory.js';

/** The role inside a group that makes a group admin. */
const GROUP_ADMIN = 'admin';

const NO_ROLES: readonly string[] = Object.freeze([]);

/**
 * The caller's roles in `group`, or undefined when the caller may not see it: `requireAuth({ group })`
 * answers 404 then, exactly as for a group that does not exist. Roles hold only in the group where
 * they were granted; only `admin` reaches further, and only down the hierarchy.
 * - A user belongs to a group they are a member of (its roles there), to every ancestor of one as
 *   a plain member (no roles: `req.auth.groups` already says so), and to every group below one they
 *   administer (as `admin`); a site admin (who holds `adminRole`) acts as `admin` in every group.
 * - A service key acts in its own group with its scopes as its roles there, and is a plain member
 *   of the group's ancestors: nothing it holds, `admin` included, passes upward.
 * Allocates only for an admin from above who is not a member.
 */
export function standingIn(auth: AuthContext, group: GroupEntry, adminRole: string): readonly string[] | undefined {
  if (auth.method === 'service_key') {
    if (auth.group?.id === group.id) return auth.scopes;
    return auth.groups.some((g) => g.id === group.id) ? NO_ROLES : undefined;
  }
  const membership = auth.groups.find((g) => g.id === group.id);
  if (membership?.roles.includes(GROUP_ADMIN)) return membership.roles;
  const adminFromAbove = auth.groups.some((g) => g.roles.includes(GROUP_ADMIN) && group.ancestors.has(g.id)) || auth.user.roles.includes(adminRole);
  if (!adminFromAbove) return membership?.roles;
  return [...(membership?.roles ?? []), GROUP_ADMIN];
}

/** Whether a standing satisfies `groupRoles` (any one of them); matching is exact, and `*` is no role. */
export function hasGroupRole(standing: readonly string[], groupRoles: readonly string[]): boolean {
  if (groupRoles.length === 0) return true;
  return groupRoles.some((role) => standing.includes(role));
}
