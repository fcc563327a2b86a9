import * as z from 'zod';
import { ForbiddenError } from '../errors.js';
import { MAX_PASSWORD_LENGTH } from '../passwords/policy.js';
import type { SessionService } from '../services/sessions.js';
import type { UserService } from '../services/users.js';
import type { RoleService } from '../services/roles.js';
import type { Audit, EventOrigin } from '../security/audit.js';
import * as v from '../validation.js';
import { accessTokenOnly } from './access-token-only.js';
import { bodyObject } from './body.js';
import { sendJson } from './respond.js';
import type { TokenDelivery } from './token-delivery.js';
import { caller, type Routes, type Handler, type Req } from './types.js';

export const loginSchema = v.lazySchema(() =>
  z.object({
    // A username or an email; its shape is checked only by the lookup, so any string up to 320 works.
    username: z.string().min(1).max(320),
    password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
    // The password as the second factor of a sign-in begun with another method.
    mfa_id: z.string().min(1).max(128).optional(),
  }),
);

export const registerSchema = v.lazySchema(() =>
  z.object({
    username: v.username(),
    password: v.password(),
    email: v.email(),
    real_name: v.realName().optional(),
    profile: v.profile().optional(),
  }),
);

export const refreshSchema = v.lazySchema(() => z.object({ refresh_token: z.string().min(1).max(4096) }));

export const changePasswordSchema = v.lazySchema(() =>
  z.object({
    current_password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
    password: v.password(),
  }),
);

export interface AuthRouteDeps {
  users: UserService;
  sessions: SessionService;
  roles: RoleService;
  allowRegistration: boolean;
  audit: Audit;
  authenticate: Handler;
  /** `authenticate`, but letting through a user who still has to set up MFA (`/login/profile`, `/logout-all`). */
  authenticateForSetup: Handler;
  /** Whether registration hands out tokens only once the address is verified. */
  requireEmailVerification: boolean;
  /** With `requireEmailVerification`, registration mails the first verification link. */
  afterRegister: (userId: string, origin: EventOrigin) => Promise<void>;
  limit: { register: Handler; refresh: Handler };
  /** Where a request comes from, for the audit trail and the per-account login delays. */
  origin: (req: Req) => EventOrigin;
  /** Tokens in the body, or the refresh token in a cookie (cookie mode). */
  tokens: TokenDelivery;
}

/** The authlib core: login, register, refresh, logout, logout-all, change-password, profile, roles. */
export function mountAuthRoutes(router: Routes, d: AuthRouteDeps): void {
  router.post('/login', async (req, res) => {
    const { username, password, mfa_id } = v.parseInput(loginSchema(), bodyObject(req));
    const toCookie = d.tokens.wantsCookie(req);
    const { ip, userAgent } = d.origin(req);
    const result = await d.sessions.login({ identifier: username, password, ip, userAgent, mfaId: mfa_id });
    d.tokens.send(res, 200, result, toCookie);
  });

  router.post('/register', d.limit.register, async (req, res) => {
    if (!d.allowRegistration) throw new ForbiddenError('forbidden', 'registration is closed');
    const input = v.parseInput(registerSchema(), bodyObject(req));
    const toCookie = d.tokens.wantsCookie(req);
    // Only the fields above: roles, flags and ids are never taken from a public body.
    // With requireEmailVerification the account gets no tokens until its address is verified.
    const { user, result: tokens } = await d.users.createWith(input, (trx, userId) =>
      d.requireEmailVerification ? Promise.resolve(undefined) : d.sessions.startLogin(trx, userId, d.origin(req)),
    );
    await d.audit.record('register', { userId: user.id, origin: d.origin(req) });
    await d.afterRegister(user.id, d.origin(req));
    if (tokens) d.tokens.send(res, 201, { user, ...tokens }, toCookie);
    else sendJson(res, 201, { user });
  });

  router.post('/token-refresh', d.limit.refresh, async (req, res) => {
    const presented = d.tokens.presented(req);
    const toCookie = presented.fromCookie || d.tokens.wantsCookie(req);
    d.tokens.send(res, 200, await d.sessions.refresh(presented.token, d.origin(req)), toCookie);
  });

  router.post('/logout', async (req, res) => {
    const presented = d.tokens.presented(req);
    // Past the CSRF checks: the cookie goes even if its login had already ended.
    if (presented.fromCookie) d.tokens.clear(res);
    await d.sessions.logout(presented.token, d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.post('/logout-all', d.authenticateForSetup, accessTokenOnly, async (req, res) => {
    await d.sessions.logoutAll(caller(req).user.id, d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.post('/change-password', d.authenticate, accessTokenOnly, async (req, res) => {
    const { current_password, password } = v.parseInput(changePasswordSchema(), bodyObject(req));
    const toCookie = d.tokens.wantsCookie(req);
    const tokens = await d.sessions.changePassword(caller(req).user.id, current_password, password, d.origin(req));
    d.tokens.send(res, 200, { success: true, ...tokens }, toCookie);
  });

  router.get('/login/profile', d.authenticateForSetup, (req, res) => {
    sendJson(res, 200, { user: caller(req).user });
  });

  router.get('/roles', async (_req, res) => {
    sendJson(res, 200, await d.roles.names());
  });
}
