import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthError, AuthenticationError, ForbiddenError, InternalError, NotFoundError } from './errors.js';
import { BackgroundTasks } from './background-tasks.js';
import { DatabaseGate } from './db/database-gate.js';
import { findLineage } from './db/groups-repository.js';
import { GroupDirectory } from './security/group-directory.js';
import type { GroupRef } from './security/group-memberships.js';
import { hasGroupRole, standingIn } from './security/group-standing.js';
import { createRouter } from './http/create-router.js';
import { buildOpenApiDocument, type OpenApiDocument } from './http/openapi/document.js';
import { tokenDelivery } from './http/token-delivery.js';
import { DEFAULT_HASHER, resolveOptions, type AuthManagerOptions, type ResolvedOptions } from './options.js';
import type { PasswordHasher } from './passwords/hasher.js';
import { createRequireAuth, isAuthorized, isMiddlewareCall, type RequireAuthOptions } from './require-auth.js';
import { permissionNeed, type Permissions } from './security/permissions.js';
import { createCounter } from './security/rate-limit.js';
import { routeLimiters } from './http/route-limiters.js';
import { SecondFactorLimit } from './security/second-factor-limit.js';
import { appSetting, clientIpResolver, everyHopWarning } from './security/client-ip.js';
import { Revocation } from './security/revocation.js';
import { Audit } from './security/audit.js';
import { loginThrottle } from './security/login-throttle.js';
import { TokenFailureLimiter } from './security/token-failures.js';
import { ApiTokenService } from './services/api-tokens.js';
import { Authenticator, type AuthContext } from './services/authenticator.js';
import type { GuardContext, GuardOptions, GuardResult } from './guard-options.js';
import { readCredentials } from './http/credentials.js';
import { resealLegacySecrets } from './security/reseal-secrets.js';
import { MAX_IMPERSONATION_SECONDS } from './tokens/access-token.js';
import { browserCookie } from './oauth/browser-cookie.js';
import { IdentityService } from './services/identities.js';
import { IntegrationService } from './services/integrations.js';
import { OAuthService } from './services/oauth.js';
import { SessionService, type TokenPair } from './services/sessions.js';
import { RoleService } from './services/roles.js';
import { UserService } from './services/users.js';
import { UserAdminService } from './services/user-admin.js';
import { LimitResetService } from './services/limit-resets.js';
import { EventService } from './services/events.js';
import { ImpersonationService, type Impersonation } from './services/impersonation.js';
import { AccountLifecycleService } from './services/account-lifecycle.js';
import { MfaChallenges } from './services/mfa-challenges.js';
import { MfaService } from './services/mfa.js';
import { OneTimeTokens } from './services/one-time-tokens.js';
import { OtpService } from './services/otp.js';
import { PasskeyChallenges } from './services/passkey-challenges.js';
import { PasskeySignIn } from './services/passkey-sign-in.js';
import { PasskeyService } from './services/passkeys.js';
import { MailDispatcher } from './mail/mailer.js';
import { createErrorHandler, type ErrorHandler, type ErrorHandlerOptions } from './http/error-handler.js';
import { identityKey } from './identity-key.js';
import { normalizeId } from './id-shape.js';
import { groupsApi, type Groups } from './groups-api.js';
import { GroupAccess } from './services/group-access.js';
import { GroupService } from './services/groups.js';
import { GroupMemberService } from './services/group-members.js';
import { GroupInvitationService } from './services/group-invitations.js';
import { ServiceKeyService } from './services/service-keys.js';
import { sha256 } from './tokens/secrets.js';
import { UserSessionService, type Session } from './services/user-sessions.js';
import { Introspector, type IntrospectionResult } from './services/introspection.js';
import { IntrospectionClients } from './security/introspection-clients.js';
import { jwksOf, type Jwks } from './tokens/jwks.js';
import { JWKS_PATH, rootJwksMiddleware } from './http/jwks-route.js';
import { RequestsUnderWay } from './requests-under-way.js';

