import { ForbiddenError } from '../errors.js';
import { caller, type Req, type Res, type Next } from './types.js';

/**
 * Account and session operations (logout-all, change-password, identities, API tokens) need an
 * access JWT: an API token, whatever its scopes, is a credential for the app's routes and must
 * not end the owner's logins, guess the owner's password or mint more credentials.
 *
 * An impersonation token (an admin acting as the user) may look at the account but change
 * nothing of it: every account route that is not a read is refused, so routes added later are
 * covered without knowing of impersonation. The router records each refusal in the audit trail.
 */
export function accessTokenOnly(req: Req, _res: Res, next: Next): void {
  const auth = caller(req);
  if (auth.method !== 'jwt') return next(new ForbiddenError('forbidden', 'this needs an access token, not an API token'));
  if (auth.impersonator_id !== undefined && req.method !== 'GET' && req.method !== 'HEAD') return next(impersonationRefused());
  next();
}

/** 403 for what an impersonation token may never do. */
export function impersonationRefused(): ForbiddenError {
  return new ForbiddenError('forbidden', 'an impersonation token cannot do this');
}

/** The scope an admin's API token needs to reach the admin endpoints. */
export const ADMIN_SCOPE = 'admin';

/**
 * The admin endpoints: the caller holds `adminRole`, through an access JWT of their own (not an
 * impersonation token) or an API token that carries the scope `admin`. Held, not implied: a role
 * that implies `adminRole` (`roleImplications`) must not make site admins unseen by the last-admin
 * rule and by impersonation, which both go by the roles a user holds.
 */
export function adminOnly(adminRole: string): (req: Req, res: Res, next: Next) => void {
  return function adminOnly(req, _res, next) {
    const auth = caller(req);
    if (auth.impersonator_id !== undefined) return next(impersonationRefused());
    if (!auth.user.roles.includes(adminRole)) return next(new ForbiddenError());
    if (auth.method !== 'jwt' && !auth.scopes.includes(ADMIN_SCOPE))
      return next(new ForbiddenError('forbidden', `an API token needs the scope '${ADMIN_SCOPE}' for this`));
    next();
  };
}
