import type { Transaction } from 'kysely';
import { AuthError, ConflictError, ForbiddenError, NotFoundError, OAuthError, ServiceUnavailableError } from '../errors.js';
import type { Database } from '../db/schema.js';
import {
  consumeOAuthState,
  deleteOAuthAccount,
  findOAuthAccount,
  findOAuthAccountOfUser,
  insertOAuthAccount,
  listOAuthAccounts,
  updateOAuthTokens,
} from '../db/oauth-repository.js';
import { isUniqueViolation } from '../db/unavailable.js';
import { findUserById, identityKey, insertUser, isUserId } from '../db/users-repository.js';
import { toIdentity, type ProviderIdentity } from '../oauth/identity.js';
import { buildProviders, type Provider } from '../oauth/providers.js';
import { allowedRedirect } from '../oauth/redirects.js';
import { runStrategy } from '../oauth/run-strategy.js';
import { DatabaseStateStore, type FlowRequest } from '../oauth/state-store.js';
import type { User } from '../public-user.js';
import { decrypt, encrypt } from '../tokens/encryption.js';
import { randomBase62, sha256 } from '../tokens/secrets.js';
import type { ServiceContext } from './context.js';
import type { EventOrigin } from '../security/audit.js';
import type { SessionService, TokenPair } from './sessions.js';

/** A linked provider account as listed (never its tokens). */
export interface Identity {
  provider: string;
  provider_user_id: string;
  email: string | null;
  created_at: string;
}

/** A linked provider account with its decrypted tokens, for calling the provider's API. */
export interface Integration extends Identity {
  access_token: string | null;
  refresh_token: string | null;
  scopes: string[];
  updated_at: string;
}

/** How a flow ended, and where to send the browser (if anywhere): the login, or why there is none. */
export type OAuthResult = { ok: true; login: TokenPair & { user: User }; redirectTo: string | null } | { ok: false; error: AuthError; redirectTo: string | null };

const invalidState = () => new OAuthError('invalid_state', 'the OAuth state is missing, unknown, expired or already used');
const USERNAME_ATTEMPTS = 5;

/** Network-level failures reaching the provider. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'EAI_AGAIN']);

/** Maps what passport-oauth2 reports into a clean error: 502 when the provider could not be reached or failed, 400 otherwise. */
function providerError(err: unknown): AuthError {
  const inner = (err as { oauthError?: { code?: unknown; statusCode?: unknown } })?.oauthError;
  const code = (inner?.code ?? (err as { code?: unknown })?.code) as string | undefined;
  const status = inner?.statusCode;
  if ((code && UNREACHABLE.has(code)) || (typeof status === 'number' && status >= 500)) {
    return new OAuthError('provider_unavailable', 'the OAuth provider could not be reached', { cause: err });
  }
  return new OAuthError('oauth_failed', 'the OAuth provider did not accept this login', { cause: err });
}

/** A username from the provider's login name: our allowed characters, 3-64 long. */
function usernameBase(identity: ProviderIdentity, provider: string): string {
  const cleaned = (identity.login ?? '').normalize('NFKC').replace(/[^\p{L}\p{N}_.-]/gu, '').slice(0, 48);
  return cleaned.length >= 3 ? cleaned : `${provider}_${cleaned || 'user'}`.slice(0, 48);
}