/** Anything with `use(path, middleware)`: an Express 4/5 app or a Connect app. */
export interface MountTarget {
  use(path: string, handler: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void): unknown;
}

/** A plain (req, res, next) middleware. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * `auth.requireAuth`: called, it builds a guard; passed uncalled as middleware
 * (`app.get('/x', auth.requireAuth, handler)`), it acts as `requireAuth()`.
 */
export interface RequireAuth {
  /** Guard middleware: any authenticated caller, or one with any of `roles` / every API-token scope in `scopes` / the `permission`. */
  (options?: RequireAuthOptions): Middleware;
  /** The guard itself, for `app.use(auth.requireAuth)`: the same as `requireAuth()`. */
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
}

export type { GuardContext, GuardOptions, GuardResult } from './guard-options.js';
/**
 * `auth.users`: user management with the same rules as the HTTP endpoints (the last active admin
 * keeps the admin role, stays active and is not deleted).
 */
export type Users = Pick<UserService, 'create' | 'findById' | 'findByIdentifier' | 'setRoles' | 'setActive' | 'setPassword'> &
  Pick<UserAdminService, 'list' | 'detail' | 'update' | 'delete' | 'verifyEmail'> &
  Pick<LimitResetService, 'unlock'> & {
    /** An access token for `userId` with `imp: adminId`, no refresh token; `duration` seconds, default 900, at most 3600. */
    impersonate(adminId: string, userId: string, options?: { duration?: number }): Promise<Impersonation>;
  };
/** `auth.rateLimits`: clears stored rate-limit counters and lockouts of an address, an account, or all. */
export type RateLimits = Pick<LimitResetService, 'reset'>;
/** `auth.roles`: list with holder counts, create, delete (409 while held, or for the admin and default roles). */
export type Roles = Pick<RoleService, 'list' | 'create' | 'delete'>;
/** `auth.events`: the audit trail, newest first. */
export type Events = Pick<EventService, 'list'>;
/** `auth.apiTokens`: per-user API tokens. */
export type ApiTokens = Pick<ApiTokenService, 'create' | 'list' | 'revoke'>;
/**
 * `auth.integrations`: credentials a user keeps for other services, stored encrypted with `set`,
 * plus the provider accounts linked by OAuth (read-only here: `get` returns their tokens).
 */
export type Integrations = Pick<IntegrationService, 'set' | 'get' | 'list' | 'has' | 'delete'>;
/**
 * `auth.passkeys`: a user's passkeys, listed, renamed and removed with the same rules as the
 * endpoints (the last way to sign in stays). Registering one takes a browser: the endpoints.
 */
export type Passkeys = Pick<PasskeyService, 'list' | 'rename' | 'remove'>;
/** `auth.sessions`: a user's logins that are still going, and ending one on every instance. */
export interface Sessions {
  /** The user's live logins, most recently used first (`current` is false: no request is asking). 404 for an unknown user. */
  list(userId: string): Promise<Session[]>;
  /** Ends one login of the user: its refresh and access tokens stop working on every instance. 404 when it is not a live login of theirs. */
  revoke(userId: string, sessionId: string): Promise<void>;
}

/**
 * Authentication for an Express or Connect app: `/api/v1/users/*` endpoints, `requireAuth`
 * guards and a programmatic API, on PostgreSQL or embedded PGlite.
 */
