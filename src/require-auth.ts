import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthError, AuthenticationError, ForbiddenError, NotFoundError, RateLimitError } from './errors.js';
import { readCredentials } from './http/credentials.js';
import { sendError } from './http/respond.js';
import type { Logger } from './logger.js';
import type { AuthContext, Authenticator } from './services/authenticator.js';
import { isPermitted, permissionNeed, type PermissionNeed, type Permissions } from './security/permissions.js';
import type { GroupEntry } from './security/group-directory.js';
import { hasGroupRole, standingIn } from './security/group-standing.js';
import type { TokenFailureLimiter } from './security/token-failures.js';

/** A request as a group function sees it: Express's, or any with route `params`. */
export interface GuardedRequest extends IncomingMessage {
  params?: any;

  query?: any;
  auth?: AuthContext;
}

/**
 * Reads the group's id or slug from a request. Declared as a method so that a function written
 * for Express's own Request type (which has more than GuardedRequest) is accepted too.
 */
export type GroupOfRequest = { group(req: GuardedRequest): unknown }['group'];

/** What `requireAuth` accepts: nothing, a list of roles, or an options object. */
export type RequireAuthOptions =
  | string[]
  | {
      /** The caller needs at least one of these roles (exact match against the effective roles). */
      roles?: string[];
      /** An API-token caller needs every one of these scopes; access JWTs are not scope-limited. */
      scopes?: string[];
      /**
       * An operation of the `permissions` option. Alone: an effective (site) role must grant it, an
       * API token must carry it (or `*`) among its scopes, and service keys are refused. With
       * `group`: the caller's roles in that group grant it (a service key's scopes there).
       */
      permission?: string;
      /** Let anonymous callers through (a token that is sent must still be valid). @default false */
      optional?: boolean;
      /**
       * The caller must belong to this group (id or slug), directly or through a descendant, or
       * administer it from above; a function reads it from the request, e.g. `(req) => req.params.org`.
       * 404 `not_found` for a group the caller cannot see.
       */
      group?: string | GroupOfRequest;
      /** With `group`: the caller needs one of these roles inside the group (403 `forbidden` otherwise). */
      groupRoles?: string[];
      /** Let service keys through a guard that names neither `group` nor `permission`. @default false */
      allowServiceKeys?: boolean;
      /** The caller's user must have a verified email (403 `email_not_verified` otherwise; a service key has no user and passes). @default false */
      emailVerified?: boolean;
    };

/** A group reference longer than this names no group (ids are 36 characters, slugs 63). */
const MAX_GROUP_REF = 100;

type Req = IncomingMessage & { auth?: AuthContext; user?: unknown };
type Next = (err?: unknown) => void;

/** What a caller must have, as `isAuthorized` checks it; every part that is given must pass. */
export interface Need {
  roles?: readonly string[];
  scopes?: readonly string[];
  permission?: PermissionNeed;
  /** Whether a service key may pass without `group` or `permission` naming what it is for. */
  allowServiceKeys?: boolean;
  /** Set when the guard names a group (its checks are `standingIn`'s, made before these). */
  group?: unknown;
  /** Whether the caller's user must have a verified email. */
  emailVerified?: boolean;
}

const KNOWN_KEYS = new Set(['roles', 'scopes', 'permission', 'optional', 'group', 'groupRoles', 'allowServiceKeys', 'emailVerified']);
const usage =
  "pass nothing, an array of roles (['admin']) or { roles?, scopes?, permission?, group?, groupRoles?, allowServiceKeys?, emailVerified?, optional? }";

/** What normalise makes of the options. */
interface Guarding extends Need {
  optional: boolean;
  group?: string | GroupOfRequest;
  groupRoles: readonly string[];
}

/**
 * Fails closed at setup: a guard that silently ignored a typo (`role`) or a bare string would let
 * every signed-in caller through the route it was meant to protect; one naming an operation that
 * `permissions` does not declare could never let anyone through.
 */
