import type * as PassportGitHub from 'passport-github2';
import type * as PassportGoogle from 'passport-google-oauth20';
import { lazyRequire } from '../lazy-require.js';
import type { OAuthProviderConfig } from '../options.js';
import { OidcProvider } from './oidc.js';
import { PassportProvider } from './passport-provider.js';
import type { Provider } from './provider.js';
import type { PassportStrategy } from './run-strategy.js';
import { PassportStateStore } from './state-store.js';

// Loaded only when google or github is configured.
const google = lazyRequire<typeof PassportGoogle>('passport-google-oauth20');
const github = lazyRequire<typeof PassportGitHub>('passport-github2');

export const DEFAULT_GOOGLE_SCOPE = ['openid', 'email', 'profile'];
/** user:email makes passport-github2 read /user/emails, where GitHub says which address is verified. */
export const DEFAULT_GITHUB_SCOPE = ['read:user', 'user:email'];

// The tokens are captured from the token exchange itself; the verify callback hands on the profile.
function verify(_accessToken: string, _refreshToken: string, profile: Record<string, unknown>, done: (err: unknown, user?: unknown) => void) {
  done(null, profile);
}

/** Optional URL overrides, only the ones given (undefined would replace the strategy's defaults). */
function urls(config: OAuthProviderConfig, keys: Array<'authorizationURL' | 'tokenURL' | 'userProfileURL' | 'userEmailURL'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) if (config[key] !== undefined) out[key] = config[key]!;
  return out;
}

type Get = (url: string, token: string, callback: (err: unknown, body?: string, res?: unknown) => void) => void;

/**
 * passport-github2 parses GitHub's /user/emails answer without a try: a provider answering non-JSON
 * would throw inside a socket callback and take the whole process down. A throw from a profile
 * callback is turned into a provider error (502) instead.
 */
function guardProfileFetches(strategy: PassportStrategy): void {
  const holder = strategy as { _oauth2?: { get?: Get } };
  const original = holder._oauth2;
  if (!original || typeof original.get !== 'function') return;
  const get = original.get;
  // A view of the client with its own `get`, so a strategy instance shared with the app is not modified.
  // Called on whichever view it is reached through, so settings made there (useAuthorizationHeaderforGET) count.
  const oauth2 = Object.create(original) as { get: Get };
  holder._oauth2 = oauth2;
  oauth2.get = function (this: unknown, url, token, callback) {
    get.call(this, url, token, (err, body, res) => {
      try {
        callback(err, body, res);
      } catch {
        callback({ statusCode: 502, data: 'unreadable response from the provider' }, undefined, res);
      }
    });
  };
}

/**
 * Builds a provider per configured name (the shapes were checked by resolveOptions): `issuer` means
 * OpenID Connect through openid-client; `strategy` runs the app's passport strategy with our state
 * store; `google` and `github` are passport-google-oauth20 / passport-github2 with PKCE S256.
 */
export function buildProviders(config: Readonly<Record<string, OAuthProviderConfig>>, callbackURL: string): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  const store = new PassportStateStore();
  for (const [name, c] of Object.entries(config)) {
    if (c.issuer !== undefined) {
      providers.set(name, new OidcProvider(name, { issuer: c.issuer, clientId: c.clientId!, clientSecret: c.clientSecret!, scope: c.scope }, callbackURL));
      continue;
    }
    let strategy: PassportStrategy & { _stateStore?: unknown; _scope?: unknown };
    if (c.strategy !== undefined) {
      // Our own view of the app's instance (which stays untouched, and may serve several AuthManagers):
      // only the state store is ours. Its scope and everything else stay as the app wrote them.
      strategy = Object.create(c.strategy);
      if ('_stateStore' in strategy) strategy._stateStore = store;
    } else {
      const scope = c.scope ?? (name === 'google' ? DEFAULT_GOOGLE_SCOPE : DEFAULT_GITHUB_SCOPE);
      const common = { clientID: c.clientId!, clientSecret: c.clientSecret!, callbackURL, scope, state: true, pkce: true, store };
      strategy =
        name === 'google'
          ? new (google().Strategy)({ ...common, ...urls(c, ['authorizationURL', 'tokenURL', 'userProfileURL']) } as never, verify as never)
          : new (github().Strategy)(
              { ...common, ...urls(c, ['authorizationURL', 'tokenURL', 'userProfileURL', 'userEmailURL']), allRawEmails: true } as never,
              verify as never,
            );
    }
    guardProfileFetches(strategy);
    const scope = Array.isArray(strategy._scope)
      ? (strategy._scope as string[])
      : typeof strategy._scope === 'string'
        ? strategy._scope.split(/[\s,]+/)
        : (c.scope ?? []);
    providers.set(name, new PassportProvider(name, strategy, callbackURL, scope));
  }
  return providers;
}