export class AuthManager {
  /** The endpoints, as one middleware; mounted at `basePath` when an app was passed. */
  readonly router: Middleware;
  /** Resolves when the database is reachable and its schema current; rejects with an AuthError otherwise. */
  readonly ready: Promise<void>;
  /** User management. */
  readonly users: Users;
  /** Roles and how many users hold each. */
  readonly roles: Roles;
  /** The audit trail. */
  readonly events: Events;
  /** Rate-limit counters and lockouts kept in the database, for operators to clear. */
  readonly rateLimits: RateLimits;
  /** Per-user API tokens. */
  readonly apiTokens: ApiTokens;
  /** Credentials for other services: stored ones and linked provider accounts, decrypted by `get`. */
  readonly integrations: Integrations;
  /** Groups, their members, hierarchy and service keys. */
  readonly groups: Groups;
  /** Users' passkeys: list, rename, remove. */
  readonly passkeys: Passkeys;
  /** Each user's logins (one per sign-in): list them, end one. */
  readonly sessions: Sessions;
  /** Guard middleware factory; see {@link RequireAuth}. A bound function, so it can be passed around. */
  readonly requireAuth: RequireAuth;

  readonly #database: DatabaseGate;
  readonly #revocation: Revocation;
  readonly #tokenFailures: TokenFailureLimiter | undefined;
  readonly #hasher: PasswordHasher;
  readonly #ownsHasher: boolean;
  readonly #sessions: SessionService;
  readonly #authenticator: Authenticator;
  readonly #permissions: Permissions;
  readonly #logger;
  readonly #background = new BackgroundTasks();
  readonly #requests = new RequestsUnderWay();
  readonly #basePath: string;
  readonly #introspector: Introspector;
  readonly #signingKeys: ResolvedOptions['signingKeys'];
  #closing = false;
  /** The one close (see close()). */
  #closed: Promise<void> | undefined;

