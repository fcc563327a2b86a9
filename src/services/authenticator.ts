import { AuthenticationError, ForbiddenError } from '../errors.js';
import type { UserRecord } from '../db/users-repository.js';
import { toPublicUser, type User } from '../public-user.js';
import type { Revocation } from '../security/revocation.js';
import { verifyAccessToken } from '../tokens/access-token.js';
import { API_TOKEN_PREFIX } from '../tokens/api-token.js';
import type { ResolvedOptions } from '../options.js';
import type { ApiTokenService } from './api-tokens.js';

/** Who is calling, as attached to `req.auth`. */
export interface AuthContext {
  user: User;
  roles: string[];
  method: 'jwt' | 'api_token';
  /** An API token's scopes; `['*']` for an access JWT, which is not scope-limited. */
  scopes: string[];
  token_id?: string;
  impersonator_id?: string;
}

/** Longer bearer values are rejected unread. */
export const MAX_TOKEN_LENGTH = 4096;

const invalid = (message = 'token is invalid or has been revoked') => new AuthenticationError('invalid_token', message);

/** Turns a bearer value (access JWT or API token) into an AuthContext, or throws an AuthError. */
export class Authenticator {
  constructor(
    private readonly opts: ResolvedOptions,
    private readonly revocation: Revocation,
    private readonly apiTokens: ApiTokenService,
  ) {}

  /**
   * `allowMfaSetup`: let through a user whom `mfa.required` demands a second factor of and who has
   * none yet; everywhere else (the default) such a user gets 403 `mfa_setup_required`.
   */
  async authenticate(token: string, allowMfaSetup = false): Promise<AuthContext> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid();
    const { auth, record } = token.startsWith(API_TOKEN_PREFIX) ? await this.#apiToken(token) : await this.#jwt(token);
    if (!allowMfaSetup && !record.mfa_enabled && this.opts.mfa.required?.(auth.user) === true) {
      throw new ForbiddenError('mfa_setup_required', 'set up a second factor (POST /mfa/totp/setup) before doing anything else');
    }
    return auth;
  }

  async #jwt(token: string): Promise<{ auth: AuthContext; record: UserRecord }> {
    const result = verifyAccessToken(this.opts, token);
    if (!result.ok) throw result.code === 'token_expired' ? new AuthenticationError('token_expired', 'token has expired') : invalid();
    const claims = result.claims;
    if (claims.sid !== undefined && this.revocation.isSessionRevoked(claims.sid)) throw invalid();
    const user = await this.revocation.cachedUser(claims.sub);
    if (!user || user.token_version !== claims.ver) throw invalid();
    if (!user.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
    const auth: AuthContext = {
      user: toPublicUser(user),
      roles: user.roles,
      method: 'jwt',
      scopes: ['*'],
      ...(claims.imp ? { impersonator_id: claims.imp } : {}),
    };
    return { auth, record: user };
  }

  async #apiToken(token: string): Promise<{ auth: AuthContext; record: UserRecord }> {
    const result = await this.apiTokens.check(token);
    if (!result.ok) throw result.code === 'token_expired' ? new AuthenticationError('token_expired', 'API token has expired') : invalid();
    const user = await this.revocation.cachedUser(result.row.user_id);
    if (!user) throw invalid();
    if (!user.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
    return { auth: { user: toPublicUser(user), roles: user.roles, method: 'api_token', scopes: result.row.scopes, token_id: result.row.id }, record: user };
  }
}
