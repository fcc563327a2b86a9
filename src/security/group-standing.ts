import type { AuthContext } from '../services/authenticator.js';
import type { GroupEntry } from './group-directory.js';
import { ANY_SCOPE } from './permissions.js';

/** The role inside a group that makes a group admin. */
const GROUP_ADMIN = 'admin';

/**
 * The caller's roles in `group`, or undefined when the caller may not see it: `requireAuth({ group })`
 * answers 404 then, exactly as for a group that does not exist.
 * - A user belongs to a group they are a member of, directly or through a descendant (its roles
 *   there), and to every group below one they administer (as `admin`); a site admin (who holds
 *   `adminRole`) acts as `admin` in every group.
 * - A service key belongs to its group and the group's ancestors; its scopes stand for its roles.
 * Allocates only for an admin from above who is not a member.
 */
export function standingIn(auth: AuthContext, group: GroupEntry, adminRole: string): readonly string[] | undefined {
  const membership = auth.groups.find((g) => g.id === group.id);
  if (auth.method === 'service_key') return membership ? auth.scopes : undefined;
  if (membership?.roles.includes(GROUP_ADMIN)) return membership.roles;
  const adminFromAbove = auth.groups.some((g) => g.roles.includes(GROUP_ADMIN) && group.ancestors.has(g.id)) || auth.user.roles.includes(adminRole);
  if (!adminFromAbove) return membership?.roles;
  return [...(membership?.roles ?? []), GROUP_ADMIN];
}

/** Whether a standing satisfies `groupRoles` (any one of them); a service key's `*` scope stands for every role. */
export function hasGroupRole(auth: AuthContext, standing: readonly string[], groupRoles: readonly string[]): boolean {
  if (groupRoles.length === 0) return true;
  if (auth.method === 'service_key' && standing.includes(ANY_SCOPE)) return true;
  return groupRoles.some((role) => standing.includes(role));
}
