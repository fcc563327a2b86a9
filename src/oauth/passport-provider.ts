import { OAuthError } from '../errors.js';
import { toIdentity, type CapturedTokens, type ProviderIdentity } from './identity.js';
import type { Authorization, FlowData, Provider } from './provider.js';
import { providerError } from './provider-error.js';
import type { RequestView } from './request-view.js';
import { runStrategy, type PassportStrategy, type StrategyOutcome } from './run-strategy.js';
import { newState, type FlowRequest } from './state-store.js';

type TokenCallback = (err: unknown, accessToken?: string, refreshToken?: string, params?: Record<string, unknown>) => void;
interface OAuth2Client {
  getOAuthAccessToken?: (code: string, params: object, callback: TokenCallback) => void;
}
type Internals = PassportStrategy & { _oauth2?: OAuth2Client; _verify?: (...args: unknown[]) => unknown };

/**
 * Gives one run its own views of the strategy's token exchange, so the provider's tokens (kept for
 * `auth.integrations`) are captured whatever the app's verify callback returns: passport-oauth2 and
 * passport-openidconnect exchange the code through `_oauth2`; openid-client's Strategy hands its
 * verify callback a tokens object.
 */
function captureInto(captured: CapturedTokens): (run: PassportStrategy) => void {
  return (run) => {
    const internals = run as Internals;
    const oauth2 = internals._oauth2;
    if (oauth2 && typeof oauth2.getOAuthAccessToken === 'function') {
      const exchange = oauth2.getOAuthAccessToken;
      const view = Object.create(oauth2) as OAuth2Client;
      view.getOAuthAccessToken = function (this: unknown, code, params, callback) {
        exchange.call(this, code, params, (err, accessToken, refreshToken, results) => {
          if (!err) Object.assign(captured, { accessToken, refreshToken, params: results });
          callback(err, accessToken, refreshToken, results);
        });
      };
      internals._oauth2 = view;
    } else if (typeof internals._verify === 'function') {
      const verify = internals._verify;
      // openid-client's Strategy does not look at its verify callback's arity, so a plain wrapper is safe.
      internals._verify = function (this: unknown, ...args: unknown[]) {
        const tokens = args.find(
          (a): a is { access_token: string; refresh_token?: string; scope?: string } => typeof (a as { access_token?: unknown })?.access_token === 'string',
        );
        if (tokens) Object.assign(captured, { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, params: { scope: tokens.scope } });
        return verify.apply(this, args);
      };
    }
  };
}

function failure(outcome: StrategyOutcome): never {
  if (outcome.kind === 'error') throw providerError(outcome.error);
  throw new OAuthError('oauth_failed', 'the OAuth provider did not accept this login');
}

/**
 * A passport strategy run as its own docs say: on a request view with a session, with the library's
 * state store, and with the callback URL passed as an option. Its own scope is never overridden.
 */
export class PassportProvider implements Provider {
  constructor(
    readonly name: string,
    private readonly strategy: PassportStrategy,
    private readonly callbackURL: string,
    /** The scopes asked for, when the token response does not say what was granted. */
    private readonly requestedScopes: string[],
  ) {}

  ready(): Promise<void> {
    return Promise.resolve();
  }

  async start(view: RequestView): Promise<Authorization> {
    const data: FlowData = {};
    const req: RequestView & FlowRequest = Object.assign(view, { authlibFlow: { data } });
    const outcome = await runStrategy(this.strategy, req, { callbackURL: this.callbackURL });
    if (outcome.kind !== 'redirect') failure(outcome);
    const url = new URL(outcome.url);
    let state = url.searchParams.get('state');
    // openid-client's Strategy sends no state to a provider that supports PKCE; the flow still needs one.
    if (!state) {
      state = newState();
      url.searchParams.set('state', state);
      data.addedState = true;
    }
    if (Object.keys(view.session).length > 0) data.session = view.session;
    return { url: url.href, state, data };
  }

  async finish(view: RequestView, state: string, data: FlowData): Promise<ProviderIdentity> {
    if (data.addedState) {
      delete view.query.state;
      const params = new URLSearchParams(view.query);
      view.url = view.originalUrl = params.size > 0 ? `${view.path}?${params.toString()}` : view.path;
    }
    const req = Object.assign(view, { authlibFlow: { data, state, verified: true } }) as RequestView & FlowRequest;
    const captured: CapturedTokens = {};
    const outcome = await runStrategy(this.strategy, req, { callbackURL: this.callbackURL }, captureInto(captured));
    if (outcome.kind !== 'success') failure(outcome);
    const identity = toIdentity(outcome.user, captured, this.requestedScopes);
    if (!identity) throw new OAuthError('oauth_failed', 'the OAuth provider returned no usable profile');
    return identity;
  }
}
