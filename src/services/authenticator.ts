import { AuthenticationError, ForbiddenError, ServiceUnavailableError } from '../errors.js';
import { asServiceUnavailable, withoutStatement } from '../db/unavailable.js';
import type { User } from '../public-user.js';
import type { Revocation } from '../security/revocation.js';
import type { UserRecord } from '../db/users-repository.js';
import { verifyAccessToken, type AccessClaims } from '../tokens/access-token.js';
import { API_TOKEN_PREFIX } from '../tokens/api-token.js';
import type { ResolvedOptions } from '../options.js';
import { effectiveRolesOf } from '../security/role-implications.js';
import type { ApiTokenRow } from '../db/schema.js';
import type { GroupDirectory, GroupEntry } from '../security/group-directory.js';
import type { GroupMembership, GroupRef, MembershipView } from '../security/group-memberships.js';
import type { ApiTokenCheck, ApiTokenService } from './api-tokens.js';

/** Who is calling, as attached to `req.auth`. */
export interface AuthContext {
  /**
   * The calling user. For a service key (`method: 'service_key'`, which only guards with
   * `allowServiceKeys`, `group` or `permission` let through) it is `null`: no person is calling.
   * It is typed as a user so that the usual routes, which never see a service key, need no check.
   */
  user: User;
  /** The effective roles: the user's roles plus every role they imply (`roleImplications`); `[]` for a service key. */
  roles: string[];
  method: 'jwt' | 'api_token' | 'service_key';
  /** An API token's or service key's scopes; `['*']` for an access JWT, which is not scope-limited. */
  scopes: string[];
  /**
   * The groups the caller belongs to, directly or through a descendant, with its roles in each:
   * those granted there for a direct membership, none for an inherited one, `admin` where the caller
   * administers the group (frozen, shared by the user's requests). A service key belongs to its
   * group (its scopes as its roles) and, as a plain member, to the group's ancestors.
   */
  groups: readonly GroupMembership[];
  /** The group a service key acts for. */
  group?: GroupRef;
  token_id?: string;
  impersonator_id?: string;
}

/** Longer bearer values are rejected unread. */
export const MAX_TOKEN_LENGTH = 4096;

const invalid = (message = 'token is invalid or has been revoked') => new AuthenticationError('invalid_token', message);

/** Verified access tokens kept (the oldest goes first); each is re-checked for expiry and revocation on every use. */
export const VERIFIED_TOKEN_CACHE_MAX = 10_000;

/** A caller that passed, with the user row the MFA requirement is judged on (none for a service key). */
interface Checked {
  auth: AuthContext;
  record?: UserRecord;
}

const expired = () => new AuthenticationError('token_expired', 'token has expired');