  constructor(app: MountTarget | null, options: AuthManagerOptions) {
    if (app !== null && typeof app !== 'function' && typeof app !== 'object') {
      throw new TypeError('express-authlib: new AuthManager(app, options): app must be an Express/Connect app or null');
    }
    if (app !== null && typeof app.use !== 'function')
      throw new TypeError('express-authlib: app must have a use() method (an Express or Connect app), or be null');
    const opts = resolveOptions(options);
    this.#logger = opts.logger;
    this.#basePath = opts.basePath;
    this.#signingKeys = opts.signingKeys;
    if (opts.jwksAtRoot && app === null)
      throw new TypeError('express-authlib: option `jwksAtRoot` needs an app to mount on; without one, serve auth.jwks() at /.well-known/jwks.json yourself');
    this.#ownsHasher = opts.hasher === undefined;
    this.#hasher = opts.hasher ?? DEFAULT_HASHER(opts.bcryptRounds);

    // A revoked login is remembered as long as any access token bound to it can live: an
    // impersonation token (bound to the admin's login) may outlive `tokenExpiry`.
    const horizon = Math.max(opts.tokenExpiry, MAX_IMPERSONATION_SECONDS);
    const revocation = new Revocation(() => this.#database.db(), opts.now, horizon, opts.dbSchema, this.#logger);
    this.#revocation = revocation;
    // Before anything reads a secret: stored secrets in the old format are sealed again, bound to their rows.
    this.#database = new DatabaseGate(opts, this.#logger, async (connection) => {
      await resealLegacySecrets(connection.db, opts.encryptionKey, this.#logger);
      await revocation.start(connection);
    });
    // Trusting every proxy hop lets any client choose its address, which the login limits lean on.
    const warnEveryHop = everyHopWarning(this.#logger);
    warnEveryHop(opts.trustProxy);
    const clientIp = clientIpResolver(opts.trustProxy, this.#logger, warnEveryHop);
    const audit = new Audit(this.#database, this.#logger, opts.now, opts.onEvent);
    const throttle = opts.rateLimit === false ? undefined : loginThrottle(opts.rateLimit, this.#database, opts.now);
    this.#tokenFailures =
      opts.rateLimit === false ? undefined : new TokenFailureLimiter(opts.rateLimit, this.#database, clientIp, opts.now, this.#logger, this.#background);
    const mailer =
      opts.mailer &&
      new MailDispatcher(
        opts.mailer,
        { emailLinks: opts.emailLinks, mailTemplates: opts.mailTemplates, appName: opts.appName, now: opts.now },
        { logger: this.#logger, audit, background: this.#background },
      );
    const ctx = {
      opts,
      database: this.#database,
      hasher: this.#hasher,
      revocation,
      logger: this.#logger,
      audit,
      throttle,
      secondFactors: new SecondFactorLimit(opts.now, opts.rateLimit !== false),
      background: this.#background,
      mailer,
    };
    const users = new UserService(ctx);
    const apiTokens = new ApiTokenService(ctx);
    const identities = new IdentityService(ctx);
    const userAdmin = new UserAdminService(ctx, users, identities);
    const impersonation = new ImpersonationService(ctx);
    const roles = new RoleService(ctx);
    const events = new EventService(ctx);
    const limitResets = new LimitResetService(ctx);
    // Methods bound one by one: `auth.users` is the user service and the admin operations as one surface.
    // Every id argument enters here: its one spelling (lower case) is what the services see.
    this.users = this.#requests.api({
      create: (input) => userAdmin.create(input),
      findById: (id) => users.findById(normalizeId(id)),
      findByIdentifier: (identifier) => users.findByIdentifier(identifier),
      setRoles: (id, list) => users.setRoles(normalizeId(id), list),
      setActive: (id, active) => users.setActive(normalizeId(id), active),
      setPassword: (id, password) => users.setPassword(normalizeId(id), password),
      list: (input) => userAdmin.list(input),
      detail: (id) => userAdmin.detail(normalizeId(id)),
      update: (id, patch) => userAdmin.update(normalizeId(id), patch),
      delete: (id) => userAdmin.delete(normalizeId(id)),
      verifyEmail: (id, options) => userAdmin.verifyEmail(normalizeId(id), options),
      unlock: (id) => limitResets.unlock(normalizeId(id)),
      impersonate: (adminId, userId, options) => impersonation.impersonate(normalizeId(adminId), normalizeId(userId), options),
    } satisfies Users);
    this.roles = this.#requests.api({ list: () => roles.list(), create: (name) => roles.create(name), delete: (name) => roles.delete(name) } satisfies Roles);
    this.events = this.#requests.api({ list: (input) => events.list(input) } satisfies Events);
    this.rateLimits = this.#requests.api({ reset: (target) => limitResets.reset(target) } satisfies RateLimits);
    // API-token ids are base62 and case-sensitive: only the user id has a canonical spelling.
    this.apiTokens = this.#requests.api({
      create: (userId, input, origin, minter) => apiTokens.create(normalizeId(userId), input, origin, minter),
      list: (userId) => apiTokens.list(normalizeId(userId)),
      revoke: (userId, tokenId, origin) => apiTokens.revoke(normalizeId(userId), tokenId, origin),
    } satisfies ApiTokens);
    const groupAccess = new GroupAccess(ctx);
    const groups = new GroupService(ctx, groupAccess);
    const groupMembers = new GroupMemberService(ctx, groupAccess);
    const serviceKeys = new ServiceKeyService(groupAccess, apiTokens, opts.adminRole);
    // Invitation mails per target address, keyed by a hash so the counters hold no addresses.
    const invitationMail = createCounter('invitationMail', opts.rateLimit, this.#database, opts.now);
    const invitations = new GroupInvitationService(ctx, groupAccess, (to) => invitationMail(sha256(identityKey(to))));
    this.groups = this.#requests.api(groupsApi({ groups, members: groupMembers, invitations, serviceKeys, users, adminRole: opts.adminRole }));
    const oneTimeTokens = new OneTimeTokens(opts.now);
    const challenges = new MfaChallenges(ctx, oneTimeTokens);
    this.#sessions = new SessionService(ctx, challenges);
    const lifecycle = new AccountLifecycleService(ctx, oneTimeTokens);
    const otp = new OtpService(ctx, lifecycle, this.#sessions, oneTimeTokens, challenges);
    const mfa = new MfaService(ctx, challenges, this.#sessions);
    const oauth = new OAuthService(ctx, this.#sessions);
    const passkeyChallenges = new PasskeyChallenges(ctx, oneTimeTokens);
    const passkeys = new PasskeyService(ctx, passkeyChallenges);
    const passkeySignIn = new PasskeySignIn(ctx, passkeys, passkeyChallenges, this.#sessions, challenges);
    this.passkeys = this.#requests.api({
      list: (userId) => passkeys.list(normalizeId(userId)),
      rename: (userId, passkeyId, name, origin) => passkeys.rename(normalizeId(userId), normalizeId(passkeyId), name, origin),
      remove: (userId, passkeyId, origin) => passkeys.remove(normalizeId(userId), normalizeId(passkeyId), origin),
    } satisfies Passkeys);
    const integrations = new IntegrationService(ctx, identities);
    this.integrations = this.#requests.api({
      set: (userId, connector, input, origin) => integrations.set(normalizeId(userId), connector, input, origin),
      get: (userId, connector) => integrations.get(normalizeId(userId), connector),
      list: (userId) => integrations.list(normalizeId(userId)),
      has: (userId, connector) => integrations.has(normalizeId(userId), connector),
      delete: (userId, connector, origin) => integrations.delete(normalizeId(userId), connector, origin),
    } satisfies Integrations);
    // Guards that name a group, and service keys, find groups here; memberships come with each cached user.
    const directory = new GroupDirectory((idOrSlug) => this.#database.run((db) => findLineage(db, idOrSlug)));
    revocation.onGroupsChanged(() => directory.clear());
    revocation.loadMembershipsWith(groupMembers.membershipView);
    this.#authenticator = new Authenticator(opts, revocation, apiTokens, directory);
    this.#permissions = opts.permissions;
    this.requireAuth = this.#requireAuthFactory();
    const userSessions = new UserSessionService(ctx);
    this.sessions = this.#requests.api({
      list: (userId) => userSessions.list(normalizeId(userId)),
      revoke: (userId, sessionId) => userSessions.revoke(normalizeId(userId), normalizeId(sessionId)),
    } satisfies Sessions);
    this.#introspector = new Introspector(opts, this.#authenticator, apiTokens, revocation);

    // OIDC providers are discovered at start-up; a failed discovery rejects `ready` and is retried on use.
    const constructed = performance.now();
    this.ready = Promise.all([this.#database.ready, oauth.ready()]).then(() => {
      // One line with the time it took, so an operator sees the start end (and what it costs).
      if (this.#closing) return;
      // By now the host app has usually made its settings; one made later is caught per request.
      if (opts.trustProxy === undefined) warnEveryHop(appSetting(app, 'trust proxy fn'));
      const ms = Math.round(performance.now() - constructed);
      this.#logger.info({ ms }, `express-authlib: ready in ${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);
    });
    // Handles the rejection (an app that never awaits `ready` must not crash on it) and says it
    // once: with the default logger a failed start is one line on stderr, not a silent 503 later.
    this.ready.catch((err: unknown) => {
      const e = err as { code?: unknown; message?: unknown };
      this.#logger.error({ code: e?.code }, `express-authlib: start-up failed: ${String(e?.message ?? err)}`);
    });

    const router = createRouter({
      users,
      sessions: this.#sessions,
      apiTokens,
      oauth,
      roles,
      identities,
      integrations,
      userAdmin,
      events,
      impersonation,
      groups,
      groupMembers,
      invitations,
      serviceKeys,
      cookie: browserCookie(opts.publicUrl ?? 'http://localhost'),
      tokens: tokenDelivery(opts, this.#logger),
      allowRegistration: opts.allowRegistration,
      requireEmailVerification: opts.requireEmailVerification,
      audit,
      clientIp,
      adminRole: opts.adminRole,
      authenticate: this.requireAuth(),
      authenticateIfPresent: this.requireAuth({ optional: true }),
      sessionOf: (req) => this.#authenticator.sessionOf(readCredentials(req)),
      userSessions,
      introspector: this.#introspector,
      introspectionClients: new IntrospectionClients(opts.introspection.clients),
      verifyBearer: (token) => this.#authenticator.authenticate(token),
      tokenFailures: this.#tokenFailures,
      authenticateForSetup: createRequireAuth(this.#authenticator, this.#logger, this.#tokenFailures, opts.permissions, undefined, true),
      afterRegister: (userId, origin) => (opts.requireEmailVerification ? lifecycle.sendVerificationAfterRegister(userId, origin) : Promise.resolve()),
      lifecycle,
      otp,
      otpEnabled: otp.enabled,
      passkeyEnabled: passkeys.enabled,
      mfa,
      passkeys,
      passkeySignIn,
      limit: routeLimiters(opts.rateLimit, { store: this.#database, clientIp, now: opts.now }),
      logger: this.#logger,
      openapi: opts.openapi ? this.openapi() : undefined,
      jwks: opts.signingKeys.length > 0 ? this.jwks() : undefined,
    });
    this.router = this.#requests.guard(router, this.#logger);
    if (app) app.use(opts.basePath, this.router);
    if (app && opts.jwksAtRoot) app.use(JWKS_PATH, rootJwksMiddleware(this.jwks()));
  }

  #requireAuthFactory(): RequireAuth {
    const build = (options?: RequireAuthOptions) => createRequireAuth(this.#authenticator, this.#logger, this.#tokenFailures, this.#permissions, options);
    let anyCaller: Middleware | undefined;
    return ((...args: unknown[]) => {
      if (isMiddlewareCall(args)) {
        anyCaller ??= build();
        return anyCaller(...(args as Parameters<Middleware>));
      }
      if (args.length > 1)
        throw new TypeError("express-authlib: requireAuth takes one argument: requireAuth(['admin', 'editor']) or requireAuth({ roles: [...] })");
      return build(args[0] as RequireAuthOptions | undefined);
    }) as RequireAuth;
  }

  /**
   * An error middleware for the app's own routes, mounted last (`app.use(auth.errorHandler())`):
   * an `AuthError` thrown or passed to `next` (`throw new ForbiddenError('not your note')`) is
   * answered in the library's format, `{error, code, status_code}` with the same headers; any
   * other error is a bare 500 `internal_error`, or with `{ others: 'next' }` goes on to the next
   * error handler.
   */
  errorHandler(options?: ErrorHandlerOptions): ErrorHandler {
    if (arguments.length > 1) throw new TypeError('express-authlib: errorHandler is a factory: app.use(auth.errorHandler()), not app.use(auth.errorHandler)');
    return createErrorHandler(this.#logger, options);
  }

  /**
   * The OpenAPI 3.1 document of the router's endpoints (servers: `basePath`), a fresh object on each
   * call, to merge into the app's own; served at `GET {basePath}/openapi.json` with `openapi: true`.
   */
  openapi(): OpenApiDocument {
    return buildOpenApiDocument(this.#basePath);
  }

  /**
   * The public keys of `signingKeys` as a JSON Web Key Set (`{keys: [...]}`, the signing key first),
   * as served at `GET {basePath}/.well-known/jwks.json`; `{keys: []}` without signing keys.
   */
  jwks(): Jwks {
    return jwksOf(this.#signingKeys);
  }

  /**
   * RFC 7662 introspection of an access JWT or API token, as `POST {basePath}/introspect` answers
   * it: `{active: true, sub, username, scope, roles, exp, iat, iss, aud, token_type}` when
   * `requireAuth` would accept it now (on any instance), else `{active: false}`, never saying why.
   */
  introspect(token: string): Promise<IntrospectionResult> {
    return this.#requests.call(() => this.#introspector.introspect(token));
  }

  /** Verifies an access JWT or API token exactly as `requireAuth` does; throws an AuthError. */
  verifyToken(token: string): Promise<AuthContext> {
    return this.#requests.call(() => this.#authenticator.authenticate(token));
  }

  /** Like `requireAuth`, as a value: never throws. */
  async guard(token: string | undefined, need: GuardOptions = {}): Promise<GuardResult> {
    try {
      if (!token) throw new AuthenticationError('unauthorized', 'authentication required');
      const auth = await this.verifyToken(token);
      const { roles, scopes, operation, group, groupRoles } = need;
      // Unlike requireAuth (a TypeError at setup), an unknown or malformed operation is just never granted.
      const permission = operation === undefined ? undefined : permissionNeed(this.#permissions, typeof operation === 'string' ? operation : '');
      const named = typeof group === 'string' && group.length > 0 && group.length <= 100 ? await this.#authenticator.groups.get(group) : undefined;
      const standing = named && standingIn(auth, named, this.#authenticator.adminRole);
      // Malformed group options fail closed, as an unknown operation does.
      const wellFormed = groupRoles === undefined || (Array.isArray(groupRoles) && groupRoles.every((r) => typeof r === 'string'));
      const inGroup = group === undefined || (standing !== undefined && wellFormed && hasGroupRole(standing, groupRoles ?? []));
      const authorized = inGroup && isAuthorized(auth, { roles, scopes, permission, group }, standing);
      const organization = standing ? named : await this.#onlyOrganization(auth);
      const context: GuardContext = {
        user: auth.method === 'service_key' ? null : auth.user,
        groups: auth.groups,
        organization: organization ? { id: organization.id, slug: organization.slug, name: organization.name } : null,
      };
      const error = authorized ? null : standing === undefined && group !== undefined ? new NotFoundError('group not found') : new ForbiddenError();
      return { is_authenticated: true, is_authorized: authorized, auth, context, error };
    } catch (err) {
      const error = err instanceof AuthError ? err : new InternalError({ cause: err });
      return { is_authenticated: false, is_authorized: false, auth: null, context: null, error };
    }
  }

  /** The caller's organization when it is unambiguous: its only top-level group (a service key's group's root). */
  async #onlyOrganization(auth: AuthContext): Promise<GroupRef | undefined> {
    const roots =
      auth.method === 'service_key'
        ? ((await this.#authenticator.groups.get(auth.group!.id))?.roots ?? [])
        : (this.#revocation.peekUser(auth.user.id)?.memberships.topLevel ?? []);
    return roots.length === 1 ? roots[0] : undefined;
  }

  /** A fresh login for `userId`: `{ token, refresh_token }`. */
  issueTokens(userId: string): Promise<TokenPair> {
    return this.#requests.call(() => this.#sessions.issueTokens(normalizeId(userId)));
  }

  /**
   * Resolves once the work that outlives its request (deferred mail, a link issued after the
   * answer, counters) has finished: for subclasses that must not act while it still writes, such
   * as the test helper's `reset()`.
   */
  protected backgroundSettled(): Promise<void> {
    return this.#background.settled();
  }

  /**
   * Releases the listening connection, the database pool (when the library opened it) and the
   * password workers. Every call returns the one close: a SIGTERM handler and a test's teardown
   * may both call it, at once.
   */
  close(): Promise<void> {
    return (this.#closed ??= this.#close());
  }

  async #close(): Promise<void> {
    this.#closing = true;
    await this.#requests.finished();
    // Before or during `ready` too: the start under way finishes first (skipping the LISTEN it
    // would otherwise open afterwards), then everything it opened is released.
    // Work that outlives its request (mail, its audit events) may still need the database: it goes
    // first, within the same 10 s as the requests (a mail server that never answers must not hold it).
    await this.#requests.bounded(this.#background.settled());
    await this.#database.settle();
    await this.#requests.bounded(this.#background.settled());
    await this.#revocation.close();
    await this.#database.close();
    if (this.#ownsHasher) await this.#hasher.close?.();
  }
}