/** OAuth login, account linking and linked identities. */
export class OAuthService {
  readonly #providers: Map<string, Provider>;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly sessions: SessionService,
  ) {
    const { opts } = ctx;
    const callbackURL = `${(opts.publicUrl ?? '').replace(/\/+$/, '')}${opts.basePath === '/' ? '' : opts.basePath}/login/oauth2callback`;
    this.#providers = buildProviders(opts.oauthConfig, callbackURL, new DatabaseStateStore(ctx.store, opts.encryptionKey, opts.now));
  }

  /** Names of the configured providers. */
  providerNames(): string[] {
    return [...this.#providers.keys()];
  }

  /** Starts a flow: stores a fresh state (+ PKCE verifier) and returns the provider URL to send the browser to. */
  async begin(providerName: string, redirectTo: string | undefined): Promise<string> {
    const provider = this.#providers.get(providerName);
    if (!provider) throw new OAuthError('unknown_provider', `unknown OAuth provider; configured: ${this.providerNames().join(', ') || 'none'}`);
    let target: string | null = null;
    if (redirectTo !== undefined) {
      target = allowedRedirect(redirectTo, this.ctx.opts.allowedRedirects) ?? null;
      if (!target) throw new OAuthError('invalid_redirect', 'redirect_to is not in allowedRedirects');
    }
    const req: FlowRequest & { query: object; body: object; headers: object } = { query: {}, body: {}, headers: {}, authlibFlow: { provider: provider.name, redirectTo: target } };
    const outcome = await runStrategy(provider.strategy, req, { scope: provider.scope });
    if (outcome.kind === 'redirect') return outcome.url;
    throw outcome.kind === 'error' && outcome.error instanceof AuthError ? outcome.error : providerError(outcome.kind === 'error' ? outcome.error : undefined);
  }

  /**
   * Finishes a flow: consumes the state (single use, unexpired, same provider), lets the strategy
   * exchange the code (with the PKCE verifier) and fetch the profile, then links or creates the user.
   * Without a valid state it throws; once the state is known, failures come back as a value with the
   * flow's redirect target, so the browser can be sent back with the error.
   */
  async complete(query: Record<string, string | undefined>, origin?: EventOrigin): Promise<OAuthResult> {
    const state = query.state;
    if (typeof state !== 'string' || state.length === 0 || state.length > 512) throw invalidState();
    const row = await this.ctx.store.run((db) => consumeOAuthState(db, sha256(state), this.ctx.opts.now()));
    if (!row || (query.provider !== undefined && query.provider !== row.provider)) throw invalidState();
    const provider = this.#providers.get(row.provider);
    if (!provider) throw invalidState();
    const redirectTo = row.redirect_to ?? this.ctx.opts.oauthRedirect ?? null;
    try {
      if (query.error !== undefined) {
        throw query.error === 'access_denied'
          ? new OAuthError('access_denied', 'the user did not grant access')
          : new OAuthError('oauth_failed', 'the OAuth provider reported an error');
      }
      if (!query.code) throw new OAuthError('oauth_failed', 'the OAuth callback carries no code');
      const req: FlowRequest & { query: object; body: object; headers: object } = {
        query: { code: query.code, state },
        body: {},
        headers: {},
        authlibFlow: { provider: row.provider, redirectTo: row.redirect_to, consumed: row },
      };
      const outcome = await runStrategy(provider.strategy, req, {});
      if (outcome.kind === 'fail') throw new OAuthError('oauth_failed', 'the OAuth provider did not accept this login');
      if (outcome.kind !== 'success') throw outcome.kind === 'error' && outcome.error instanceof AuthError ? outcome.error : providerError(outcome.kind === 'error' ? outcome.error : undefined);
      const identity = toIdentity(outcome.user, provider.scope);
      if (!identity) throw new OAuthError('oauth_failed', 'the OAuth provider returned no usable profile');
      const userId = await this.#linkOrCreate(provider.name, identity);
      const login = await this.sessions.loginVerified(userId);
      await this.ctx.audit.record('oauth_login', { userId, data: { provider: provider.name }, origin });
      return { ok: true, login, redirectTo };
    } catch (err) {
      if (err instanceof AuthError && !(err instanceof ServiceUnavailableError)) return { ok: false, error: err, redirectTo };
      throw err;
    }
  }

  async identities(userId: string): Promise<Identity[]> {
    if (!isUserId(userId)) return [];
    const rows = await this.ctx.store.run((db) => listOAuthAccounts(db, userId));
    return rows.map((r) => ({ provider: r.provider, provider_user_id: r.provider_user_id, email: r.email, created_at: r.created_at.toISOString() }));
  }

  /** Unlinks a provider; refuses to remove a user's last way to sign in. */
  async unlink(userId: string, provider: string, origin?: EventOrigin): Promise<void> {
    await this.ctx.store.run((db) =>
      db.transaction().execute(async (trx) => {
        const user = await findUserById(trx, userId);
        const accounts = user ? await listOAuthAccounts(trx, userId) : [];
        if (!accounts.some((a) => a.provider === provider)) throw new NotFoundError('identity not found');
        if (!user!.password_hash && accounts.length === 1) throw new ConflictError('this is the only way this user can sign in; set a password or link another provider first');
        await deleteOAuthAccount(trx, userId, provider);
      }),
    );
    await this.ctx.audit.record('identity_unlinked', { userId, data: { provider }, origin });
  }

  /** The linked account with decrypted provider tokens, or undefined. */
  async integration(userId: string, provider: string): Promise<Integration | undefined> {
    if (!isUserId(userId) || typeof provider !== 'string') return undefined;
    const row = await this.ctx.store.run((db) => findOAuthAccountOfUser(db, userId, provider));
    if (!row) return undefined;
    const key = this.ctx.opts.encryptionKey;
    return {
      provider: row.provider,
      provider_user_id: row.provider_user_id,
      email: row.email,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
      access_token: row.access_token_enc ? (decrypt(key, row.access_token_enc) ?? null) : null,
      refresh_token: row.refresh_token_enc ? (decrypt(key, row.refresh_token_enc) ?? null) : null,
      scopes: row.scopes,
    };
  }

  /**
   * The user behind an identity: the linked one; else a local user with the same email, only if the
   * provider asserts that email verified; else a new user. One transaction; a race with another
   * login of the same identity (or a taken username) is settled by the unique keys and retried.
   */
  async #linkOrCreate(provider: string, identity: ProviderIdentity): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.ctx.store.run((db) => db.transaction().execute((trx) => this.#resolveUser(trx, provider, identity, attempt)));
      } catch (err) {
        if (!isUniqueViolation(err) || attempt >= USERNAME_ATTEMPTS) throw err;
      }
    }
  }

  async #resolveUser(trx: Transaction<Database>, provider: string, identity: ProviderIdentity, attempt: number): Promise<string> {
    const now = this.ctx.opts.now();
    const key = this.ctx.opts.encryptionKey;
    const tokens = {
      access_token_enc: identity.accessToken ? encrypt(key, identity.accessToken) : null,
      refresh_token_enc: identity.refreshToken ? encrypt(key, identity.refreshToken) : null,
      scopes: identity.scopes,
      email: identity.email ?? null,
    };
    const linked = await findOAuthAccount(trx, provider, identity.providerUserId);
    if (linked) {
      await updateOAuthTokens(trx, provider, identity.providerUserId, { ...tokens, updated_at: now });
      return linked.user_id;
    }
    const link = (userId: string) => insertOAuthAccount(trx, { provider, provider_user_id: identity.providerUserId, user_id: userId, ...tokens, created_at: now, updated_at: now });

    const emailKey = identity.email ? identityKey(identity.email) : undefined;
    const owner = emailKey ? await trx.selectFrom('users').select('id').where('email_key', '=', emailKey).executeTakeFirst() : undefined;
    if (owner && identity.emailVerified) {
      if (await findOAuthAccountOfUser(trx, owner.id, provider)) {
        throw new ConflictError(`this email's account is already linked to another ${provider} identity`);
      }
      await link(owner.id);
      return owner.id;
    }
    if (!this.ctx.opts.oauthAutoCreate) throw new ForbiddenError('forbidden', 'sign-up through OAuth is disabled; ask an administrator for an account');

    // A taken username shows up as a unique violation; the next attempt adds a random suffix.
    const base = usernameBase(identity, provider);
    const username = attempt === 1 ? base : `${base}_${randomBase62(4).toLowerCase()}`;
    const userId = await insertUser(
      trx,
      {
        username,
        username_key: identityKey(username),
        // An address someone else already owns stays with them; this user starts without one.
        email: owner ? null : (identity.email ?? null),
        email_key: owner ? null : (emailKey ?? null),
        email_verified: !owner && identity.emailVerified,
        password_hash: null,
        real_name: identity.realName?.slice(0, 200) ?? null,
        profile: JSON.stringify({}),
        created_at: now,
        updated_at: now,
      },
      this.ctx.opts.defaultRoles,
    );
    await link(userId);
    return userId;
  }
}
