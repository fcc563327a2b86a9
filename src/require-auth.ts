import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthError, AuthenticationError, ForbiddenError, RateLimitError } from './errors.js';
import { readCredentials } from './http/credentials.js';
import { sendError } from './http/respond.js';
import type { Logger } from './logger.js';
import type { AuthContext, Authenticator } from './services/authenticator.js';
import { isPermitted, permissionNeed, type PermissionNeed, type Permissions } from './security/permissions.js';
import type { TokenFailureLimiter } from './security/token-failures.js';

/** What `requireAuth` accepts: nothing, a list of roles, or an options object. */
export type RequireAuthOptions =
  | string[]
  | {
      /** The caller needs at least one of these roles (exact match against the effective roles). */
      roles?: string[];
      /** An API-token caller needs every one of these scopes; access JWTs are not scope-limited. */
      scopes?: string[];
      /**
       * An operation of the `permissions` option: an effective role must grant it, and an API
       * token must carry it (or `*`) among its scopes.
       */
      permission?: string;
      /** Let anonymous callers through (a token that is sent must still be valid). @default false */
      optional?: boolean;
    };

type Req = IncomingMessage & { auth?: AuthContext; user?: unknown };
type Next = (err?: unknown) => void;

/** What a caller must have, as `isAuthorized` checks it; every part that is given must pass. */
export interface Need {
  roles?: readonly string[];
  scopes?: readonly string[];
  permission?: PermissionNeed;
}

const KNOWN_KEYS = new Set(['roles', 'scopes', 'permission', 'optional']);
const usage = "pass nothing, an array of roles (['admin']) or { roles?: string[], scopes?: string[], permission?: string, optional?: boolean }";

/**
 * Fails closed at setup: a guard that silently ignored a typo (`role`) or a bare string would let
 * every signed-in caller through the route it was meant to protect; one naming an operation that
 * `permissions` does not declare could never let anyone through.
 */
function normalise(options: RequireAuthOptions | undefined, permissions: Permissions): Need & { optional: boolean } {
  if (options === undefined) return { optional: false };
  if (typeof options === 'string') {
    const given: unknown = options; // not allowed by the type, but JavaScript callers pass it
    const role = String(given);
    throw new TypeError(`express-authlib: requireAuth('${role}'): roles must be an array; write requireAuth(['${role}'])`);
  }
  const o = Array.isArray(options) ? { roles: options } : options;
  if (o === null || typeof o !== 'object') throw new TypeError(`express-authlib: requireAuth(options): ${usage}`);
  for (const key of Object.keys(o)) {
    if (KNOWN_KEYS.has(key)) continue;
    const hint =
      key === 'role'
        ? "; did you mean `roles: ['...']`?"
        : key === 'scope'
          ? "; did you mean `scopes: ['...']`?"
          : key === 'permissions' || key === 'operation'
            ? "; did you mean `permission: '...'`?"
            : '';
    throw new TypeError(`express-authlib: requireAuth(options): unknown option \`${key}\`${hint} (${usage})`);
  }
  const list = (value: unknown, name: string): string[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
      const example = typeof value === 'string' ? `['${value}']` : "['...']";
      throw new TypeError(`express-authlib: requireAuth(options): \`${name}\` must be an array of strings, e.g. { ${name}: ${example} }`);
    }
    return [...value];
  };
  if (o.optional !== undefined && typeof o.optional !== 'boolean')
    throw new TypeError('express-authlib: requireAuth(options): `optional` must be true or false');
  const need: Need & { optional: boolean } = { roles: list(o.roles, 'roles'), scopes: list(o.scopes, 'scopes'), optional: o.optional === true };
  if (o.permission !== undefined) need.permission = knownPermission(o.permission, permissions);
  return need;
}

function knownPermission(permission: unknown, permissions: Permissions): PermissionNeed {
  if (typeof permission !== 'string' || permission.length === 0) {
    const example = Array.isArray(permission) && typeof permission[0] === 'string' ? `'${permission[0]}'` : "'reports:read'";
    throw new TypeError(`express-authlib: requireAuth(options): \`permission\` must be one operation name, e.g. { permission: ${example} }`);
  }
  if (!permissions.has(permission)) {
    throw new TypeError(
      `express-authlib: requireAuth({ permission: '${permission}' }): no such operation; declare it in the \`permissions\` option, e.g. { '${permission}': ['editor'] }`,
    );
  }
  return permissionNeed(permissions, permission);
}

/**
 * Whether requireAuth was handed (req, res, next) instead of options: `app.get('/x', auth.requireAuth, h)`,
 * the guard passed without being called. A request is told apart from options by its headers and method.
 */
export function isMiddlewareCall(args: unknown[]): boolean {
  const [req, , next] = args;
  return (
    args.length === 3 &&
    typeof next === 'function' &&
    typeof req === 'object' &&
    req !== null &&
    typeof (req as IncomingMessage).method === 'string' &&
    typeof (req as IncomingMessage).headers === 'object'
  );
}

/** Whether an authenticated caller may pass the given role, scope and permission requirements. */
export function isAuthorized(auth: AuthContext, need: Need): boolean {
  const roles = need.roles ?? [];
  const scopes = need.scopes ?? [];
  if (roles.length > 0 && !roles.some((r) => auth.roles.includes(r))) return false;
  if (scopes.length > 0 && auth.method === 'api_token' && !scopes.every((s) => auth.scopes.includes(s))) return false;
  if (need.permission && !isPermitted(need.permission, auth.roles, auth.scopes)) return false;
  return true;
}

/**
 * Builds the guard middleware. Rejections are written as the JSON error body directly, so they
 * reach the client even in an app without an error handler; only unexpected errors go to next(err).
 */
export function createRequireAuth(
  authenticator: Authenticator,
  logger: Logger,
  failures: TokenFailureLimiter | undefined,
  permissions: Permissions,
  options?: RequireAuthOptions,
  allowMfaSetup = false,
) {
  const need = normalise(options, permissions);

  return function requireAuth(req: Req, res: ServerResponse, next: Next): void {
    const token = readCredentials(req);
    if (token === undefined) {
      if (need.optional) return next();
      return sendError(res, new AuthenticationError('unauthorized', 'authentication required'), logger);
    }
    const wait = failures?.retryAfter(req) ?? 0;
    if (wait > 0) return sendError(res, new RateLimitError(wait, 'token', failures?.rule), logger);
    const admit = (auth: AuthContext): void => {
      if (!isAuthorized(auth, need)) return sendError(res, new ForbiddenError(), logger);
      req.auth = auth;
      req.user = auth.user;
      next();
    };
    const refuse = (err: unknown): void => {
      if (!(err instanceof AuthError)) return next(err);
      if (err.status === 401) failures?.failed(req);
      sendError(res, err, logger);
    };
    // Everything in memory (a known user's access JWT): decided now, without a promise.
    let known: AuthContext | undefined;
    try {
      known = authenticator.authenticateNow(token, allowMfaSetup);
    } catch (err) {
      return refuse(err);
    }
    if (known) return admit(known);
    authenticator.authenticate(token, allowMfaSetup).then(admit, refuse);
  };
}
