import * as z from 'zod';
import { MAX_API_TOKEN_DAYS } from '../services/api-tokens.js';
import type { Actor } from '../services/group-access.js';
import type { GroupInvitationService } from '../services/group-invitations.js';
import type { GroupMemberService } from '../services/group-members.js';
import type { CreateGroupInput, GroupService } from '../services/groups.js';
import { serviceKeyScopes, type ServiceKeyService } from '../services/service-keys.js';
import type { UserService } from '../services/users.js';
import type { EventOrigin } from '../security/audit.js';
import { lazySchema, parseInput } from '../validation.js';
import { accessTokenOnly } from './access-token-only.js';
import { bodyObject } from './body.js';
import { queryParams, wholeNumber } from './query.js';
import { sendJson } from './respond.js';
import { targetUserResolver } from './target-user.js';
import { NotFoundError } from '../errors.js';
import { caller, type Handler, type Req, type Routes } from './types.js';
import { idParam } from './path-params.js';

export interface GroupRouteDeps {
  groups: GroupService;
  groupMembers: GroupMemberService;
  invitations: GroupInvitationService;
  serviceKeys: ServiceKeyService;
  users: UserService;
  adminRole: string;
  authenticate: Handler;
  origin: (req: Req) => EventOrigin;
  /** Invitations sent, per inviting account. */
  limit: { invitation: Handler };
}

export const serviceKeySchema = lazySchema(() =>
  z.object({
    name: z.string().trim().min(1).max(100),
    scopes: serviceKeyScopes().optional(),
    expires_in_days: z.number().int().min(1).max(MAX_API_TOKEN_DAYS).nullish(),
  }),
);

export const childSchema = lazySchema(() => z.object({ child_id: z.string().min(1).max(100) }));

/** `/groups/*` and `GET /{user}/groups`: access JWTs only (an API token gets 403), each change audited with the caller as actor. */
export function mountGroupRoutes(router: Routes, d: GroupRouteDeps): void {
  const signedIn = [d.authenticate, accessTokenOnly];
  const targetUser = targetUserResolver(d.users, d.adminRole);
  const actor = (req: Req): Actor => {
    const auth = caller(req);
    return { id: auth.user.id, siteAdmin: auth.user.roles.includes(d.adminRole) };
  };
  // `me` stands for the caller in member paths, as in `/{user}/...` paths.
  const memberId = (req: Req) => (idParam(req, 'userId') === 'me' ? caller(req).user.id : idParam(req, 'userId'));
  const page = (req: Req) => {
    const q = queryParams(req, ['limit', 'offset']);
    return { limit: wholeNumber(q.limit, 'limit'), offset: wholeNumber(q.offset, 'offset') };
  };

  router.get('/groups', ...signedIn, async (req, res) => {
    sendJson(res, 200, { groups: await d.groups.list(actor(req), page(req)) });
  });

  router.post('/groups', ...signedIn, async (req, res) => {
    const group = await d.groups.create(actor(req), bodyObject(req) as unknown as CreateGroupInput, d.origin(req));
    sendJson(res, 201, { group });
  });

  router.get('/groups/:id', ...signedIn, async (req, res) => {
    sendJson(res, 200, await d.groups.get(actor(req), idParam(req, 'id')));
  });

  router.patch('/groups/:id', ...signedIn, async (req, res) => {
    const group = await d.groups.update(actor(req), idParam(req, 'id'), bodyObject(req), d.origin(req));
    sendJson(res, 200, { group });
  });

  router.delete('/groups/:id', ...signedIn, async (req, res) => {
    await d.groups.delete(actor(req), idParam(req, 'id'), d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.get('/groups/:id/members', ...signedIn, async (req, res) => {
    sendJson(res, 200, await d.groupMembers.list(actor(req), idParam(req, 'id'), page(req)));
  });

  router.post('/groups/:id/members', ...signedIn, async (req, res) => {
    sendJson(res, 201, await d.groupMembers.add(actor(req), idParam(req, 'id'), bodyObject(req), d.origin(req)));
  });

  // 202 and the same body whether or not the account exists: nothing here tells who has an account.
  router.post('/groups/:id/invitations', ...signedIn, d.limit.invitation, async (req, res) => {
    await d.invitations.invite(actor(req), idParam(req, 'id'), bodyObject(req), d.origin(req));
    sendJson(res, 202, { success: true });
  });

  router.patch('/groups/:id/members/:userId', ...signedIn, async (req, res) => {
    const { roles } = bodyObject(req) as { roles: string[] };
    sendJson(res, 200, await d.groupMembers.setRoles(actor(req), idParam(req, 'id'), memberId(req), roles, d.origin(req)));
  });

  router.delete('/groups/:id/members/:userId', ...signedIn, async (req, res) => {
    await d.groupMembers.remove(actor(req), idParam(req, 'id'), memberId(req), d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.post('/groups/:id/children', ...signedIn, async (req, res) => {
    const { child_id } = parseInput(childSchema(), bodyObject(req));
    await d.groups.addChild(actor(req), idParam(req, 'id'), child_id, d.origin(req));
    sendJson(res, 201, { success: true });
  });

  router.delete('/groups/:id/children/:childId', ...signedIn, async (req, res) => {
    await d.groups.removeChild(actor(req), idParam(req, 'id'), idParam(req, 'childId'), d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.post('/groups/:id/api-tokens', ...signedIn, async (req, res) => {
    const input = parseInput(serviceKeySchema(), bodyObject(req));
    const created = await d.serviceKeys.create(
      actor(req),
      idParam(req, 'id'),
      { name: input.name, scopes: input.scopes, expiresInDays: input.expires_in_days ?? null },
      d.origin(req),
    );
    sendJson(res, 201, created, true);
  });

  router.get('/groups/:id/api-tokens', ...signedIn, async (req, res) => {
    sendJson(res, 200, await d.serviceKeys.list(actor(req), idParam(req, 'id')));
  });

  router.delete('/groups/:id/api-tokens/:tokenId', ...signedIn, async (req, res) => {
    await d.serviceKeys.revoke(actor(req), idParam(req, 'id'), idParam(req, 'tokenId'), d.origin(req));
    sendJson(res, 200, { success: true });
  });

  // An invitation is its invitee's alone: `me` or the caller's own id; anyone else's (site admins too) is 404.
  const self = (req: Req) => {
    const user = idParam(req, 'user');
    if (user === 'me' || user === caller(req).user.id) return caller(req).user.id;
    throw new NotFoundError('user not found');
  };

  router.get('/:user/invitations', ...signedIn, async (req, res) => {
    sendJson(res, 200, await d.invitations.list(self(req)));
  });

  router.post('/:user/invitations/:invitationId/accept', ...signedIn, async (req, res) => {
    sendJson(res, 200, await d.invitations.accept(self(req), idParam(req, 'invitationId'), d.origin(req)));
  });

  router.post('/:user/invitations/:invitationId/decline', ...signedIn, async (req, res) => {
    await d.invitations.decline(self(req), idParam(req, 'invitationId'), d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.get('/:user/groups', ...signedIn, async (req, res) => {
    sendJson(res, 200, await d.groupMembers.groupsOf(await targetUser(req)));
  });
}
