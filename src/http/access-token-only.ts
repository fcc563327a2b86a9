import { ForbiddenError } from '../errors.js';
import { caller, type Req, type Res, type Next } from './types.js';

/**
 * Account and session operations (logout-all, change-password, identities, API tokens) need an
 * access JWT: an API token, whatever its scopes, is a credential for the app's routes and must
 * not end the owner's logins, guess the owner's password or mint more credentials.
 */
export function accessTokenOnly(req: Req, _res: Res, next: Next): void {
  if (caller(req).method === 'jwt') return next();
  next(new ForbiddenError('forbidden', 'this needs an access token, not an API token'));
}
