import type * as OpenIdClient from 'openid-client';
import { OAuthError } from '../errors.js';
import { toIdentity, type ProviderIdentity } from './identity.js';
import type { Authorization, FlowData, Provider } from './provider.js';
import { providerError } from './provider-error.js';
import { isLoopbackUrl } from './redirects.js';
import type { RequestView } from './request-view.js';
import { PROVIDER_TIMEOUT_MS } from './run-strategy.js';
import { newState } from './state-store.js';

/** openid-client (ESM only) is loaded with the first OIDC provider; apps without one never load it. */
let openIdClient: Promise<typeof OpenIdClient> | undefined;
const loadClient = () => (openIdClient ??= import('openid-client'));

/** Scopes asked of an OIDC provider unless `scope` says otherwise (`openid` is always added). */
export const DEFAULT_OIDC_SCOPE = ['openid', 'email', 'profile'];
/** After a failed discovery, how long before the next attempt. */
export const DISCOVERY_RETRY_MS = 1000;

/** `oauthConfig.<name>` for a provider found by its issuer URL. */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  scope?: string[];
}

/**
 * Any OpenID Connect provider by configuration, through openid-client (certified, and meant to be
 * called directly): discovery from `issuer`, PKCE S256, a `nonce`, and the ID token checked for
 * its signature against the provider's JWKS, `iss`, `aud`, `exp` and `nonce`.
 */
export class OidcProvider implements Provider {
  readonly #settings: OidcSettings;
  readonly #scope: string;
  #config: Promise<OpenIdClient.Configuration> | undefined;
  #failedAt = 0;

  constructor(
    readonly name: string,
    settings: OidcSettings,
    private readonly callbackURL: string,
  ) {
    this.#settings = settings;
    this.#scope = [...new Set(['openid', ...(settings.scope ?? DEFAULT_OIDC_SCOPE)])].join(' ');
  }

  /** Discovery, once; after a failure, again on the next use at most once per DISCOVERY_RETRY_MS. */
  #discover(): Promise<OpenIdClient.Configuration> {
    if (this.#config && this.#failedAt !== 0 && Date.now() - this.#failedAt >= DISCOVERY_RETRY_MS) this.#config = undefined;
    this.#config ??= (async () => {
      const issuer = new URL(this.#settings.issuer);
      try {
        const client = await loadClient();
        const config = await client.discovery(issuer, this.#settings.clientId, this.#settings.clientSecret, undefined, {
          execute: issuer.protocol === 'http:' && isLoopbackUrl(issuer) ? [client.allowInsecureRequests] : [],
          timeout: PROVIDER_TIMEOUT_MS / 1000,
        });
        // Code-flow ID tokens are not signature-checked by default (TLS vouches for them); we want the JWKS check too.
        client.enableNonRepudiationChecks(config);
        this.#failedAt = 0;
        return config;
      } catch (err) {
        this.#failedAt = Date.now();
        throw new OAuthError(
          'provider_unavailable',
          `OpenID Connect discovery of provider \`${this.name}\` at ${issuer.origin}${issuer.pathname} failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
    })();
    return this.#config;
  }

  async ready(): Promise<void> {
    await this.#discover();
  }

  async start(_view: RequestView): Promise<Authorization> {
    const config = await this.#discoverForRequest();
    const client = await loadClient();
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = newState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.callbackURL,
      scope: this.#scope,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, state, data: { verifier, nonce } };
  }

  async finish(view: RequestView, state: string, data: FlowData): Promise<ProviderIdentity> {
    const config = await this.#discoverForRequest();
    const client = await loadClient();
    if (!data.verifier || !data.nonce) throw new OAuthError('invalid_state', 'the OAuth state is missing, unknown, expired or already used');
    const current = new URL(this.callbackURL);
    for (const [key, value] of Object.entries(view.query)) current.searchParams.set(key, value);
    try {
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: data.verifier,
        expectedState: state,
        expectedNonce: data.nonce,
        idTokenExpected: true,
      });
      let claims: Record<string, unknown> = { ...tokens.claims() };
      // Providers may keep scope-requested claims for the userinfo endpoint (oidc-provider does by default).
      if (typeof claims.email !== 'string') {
        const info = await client.fetchUserInfo(config, tokens.access_token, String(claims.sub));
        claims = { ...info, ...claims, email: info.email, email_verified: info.email_verified };
      }
      const identity = toIdentity(
        claims,
        { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, params: { scope: tokens.scope } },
        this.#scope.split(' '),
      );
      if (!identity) throw new OAuthError('oauth_failed', 'the OAuth provider returned no usable profile');
      return identity;
    } catch (err) {
      throw providerError(err, err instanceof client.ResponseBodyError ? err.status : undefined);
    }
  }

  /** During a request the discovery failure is the provider's, not the app's: 502, with no URL in it. */
  async #discoverForRequest(): Promise<OpenIdClient.Configuration> {
    try {
      return await this.#discover();
    } catch (err) {
      throw new OAuthError('provider_unavailable', 'the OAuth provider could not be reached', { cause: err });
    }
  }
}
