import type { IncomingHttpHeaders } from 'node:http';
import { OAuthError } from '../errors.js';
import { consumeOAuthState, deleteExpiredOAuthStates, insertOAuthState } from '../db/oauth-repository.js';
import type { DatabaseGate } from '../db/database-gate.js';
import type { ResolvedOptions } from '../options.js';
import { seal, unseal } from '../tokens/encryption.js';
import { sealedAt } from '../security/sealed-places.js';
import { sha256 } from '../tokens/secrets.js';
import type { ProviderIdentity } from './identity.js';
import type { FlowData, Provider } from './provider.js';
import { allowedRedirect } from './redirects.js';
import { requestView, type RequestView } from './request-view.js';
import { OAUTH_STATE_TTL_SECONDS } from './state-store.js';

/** Live states kept per client address; beginning more drops the oldest. */
export const MAX_STATES_PER_CLIENT = 10;

/** An endpoint of the router as the browser sees it: `publicUrl + basePath + path`, never built from a request. */
export function publicEndpoint(opts: Pick<ResolvedOptions, 'publicUrl' | 'basePath'>, path: string): URL {
  return new URL(`${(opts.publicUrl ?? 'http://localhost').replace(/\/+$/, '')}${opts.basePath === '/' ? '' : opts.basePath}${path}`);
}

const invalidState = () => new OAuthError('invalid_state', 'the OAuth state is missing, unknown, expired, already used, or was begun in another browser');

/** What a flow begins with: who asks, from which browser, and where to go afterwards. */
export interface BeginInput {
  provider: string;
  redirectTo: string | undefined;
  /** The signed-in user who links a provider; undefined for a sign-in. */
  linkUserId?: string;
  /** That user's token version now: the flow is refused at the callback once it has moved on. */
  linkUserVersion?: number;
  /** The browser's binding cookie, as it was sent (reused so flows begun in two tabs both finish). */
  browser: string;
  /** Rate-limit key of the client address. */
  clientKey: string;
  /** The front end's own value for this flow, handed back in the redirect's fragment. */
  clientState?: string | undefined;
  headers: IncomingHttpHeaders;
}

/** The callback as it arrived: its parameters (query or form body), the browser's cookie, the headers. */
export interface CallbackInput {
  params: URLSearchParams;
  browser: string | undefined;
  headers: IncomingHttpHeaders;
}

/** A callback whose state was good: for whom, and where the browser goes next. */
export interface Callback {
  provider: Provider;
  linkUserId: string | null;
  /** The linking user's token version when the flow began (null: a sign-in, or begun before it was kept). */
  linkUserVersion: number | null;
  redirectTo: string | null;
  /** The `client_state` the flow began with, if any. */
  clientState: string | null;
  view: RequestView;
  state: string;
  data: FlowData;
  params: URLSearchParams;
}

/**
 * The OAuth flow: `begin` stores a fresh state in the database (so any instance can finish it),
 * bound to the browser's cookie and encrypted with what the provider needs back; `callback` takes
 * it out again (single use, unexpired, same browser, same provider) and lets the provider finish.
 */
export class OAuthFlow {
  constructor(
    private readonly providers: ReadonlyMap<string, Provider>,
    private readonly database: DatabaseGate,
    private readonly opts: Pick<ResolvedOptions, 'allowedRedirects' | 'encryptionKey' | 'now' | 'oauthRedirect' | 'publicUrl' | 'basePath'>,
    private readonly callbackURL: string,
  ) {}

  #provider(name: string): Provider {
    const provider = this.providers.get(name);
    if (!provider) throw new OAuthError('unknown_provider', `unknown OAuth provider; configured: ${[...this.providers.keys()].join(', ') || 'none'}`);
    return provider;
  }

  /** Returns the provider URL to send the browser to. */
  async begin(input: BeginInput): Promise<string> {
    const provider = this.#provider(input.provider);
    let redirectTo: string | null = null;
    if (input.redirectTo !== undefined) {
      redirectTo = allowedRedirect(input.redirectTo, this.opts.allowedRedirects) ?? null;
      if (!redirectTo) throw new OAuthError('invalid_redirect', 'redirect_to is not in allowedRedirects');
    }
    // The strategy sees the start as the GET navigation it is equivalent to, whichever route began it.
    const startUrl = publicEndpoint(this.opts, `/login/oauth/${encodeURIComponent(provider.name)}`);
    const authorization = await provider.start(requestView(startUrl.origin, startUrl.pathname, new URLSearchParams(), input.headers));
    const now = this.opts.now();
    await this.database.run(async (db) => {
      await deleteExpiredOAuthStates(db, now);
      await insertOAuthState(
        db,
        {
          state_hash: sha256(authorization.state),
          provider: provider.name,
          redirect_to: redirectTo,
          browser_hash: sha256(input.browser),
          link_user_id: input.linkUserId ?? null,
          link_user_version: input.linkUserId === undefined ? null : (input.linkUserVersion ?? null),
          flow_enc: seal(this.opts.encryptionKey, JSON.stringify(authorization.data), sealedAt.oauthFlow(sha256(authorization.state))),
          client_key: input.clientKey,
          client_state: input.clientState ?? null,
          created_at: now,
          expires_at: new Date(now.getTime() + OAUTH_STATE_TTL_SECONDS * 1000),
        },
        MAX_STATES_PER_CLIENT,
      );
    });
    return authorization.url;
  }

  /** Checks the state; throws `invalid_state` unless it is live, this browser's, and (if named) this provider's. */
  async callback(input: CallbackInput): Promise<Callback> {
    const state = input.params.getAll('state');
    if (state.length !== 1 || state[0]!.length === 0 || state[0]!.length > 512 || !input.browser) throw invalidState();
    const row = await this.database.run((db) => consumeOAuthState(db, sha256(state[0]!), sha256(input.browser!), this.opts.now()));
    const named = input.params.getAll('provider');
    if (!row || named.length > 1 || (named.length === 1 && named[0] !== row.provider) || !this.providers.has(row.provider)) throw invalidState();
    const provider = this.providers.get(row.provider)!;
    const data = JSON.parse((row.flow_enc && unseal(this.opts.encryptionKey, row.flow_enc, sealedAt.oauthFlow(row.state_hash))) || '{}') as FlowData;
    const callbackUrl = new URL(this.callbackURL);
    const view = requestView(callbackUrl.origin, callbackUrl.pathname, input.params, input.headers, data.session ?? {});
    return {
      provider,
      linkUserId: row.link_user_id,
      linkUserVersion: row.link_user_version,
      redirectTo: row.redirect_to ?? this.opts.oauthRedirect ?? null,
      clientState: row.client_state ?? null,
      view,
      state: state[0]!,
      data,
      params: input.params,
    };
  }

  /** The provider's verdict on a callback whose state was good: the identity, or why there is none. */
  async finish({ provider, view, state, data, params }: Callback): Promise<ProviderIdentity> {
    const error = params.get('error');
    if (error !== null) {
      throw error === 'access_denied'
        ? new OAuthError('access_denied', 'the user did not grant access')
        : new OAuthError('oauth_failed', 'the OAuth provider reported an error');
    }
    if (!params.get('code')) throw new OAuthError('oauth_failed', 'the OAuth callback carries no code');
    return provider.finish(view, state, data);
  }
}
