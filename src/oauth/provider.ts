import type { ProviderIdentity } from './identity.js';
import type { RequestView } from './request-view.js';

/** What a flow needs back at the callback, kept encrypted with its state row. */
export interface FlowData {
  /** PKCE verifier (passport-oauth2 with `pkce: true`, and the OIDC path). */
  verifier?: string;
  /** OIDC `nonce` the ID token must carry. */
  nonce?: string;
  /** The contents of `req.session` a strategy left at the start (openid-client's passport Strategy keeps its checks there). */
  session?: Record<string, unknown>;
  /** passport-openidconnect's context and application state, from `store(req, ctx, appState, meta, cb)`. */
  ctx?: Record<string, unknown>;
  appState?: unknown;
  /** The strategy put no `state` in its URL; ours was added and is taken out again before the strategy sees the callback. */
  addedState?: boolean;
}

/** The authorization request a provider built: where to send the browser, and the state in that URL. */
export interface Authorization {
  url: string;
  state: string;
  data: FlowData;
}

/** One configured provider, however it is implemented (a passport strategy, or OIDC by discovery). */
export interface Provider {
  readonly name: string;
  /** Resolves once the provider can be used (OIDC discovery); rejects with an OAuthError otherwise. */
  ready(): Promise<void>;
  /** Builds the authorization request. */
  start(view: RequestView): Promise<Authorization>;
  /** Exchanges the callback's code (with what `start` kept) for the user's identity. */
  finish(view: RequestView, state: string, data: FlowData): Promise<ProviderIdentity>;
}
