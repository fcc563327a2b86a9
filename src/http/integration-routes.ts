import type { IntegrationService } from '../services/integrations.js';
import type { UserService } from '../services/users.js';
import type { EventOrigin } from '../security/audit.js';
import { accessTokenOnly } from './access-token-only.js';
import { sendJson } from './respond.js';
import { targetUserResolver } from './target-user.js';
import type { Handler, Req, Routes } from './types.js';
import { param } from './path-params.js';

export interface IntegrationRouteDeps {
  integrations: IntegrationService;
  users: UserService;
  adminRole: string;
  authenticate: Handler;
  origin: (req: Req) => EventOrigin;
}

/**
 * `/{user}/integrations`: the caller's own (`me` or their id), or anyone's for an admin; access
 * tokens only. Secrets are set and read through `auth.integrations` by the app, never over HTTP.
 */
export function mountIntegrationRoutes(router: Routes, d: IntegrationRouteDeps): void {
  const targetUser = targetUserResolver(d.users, d.adminRole);

  // no-store although no secret is in it: which services an account is connected to is private.
  router.get('/:user/integrations', d.authenticate, accessTokenOnly, async (req, res) => {
    sendJson(res, 200, await d.integrations.list(await targetUser(req)), true);
  });

  router.delete('/:user/integrations/:connector', d.authenticate, accessTokenOnly, async (req, res) => {
    await d.integrations.delete(await targetUser(req), param(req, 'connector'), d.origin(req));
    sendJson(res, 200, { success: true });
  });
}