/** Turns a bearer value (access JWT or API token) into an AuthContext, or throws an AuthError. */
export class Authenticator {
  /**
   * Access tokens whose signature and claims were verified, by the token itself: verifying costs
   * an HMAC and two JSON parses, looking up costs nothing. Only what cannot change is cached (the
   * claims); expiry, the session's revocation and the user's version and flag are checked on every
   * use, all in memory.
   */
  readonly #verified = new Map<string, AccessClaims>();
  /** Held roles -> effective roles, memoised by the cached user's frozen roles array (not expanded per request). */
  readonly #effectiveRoles: (held: readonly string[]) => string[];

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly revocation: Revocation,
    private readonly apiTokens: ApiTokenService,
    /** Groups by id or slug, for service keys and guards that name a group. */
    readonly groups: GroupDirectory,
  ) {
    this.#effectiveRoles = effectiveRolesOf(opts.roleImplications);
  }

  /** The role that makes a site admin (who acts as an admin of every group). */
  get adminRole(): string {
    return this.opts.adminRole;
  }

  /**
   * `allowMfaSetup`: let through a user whom `mfa.required` demands a second factor of and who has
   * none yet; everywhere else (the default) such a user gets 403 `mfa_setup_required`.
   */
  async authenticate(token: string, allowMfaSetup = false): Promise<AuthContext> {
    try {
      const known = this.#now(token) ?? (token.startsWith(API_TOKEN_PREFIX) ? await this.#apiToken(token) : await this.#jwt(token));
      return this.#mfaGate(known, allowMfaSetup);
    } catch (err) {
      // Whatever reached the database and found it gone answers 503, on the app's routes too.
      throw asServiceUnavailable(withoutStatement(err));
    }
  }

  /**
   * The same decision without waiting, when everything it needs is in memory (the usual case for
   * an access JWT of a user seen in the last 30 s): the AuthContext, or undefined when the database
   * must be asked. Throws the AuthError of a token it can already refuse.
   */
  authenticateNow(token: string, allowMfaSetup = false): AuthContext | undefined {
    const known = this.#now(token);
    return known && this.#mfaGate(known, allowMfaSetup);
  }

  #mfaGate({ auth, record }: Checked, allowMfaSetup: boolean): AuthContext {
    // The callback sees the effective roles (with roleImplications), so an admin by implication is held too.
    // A passkey counts as the second factor `mfa.required` asks for (when passkeys are configured).
    const secondFactor = record && (record.mfa_enabled || (record.has_passkey && this.opts.webauthn !== undefined));
    if (record && !allowMfaSetup && !secondFactor && this.opts.mfa.required?.({ ...auth.user, roles: auth.roles }) === true) {
      throw new ForbiddenError('mfa_setup_required', 'set up a second factor (POST /mfa/totp/setup, or a passkey) before doing anything else');
    }
    return auth;
  }

  #now(token: string): Checked | undefined {
    // A closed instance hears no revocations: its caches would still accept a revoked token.
    if (this.revocation.closed) throw new ServiceUnavailableError();
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid();
    if (token.startsWith(API_TOKEN_PREFIX)) {
      const checked = this.apiTokens.checkNow(token);
      if (!checked) return undefined;
      const row = this.#apiTokenRow(checked);
      if (row.group_id !== null) {
        const group = this.groups.peek(row.group_id);
        return group && { auth: serviceKeyContext(row, group) };
      }
      const entry = this.revocation.peekUser(row.user_id!);
      if (!entry) return undefined;
      const user = this.#activeOwner(entry.user);
      return { auth: this.#apiTokenContext(row, user, this.revocation.publicUser(entry, user), entry.memberships), record: user };
    }
    const claims = this.#claims(token);
    const entry = this.revocation.peekUser(claims.sub);
    if (!entry) return undefined;
    const user = this.#usable(claims, entry.user);
    if (claims.imp !== undefined) {
      const admin = this.revocation.peekUser(claims.imp);
      if (!admin) return undefined;
      this.#checkImpersonation(claims, user, admin.user);
      if (claims.imp_tid !== undefined) {
        const row = this.revocation.peekApiToken(claims.imp_tid);
        if (!row) return undefined;
        this.#checkImpersonatorToken(claims, this.apiTokens.isLive(row) ? row : undefined);
      }
    }
    return { auth: this.#jwtContext(claims, user, this.revocation.publicUser(entry, user), entry.memberships), record: user };
  }

  async #jwt(token: string): Promise<Checked> {
    const claims = this.#claims(token);
    // The user and their memberships from one read: peeking at the cache afterwards could find the
    // entry dropped meanwhile (another change announced) and judge the request with no groups.
    const entry = await this.revocation.cachedEntry(claims.sub);
    const user = this.#usable(claims, entry.user);
    if (claims.imp !== undefined) {
      this.#checkImpersonation(claims, user, await this.revocation.cachedUser(claims.imp));
      if (claims.imp_tid !== undefined) this.#checkImpersonatorToken(claims, await this.apiTokens.live(claims.imp_tid));
    }
    return { auth: this.#jwtContext(claims, user, this.revocation.publicUser(entry, user), entry.memberships), record: user };
  }

  /** Verified claims of an access token (from the cache, or verified now and cached), its session not revoked. */
  #claims(token: string): AccessClaims {
    let claims = this.#verified.get(token);
    if (claims) {
      // jsonwebtoken's rule: expired once the clock reaches `exp`.
      if (Math.floor(this.opts.now().getTime() / 1000) >= claims.exp) {
        this.#verified.delete(token);
        throw expired();
      }
    } else {
      const result = verifyAccessToken(this.opts, token);
      if (!result.ok) throw result.code === 'token_expired' ? expired() : invalid();
      claims = result.claims;
      if (this.#verified.size >= VERIFIED_TOKEN_CACHE_MAX) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(token, claims);
    }
    if (claims.sid !== undefined && this.revocation.isSessionRevoked(claims.sid)) throw invalid();
    if (claims.imp_sid !== undefined && this.revocation.isSessionRevoked(claims.imp_sid)) throw invalid();
    return claims;
  }

  /** The token's user, if its version is current and the account active. */
  #usable(claims: AccessClaims, user: UserRecord | undefined): UserRecord {
    if (!user || user.token_version !== claims.ver) throw invalid();
    if (!user.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
    return user;
  }

  /**
   * An impersonation lives only as long as the admin's standing it began under: it ends for good
   * once the admin's token version moves on (logout-all, a password change, a role change,
   * disabling; re-enabling or re-promoting moves it further, never back), the admin is deleted or
   * the admin's login ends (`imp_sid`, checked in #claims with the token's own session). It also
   * ends once the user's effective roles include the admin role (a user who implies admin is never
   * impersonated), which a role change or another `roleImplications` brings about.
   */
  #checkImpersonation(claims: AccessClaims, user: UserRecord, admin: UserRecord | undefined): void {
    if (!admin || !admin.is_active || admin.token_version !== claims.imp_ver || !admin.roles.includes(this.opts.adminRole)) throw invalid();
    if (this.#effectiveRoles(user.roles).includes(this.opts.adminRole)) throw invalid();
  }

  /** An impersonation started with an admin's API token ends when that token is deleted or expires. */
  #checkImpersonatorToken(claims: AccessClaims, row: ApiTokenRow | undefined): void {
    if (!row || row.user_id !== claims.imp) throw invalid();
  }

  /**
   * The login an access token belongs to (its `sid`), for binding what is derived from it (an
   * impersonation) to that login; undefined for an API token or a token of no login.
   */
  sessionOf(token: string | undefined): string | undefined {
    return this.claimsOf(token)?.sid;
  }

  /** The verified claims of an access token (not whether it is revoked: `authenticate` says that); undefined for anything else. */
  claimsOf(token: string | undefined): AccessClaims | undefined {
    if (token === undefined || token.startsWith(API_TOKEN_PREFIX)) return undefined;
    const known = this.#verified.get(token);
    if (known) return known;
    const result = verifyAccessToken(this.opts, token);
    return result.ok ? result.claims : undefined;
  }

  /**
   * `req.auth` for an access JWT. The user object is a shallow copy for this request (apps add
   * properties to `req.user`); what it shares with other requests (roles, profile) is frozen, so a
   * route that writes to it fails loudly instead of changing another request's rights.
   */
  #jwtContext(claims: AccessClaims, user: UserRecord, publicUser: User, memberships: MembershipView): AuthContext {
    return {
      user: { ...publicUser },
      roles: this.#effectiveRoles(user.roles),
      method: 'jwt',
      scopes: ['*'],
      groups: memberships.groups,
      ...(claims.imp ? { impersonator_id: claims.imp } : {}),
    };
  }

  async #apiToken(token: string): Promise<Checked> {
    const row = this.#apiTokenRow(await this.apiTokens.check(token));
    if (row.group_id !== null) {
      const group = await this.groups.get(row.group_id);
      if (!group) throw invalid();
      return { auth: serviceKeyContext(row, group) };
    }
    const entry = await this.revocation.cachedEntry(row.user_id!);
    const user = this.#activeOwner(entry.user);
    return { auth: this.#apiTokenContext(row, user, this.revocation.publicUser(entry, user), entry.memberships), record: user };
  }

  #apiTokenRow(result: ApiTokenCheck): ApiTokenRow {
    if (!result.ok) throw result.code === 'token_expired' ? new AuthenticationError('token_expired', 'API token has expired') : invalid();
    return result.row;
  }

  #activeOwner(user: UserRecord | undefined): UserRecord {
    if (!user) throw invalid();
    if (!user.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
    return user;
  }

  #apiTokenContext(row: ApiTokenRow, user: UserRecord, publicUser: User, memberships: MembershipView): AuthContext {
    return {
      user: { ...publicUser },
      roles: this.#effectiveRoles(user.roles),
      method: 'api_token',
      scopes: [...row.scopes],
      groups: memberships.groups,
      token_id: row.id,
    };
  }
}

/**
 * `req.auth` for a service key: it acts for its group, not for a person. Its groups are its own,
 * with its scopes as its roles there, and the ancestors as plain memberships.
 */
function serviceKeyContext(row: ApiTokenRow, group: GroupEntry): AuthContext {
  const [own, ...ancestors] = group.lineage;
  return {
    user: null as unknown as User, // see AuthContext.user
    roles: [],
    method: 'service_key',
    scopes: [...row.scopes],
    groups: Object.freeze([Object.freeze({ id: own!.id, slug: own!.slug, roles: Object.freeze([...row.scopes]) }), ...ancestors]),
    group: { id: group.id, slug: group.slug, name: group.name },
    token_id: row.id,
  };
}