function normalise(options: RequireAuthOptions | undefined, permissions: Permissions): Guarding {
  if (options === undefined) return { optional: false, groupRoles: [] };
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
  if (o.allowServiceKeys !== undefined && typeof o.allowServiceKeys !== 'boolean')
    throw new TypeError('express-authlib: requireAuth(options): `allowServiceKeys` must be true or false');
  if (o.emailVerified !== undefined && typeof o.emailVerified !== 'boolean')
    throw new TypeError('express-authlib: requireAuth(options): `emailVerified` must be true or false');
  const need: Guarding = {
    roles: list(o.roles, 'roles'),
    scopes: list(o.scopes, 'scopes'),
    optional: o.optional === true,
    allowServiceKeys: o.allowServiceKeys === true,
    emailVerified: o.emailVerified === true,
    groupRoles: list(o.groupRoles, 'groupRoles'),
  };
  if (o.permission !== undefined) need.permission = knownPermission(o.permission, permissions);
  if (o.group !== undefined) {
    if (!(typeof o.group === 'function' || (typeof o.group === 'string' && o.group.length > 0)))
      throw new TypeError(
        "express-authlib: requireAuth(options): `group` must be a group's id or slug, or a function of the request, e.g. { group: (req) => req.params.org }",
      );
    need.group = o.group;
  } else if (need.groupRoles.length > 0) {
    throw new TypeError("express-authlib: requireAuth(options): `groupRoles` needs `group`, e.g. { group: (req) => req.params.org, groupRoles: ['admin'] }");
  }
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

/**
 * Whether an authenticated caller may pass the given role, scope and permission requirements.
 * `groupStanding`: the caller's roles in the group the guard names (standingIn), when it names one.
 * - A permission with a group is granted by the caller's roles in that group (a service key's
 *   scopes there), without one by the caller's effective (site) roles; a user's API token must
 *   also carry the operation (or `*`).
 * - A service key holds no site roles and no site permission: it passes only a guard that names
 *   a group, or one that admits keys outright (`allowServiceKeys`) and asks for no permission.
 */
export function isAuthorized(auth: AuthContext, need: Need, groupStanding?: readonly string[]): boolean {
  const roles = need.roles ?? [];
  const scopes = need.scopes ?? [];
  if (roles.length > 0 && !roles.some((r) => auth.roles.includes(r))) return false;
  if (scopes.length > 0 && auth.method !== 'jwt' && !scopes.every((s) => auth.scopes.includes(s))) return false;
  const inGroup = need.group !== undefined;
  if (auth.method === 'service_key') {
    if (!inGroup) return need.allowServiceKeys === true && need.permission === undefined;
    // A key's scopes are its roles in its group, not operations it carries.
    return !need.permission || (groupStanding ?? []).some((role) => need.permission!.grantedBy.has(role));
  }
  if (need.permission && !isPermitted(need.permission, inGroup ? (groupStanding ?? []) : auth.roles, auth.scopes)) return false;
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

  // Defined once per guard, not per request: the usual request (a known user's access JWT) is
  // decided synchronously and allocates no closure.
  const pass = (req: Req, res: ServerResponse, next: Next, auth: AuthContext, standing?: readonly string[]): void => {
    if (!isAuthorized(auth, need, standing)) return sendError(res, new ForbiddenError(), logger);
    if (need.emailVerified && auth.method !== 'service_key' && !auth.user.email_verified)
      return sendError(res, new ForbiddenError('email_not_verified', 'verify your email address first'), logger);
    req.auth = auth;
    req.user = auth.user;
    next();
  };
  // A guard naming a group decides membership first (404 tells nothing about the group), from
  // memory when the group was seen in the last 30 s.
  const inGroup = (req: Req, res: ServerResponse, next: Next, auth: AuthContext, group: GroupEntry | undefined): void => {
    const standing = group && standingIn(auth, group, authenticator.adminRole);
    if (!standing) return sendError(res, new NotFoundError('group not found'), logger);
    if (!hasGroupRole(standing, need.groupRoles)) return sendError(res, new ForbiddenError('forbidden', 'this needs another role in the group'), logger);
    pass(req, res, next, auth, standing);
  };
  const refuse = (req: Req, res: ServerResponse, next: Next, err: unknown): void => {
    if (!(err instanceof AuthError)) return next(err);
    if (err.status === 401) failures?.failed(req);
    sendError(res, err, logger);
  };
  const admit = (req: Req, res: ServerResponse, next: Next, auth: AuthContext): void => {
    if (need.group === undefined) return pass(req, res, next, auth);
    let ref: unknown;
    try {
      ref = typeof need.group === 'function' ? need.group(req) : need.group;
    } catch (err) {
      return next(err);
    }
    if (typeof ref !== 'string' || ref.length === 0 || ref.length > MAX_GROUP_REF) return sendError(res, new NotFoundError('group not found'), logger);
    const known = authenticator.groups.peek(ref);
    if (known) return inGroup(req, res, next, auth, known);
    authenticator.groups.get(ref).then(
      (group) => inGroup(req, res, next, auth, group),
      (err: unknown) => refuse(req, res, next, err),
    );
  };

  return function requireAuth(req: Req, res: ServerResponse, next: Next): void {
    const token = readCredentials(req);
    if (token === undefined) {
      if (need.optional) return next();
      return sendError(res, new AuthenticationError('unauthorized', 'authentication required'), logger);
    }
    const wait = failures?.retryAfter(req) ?? 0;
    if (wait > 0) return sendError(res, new RateLimitError(wait, 'token', failures?.rule), logger);
    // Everything in memory (a known user's access JWT): decided now, without a promise.
    let known: AuthContext | undefined;
    try {
      known = authenticator.authenticateNow(token, allowMfaSetup);
    } catch (err) {
      return refuse(req, res, next, err);
    }
    if (known) return admit(req, res, next, known);
    authenticator.authenticate(token, allowMfaSetup).then(
      (auth) => admit(req, res, next, auth),
      (err: unknown) => refuse(req, res, next, err),
    );
  };
}
