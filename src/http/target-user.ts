import { ForbiddenError, NotFoundError } from '../errors.js';
import type { UserService } from '../services/users.js';
import { idParam } from './path-params.js';
import { caller, type Req } from './types.js';

/**
 * Resolves the `{user}` of `/{user}/...` routes: `me` or the caller's own id, or any existing user
 * for an admin. Anyone else's id answers 404 exactly like a missing user, so ids cannot be probed.
 * Only access tokens qualify: a leaked API token must not mint more tokens or unlink sign-in methods.
 */
export function targetUserResolver(users: UserService, adminRole: string): (req: Req) => Promise<string> {
  return async (req) => {
    const auth = caller(req);
    if (auth.method !== 'jwt') throw new ForbiddenError('forbidden', 'this needs an access token, not an API token');
    const param = idParam(req, 'user');
    if (param === 'me' || param === auth.user.id) return auth.user.id;
    // The held admin role, as for the admin endpoints (an implied one does not make a site admin).
    if (auth.user.roles.includes(adminRole) && (await users.findById(param))) return param;
    throw new NotFoundError('user not found');
  };
}
