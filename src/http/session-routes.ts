import type { UserSessionService } from '../services/user-sessions.js';
import type { UserService } from '../services/users.js';
import type { EventOrigin } from '../security/audit.js';
import { accessTokenOnly, adminOnly } from './access-token-only.js';
import { sendJson } from './respond.js';
import { targetUserResolver } from './target-user.js';
import { caller, type Handler, type Req, type Routes } from './types.js';
import { idParam } from './path-params.js';

export interface SessionRouteDeps {
  userSessions: UserSessionService;
  users: UserService;
  adminRole: string;
  authenticate: Handler;
  origin: (req: Req) => EventOrigin;
  /** The login (`sid`) of the access token the request came with, if any. */
  sessionOf: (req: Req) => string | undefined;
}

/**
 * `/{user}/sessions`: the caller's own logins (`me` or their id, with an access JWT), or anyone's
 * for a site admin; and `/admin/users/{id}/sessions` for admins (an admin's API token with the
 * scope `admin` too). Ending a login there ends its refresh and access tokens on every instance.
 */
export function mountSessionRoutes(router: Routes, d: SessionRouteDeps): void {
  const targetUser = targetUserResolver(d.users, d.adminRole);
  const admin = [d.authenticate, adminOnly(d.adminRole)];
  /** The caller's own login, only when listing their own sessions. */
  const currentOf = (req: Req, userId: string) => (caller(req).user.id === userId ? d.sessionOf(req) : undefined);

  // no-store: where and from what an account is signed in is private.
  router.get('/:user/sessions', d.authenticate, accessTokenOnly, async (req, res) => {
    const userId = await targetUser(req);
    sendJson(res, 200, await d.userSessions.list(userId, currentOf(req, userId)), true);
  });

  router.delete('/:user/sessions/:sessionId', d.authenticate, accessTokenOnly, async (req, res) => {
    await d.userSessions.revoke(await targetUser(req), idParam(req, 'sessionId'), d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.get('/admin/users/:id/sessions', ...admin, async (req, res) => {
    const userId = idParam(req, 'id');
    sendJson(res, 200, await d.userSessions.list(userId, currentOf(req, userId)), true);
  });

  router.delete('/admin/users/:id/sessions/:sessionId', ...admin, async (req, res) => {
    await d.userSessions.revoke(idParam(req, 'id'), idParam(req, 'sessionId'), d.origin(req));
    sendJson(res, 200, { success: true });
  });
}
