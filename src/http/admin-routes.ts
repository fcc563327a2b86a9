import * as z from 'zod';
import type { EventService } from '../services/events.js';
import type { ImpersonationService } from '../services/impersonation.js';
import type { RoleService } from '../services/roles.js';
import type { SessionService } from '../services/sessions.js';
import type { UserAdminService } from '../services/user-admin.js';
import type { CreateUserInput } from '../services/users.js';
import type { EventOrigin } from '../security/audit.js';
import * as v from '../validation.js';
import { adminOnly } from './access-token-only.js';
import { bodyObject } from './body.js';
import { queryParams, wholeNumber } from './query.js';
import { sendJson } from './respond.js';
import { idParam, param } from './path-params.js';
import { caller, type Handler, type Req, type Routes } from './types.js';

export interface AdminRouteDeps {
  userAdmin: UserAdminService;
  sessions: SessionService;
  roles: RoleService;
  events: EventService;
  impersonation: ImpersonationService;
  adminRole: string;
  authenticate: Handler;
  origin: (req: Req) => EventOrigin;
  /** The login (`sid`) of the access token the request came with, if any. */
  sessionOf: (req: Req) => string | undefined;
}

// Admin-created users need an email; the service validates every field and drops unknown ones.
const createSchema = v.lazySchema(() => z.object({ email: z.string() }).loose());

/** `/admin/*` (users, roles, audit events) and `POST /{user}/impersonate`: admins only, each change audited with the admin as actor. */
export function mountAdminRoutes(router: Routes, d: AdminRouteDeps): void {
  const admin = [d.authenticate, adminOnly(d.adminRole)];

  router.get('/admin/users', ...admin, async (req, res) => {
    const q = queryParams(req, ['search', 'role', 'limit', 'offset']);
    const page = await d.userAdmin.list({ search: q.search, role: q.role, limit: wholeNumber(q.limit, 'limit'), offset: wholeNumber(q.offset, 'offset') });
    sendJson(res, 200, page);
  });

  router.post('/admin/users', ...admin, async (req, res) => {
    const body = v.parseInput(createSchema(), bodyObject(req));
    const user = await d.userAdmin.create(body as unknown as CreateUserInput, d.origin(req));
    sendJson(res, 201, { user });
  });

  router.get('/admin/users/:id', ...admin, async (req, res) => {
    sendJson(res, 200, await d.userAdmin.detail(idParam(req, 'id')));
  });

  router.patch('/admin/users/:id', ...admin, async (req, res) => {
    sendJson(res, 200, { user: await d.userAdmin.update(idParam(req, 'id'), bodyObject(req), d.origin(req)) });
  });

  router.delete('/admin/users/:id', ...admin, async (req, res) => {
    await d.userAdmin.delete(idParam(req, 'id'), d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.post('/admin/users/:id/logout-all', ...admin, async (req, res) => {
    await d.sessions.logoutAll(idParam(req, 'id'), d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.get('/admin/roles', ...admin, async (_req, res) => {
    sendJson(res, 200, await d.roles.list());
  });

  router.post('/admin/roles', ...admin, async (req, res) => {
    const { name } = v.parseInput(z.object({ name: z.string() }), bodyObject(req));
    sendJson(res, 201, await d.roles.create(name, d.origin(req)));
  });

  router.delete('/admin/roles/:name', ...admin, async (req, res) => {
    await d.roles.delete(param(req, 'name'), d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.get('/admin/events', ...admin, async (req, res) => {
    const q = queryParams(req, ['user_id', 'type', 'before', 'limit']);
    const events = await d.events.list({ user_id: q.user_id, type: q.type, before: q.before, limit: wholeNumber(q.limit, 'limit') });
    sendJson(res, 200, { events });
  });

  router.post('/:user/impersonate', ...admin, async (req, res) => {
    const { duration } = bodyObject(req) as { duration?: number };
    const auth = caller(req);
    const adminId = auth.user.id;
    const target = idParam(req, 'user') === 'me' ? adminId : idParam(req, 'user');
    // Bound to the admin's login (or API token) that asks, so ending it ends the impersonation too.
    const login = auth.method === 'api_token' ? { apiTokenId: auth.token_id } : { sessionId: d.sessionOf(req) };
    const result = await d.impersonation.impersonate(adminId, target, { duration }, d.origin(req), login);
    sendJson(res, 200, result, true);
  });
}
