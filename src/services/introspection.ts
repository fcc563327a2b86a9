import { AuthError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import type { Revocation } from '../security/revocation.js';
import { API_TOKEN_PREFIX } from '../tokens/api-token.js';
import type { ApiTokenService } from './api-tokens.js';
import { MAX_TOKEN_LENGTH, type AuthContext, type Authenticator } from './authenticator.js';

/**
 * The scope that makes a service key an introspection client: a site-level right (it reads every
 * token of the site), so only a site admin or trusted code may mint a key carrying it.
 */
export const INTROSPECT_SCOPE = 'introspect';

/** What `POST /introspect` and `auth.introspect` answer (RFC 7662 2.2). */
export type IntrospectionResult = ActiveToken | { active: false };

/** A token that would be accepted now, on any instance, with what it stands for. */
export interface ActiveToken {
  active: true;
  /** The user; absent for a service key (it acts for a group, not a person). */
  sub?: string;
  username?: string;
  /** Space-separated scopes: an API token's or service key's; `*` for an access JWT, which is not scope-limited. */
  scope: string;
  /** The effective roles now (a role change since the token was issued is reflected). */
  roles: string[];
  /** Seconds since the epoch; absent for an API token that does not expire. */
  exp?: number;
  iat: number;
  iss: string;
  aud: string;
  /** Which kind of bearer credential it is. */
  token_type: 'access_token' | 'api_token' | 'service_key';
  /** An impersonation token: the admin acting as the user (RFC 8693 4.1). */
  act?: { sub: string };
  /** A service key's group. */
  group?: { id: string; slug: string };
}

const INACTIVE: { active: false } = Object.freeze({ active: false });

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

/**
 * RFC 7662 token introspection, for services that cannot see a revocation by checking a signature.
 * A token is active exactly when `requireAuth` would accept it now: revoked (on any instance),
 * expired, refresh, impersonation-ended and disabled users' tokens are `{active: false}`, which
 * never says why. An unreachable database is still an error (503), never an answer.
 */
export class Introspector {
  constructor(
    private readonly opts: Pick<ResolvedOptions, 'issuer' | 'audience' | 'adminRole'>,
    private readonly authenticator: Authenticator,
    private readonly apiTokens: ApiTokenService,
    /** The users as every instance keeps them current (a role change or disabling reaches it at once). */
    private readonly users: Pick<Revocation, 'cachedUser'>,
  ) {}

  /**
   * Whether a caller that authenticated as `auth` is an introspection client by its service key:
   * the key carries the scope `introspect` and was minted by trusted code (no minter) or by a user
   * who is an active site admin now. Judged at every use, like the rest of a key's standing, so a
   * key a group admin minted with the scope (before minting it was refused) is no client, and one
   * whose minter has since lost the admin role stops being one on every instance.
   */
  async isClientKey(auth: AuthContext): Promise<boolean> {
    if (auth.method !== 'service_key' || !auth.scopes.includes(INTROSPECT_SCOPE) || auth.token_id === undefined) return false;
    const row = await this.apiTokens.live(auth.token_id);
    if (!row) return false;
    if (row.created_by === null) return true;
    const minter = await this.users.cachedUser(row.created_by);
    return minter?.is_active === true && minter.roles.includes(this.opts.adminRole);
  }

  async introspect(token: unknown): Promise<IntrospectionResult> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return INACTIVE;
    try {
      const auth = await this.authenticator.authenticate(token);
      const common = { active: true as const, roles: [...auth.roles], iss: this.opts.issuer, aud: this.opts.audience };
      if (!token.startsWith(API_TOKEN_PREFIX)) {
        const claims = this.authenticator.claimsOf(token);
        if (!claims) return INACTIVE;
        return {
          ...common,
          sub: auth.user.id,
          username: auth.user.username,
          scope: auth.scopes.join(' '),
          exp: claims.exp,
          iat: claims.iat,
          token_type: 'access_token',
          ...(auth.impersonator_id !== undefined ? { act: { sub: auth.impersonator_id } } : {}),
        };
      }
      const row = auth.token_id === undefined ? undefined : await this.apiTokens.live(auth.token_id);
      if (!row) return INACTIVE;
      const times = { iat: seconds(row.created_at), ...(row.expires_at ? { exp: seconds(row.expires_at) } : {}) };
      if (auth.method === 'service_key') {
        return { ...common, scope: auth.scopes.join(' '), ...times, token_type: 'service_key', group: { id: auth.group!.id, slug: auth.group!.slug } };
      }
      return { ...common, sub: auth.user.id, username: auth.user.username, scope: auth.scopes.join(' '), ...times, token_type: 'api_token' };
    } catch (err) {
      // Whatever the reason a token is refused, the answer is the same; only an outage is not an answer.
      if (err instanceof AuthError && err.status < 500) return INACTIVE;
      throw err;
    }
  }
}
