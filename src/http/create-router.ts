import Router from 'router';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import { jsonBody } from './body.js';
import { mountAuthRoutes, type AuthRouteDeps } from './auth-routes.js';
import { mountApiTokenRoutes, type ApiTokenRouteDeps } from './api-token-routes.js';
import { mountAccountRoutes, type AccountRouteDeps } from './account-routes.js';
import { mountAdminRoutes, type AdminRouteDeps } from './admin-routes.js';
import { mountMfaRoutes, type MfaRouteDeps } from './mfa-routes.js';
import { mountIntegrationRoutes, type IntegrationRouteDeps } from './integration-routes.js';
import { mountGroupRoutes, type GroupRouteDeps } from './group-routes.js';
import { mountPasskeyRoutes, type PasskeyRouteDeps } from './passkey-routes.js';
import { mountOAuthFormCallback, mountOAuthRoutes, type OAuthRouteDeps } from './oauth-routes.js';
import { mountSessionRoutes, type SessionRouteDeps } from './session-routes.js';
import { mountIntrospectionRoute, type IntrospectionRouteDeps } from './introspection-routes.js';
import { mountJwksRoute } from './jwks-route.js';
import type { Jwks } from '../tokens/jwks.js';
import type { OpenApiDocument } from './openapi/document.js';
import { mountOpenApiRoute } from './openapi/openapi-route.js';
import { originResolver } from './origin.js';
import { sendError } from './respond.js';
import type { Next, Req, Res, Routes } from './types.js';

/** `auth.router`: a plain (req, res, next) middleware, so it mounts into Express 4, Express 5 and Connect. */
export function createRouter(
  given: Omit<
    AuthRouteDeps &
      ApiTokenRouteDeps &
      OAuthRouteDeps &
      AdminRouteDeps &
      AccountRouteDeps &
      MfaRouteDeps &
      IntegrationRouteDeps &
      GroupRouteDeps &
      PasskeyRouteDeps &
      SessionRouteDeps &
      IntrospectionRouteDeps,
    'origin' | 'limit'
  > & {
    logger: Logger;
    clientIp: (req: Req) => string;
    limit: AuthRouteDeps['limit'] & OAuthRouteDeps['limit'] & AccountRouteDeps['limit'] & GroupRouteDeps['limit'] & PasskeyRouteDeps['limit'];
    /** Served at `GET /openapi.json` when given (the `openapi` option). */
    openapi?: OpenApiDocument | undefined;
    /** Served at `GET /.well-known/jwks.json` when given (the `signingKeys` option). */
    jwks?: Jwks | undefined;
  },
): (req: Req, res: Res, next: Next) => void {
  // The standalone router Express 5 is built on: the same matching and async-error handling whatever the host is.
  const deps = { ...given, origin: originResolver(given.clientIp) };
  const router = new Router({ caseSensitive: true, strict: false }) as unknown as Routes & ((req: Req, res: Res, next: Next) => void);
  // Before the JSON parser: the routes that take a form body (a provider's form_post callback, introspection).
  mountOAuthFormCallback(router, deps);
  // RFC 7662 has a form body; JSON is taken there too.
  mountIntrospectionRoute(router, deps);
  mountJwksRoute(router, given.jwks);
  router.use(jsonBody);
  mountAuthRoutes(router, deps);
  // Before the `/{user}/...` routes: `/groups/{id}/api-tokens` is a group's, not a user called `groups`.
  mountGroupRoutes(router, deps);
  mountApiTokenRoutes(router, deps);
  mountSessionRoutes(router, deps);
  mountOAuthRoutes(router, deps);
  mountAdminRoutes(router, deps);
  mountAccountRoutes(router, deps);
  mountMfaRoutes(router, deps);
  mountPasskeyRoutes(router, deps);
  mountIntegrationRoutes(router, deps);
  if (given.openapi) mountOpenApiRoute(router, given.openapi);
  router.use((_req: Req, _res: Res, next: Next) => next(new NotFoundError('no such endpoint')));
  router.use((err: unknown, req: Req, res: Res, _next: Next) => {
    // Each refused use of an impersonation token is audited, with the admin behind it as actor.
    const auth = req.auth;
    if (!(err instanceof ForbiddenError && err.code === 'forbidden' && auth?.impersonator_id !== undefined)) return sendError(res, err, deps.logger);
    const path = (req.url ?? '').split('?')[0];
    void deps.audit
      .record('impersonation_refused', { userId: auth.user.id, data: { method: req.method, path }, origin: deps.origin(req) })
      .finally(() => sendError(res, err, deps.logger));
  });
  return router;
}
