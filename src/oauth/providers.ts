import { Strategy as GitHubStrategy } from 'passport-github2';
import { Strategy as GoogleStrategy } from 'passport-google-oauth20';
import type { OAuthProviderConfig } from '../options.js';
import type { PassportStrategy } from './run-strategy.js';
import type { DatabaseStateStore } from './state-store.js';

/** A configured provider, ready to run. */
export interface Provider {
  name: string;
  strategy: PassportStrategy;
  /** Scopes asked for, used when the token response does not say what was granted. */
  scope: string[];
}

/** What every strategy's verify callback hands on: the profile and the provider's tokens. */
export interface ProviderLogin {
  profile: Record<string, unknown>;
  accessToken?: string;
  refreshToken?: string;
  params?: Record<string, unknown>;
}

export const DEFAULT_GOOGLE_SCOPE = ['openid', 'email', 'profile'];
/** user:email makes passport-github2 read /user/emails, where GitHub says which address is verified. */
export const DEFAULT_GITHUB_SCOPE = ['read:user', 'user:email'];

// Arity 5 so passport-oauth2 passes the raw token response (with the granted `scope`).
function verify(accessToken: string, refreshToken: string, params: Record<string, unknown>, profile: Record<string, unknown>, done: (err: unknown, user?: ProviderLogin) => void) {
  done(null, { profile, accessToken, refreshToken, params });
}

function credentials(name: string, config: OAuthProviderConfig): { clientID: string; clientSecret: string } {
  if (typeof config.clientId !== 'string' || config.clientId === '' || typeof config.clientSecret !== 'string' || config.clientSecret === '') {
    throw new TypeError(`express-authlib: option \`oauthConfig.${name}\` needs clientId and clientSecret (strings from the provider's developer console)`);
  }
  return { clientID: config.clientId, clientSecret: config.clientSecret };
}

/** Optional URL overrides, only the ones given (undefined would replace the strategy's defaults). */
function urls(config: OAuthProviderConfig, keys: Array<'authorizationURL' | 'tokenURL' | 'userProfileURL' | 'userEmailURL'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) if (config[key] !== undefined) out[key] = config[key]!;
  return out;
}

type Done = (err: unknown, user?: unknown, info?: unknown) => void;
type VerifyFn = (...args: unknown[]) => void;

/**
 * A custom strategy's own verify callback returns a profile (or whatever the app likes), but we also
 * need the provider's tokens and granted scopes: wrap it so its result travels with them, keeping the
 * argument shapes passport-oauth2 picks by arity.
 */
function captureTokens(strategy: { _verify?: VerifyFn; _passReqToCallback?: boolean }): void {
  const original = strategy._verify;
  if (typeof original !== 'function') return;
  const wrap = (accessToken: unknown, refreshToken: unknown, params: unknown, done: Done) => (err: unknown, user?: unknown, info?: unknown) =>
    done(err, user ? { profile: user, accessToken, refreshToken, params } : user, info);
  if (strategy._passReqToCallback) {
    strategy._verify = function (req: unknown, accessToken: unknown, refreshToken: unknown, params: unknown, profile: unknown, done: Done) {
      const next = wrap(accessToken, refreshToken, params, done);
      if (original.length >= 6) original(req, accessToken, refreshToken, params, profile, next);
      else original(req, accessToken, refreshToken, profile, next);
    } as VerifyFn;
  } else {
    strategy._verify = function (accessToken: unknown, refreshToken: unknown, params: unknown, profile: unknown, done: Done) {
      const next = wrap(accessToken, refreshToken, params, done);
      if (original.length >= 5) original(accessToken, refreshToken, params, profile, next);
      else original(accessToken, refreshToken, profile, next);
    } as VerifyFn;
  }
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
  const get = original.get.bind(original);
  // A view of the client with its own `get`, so a strategy instance shared with the app is not modified.
  const oauth2 = Object.create(original) as { get: Get };
  holder._oauth2 = oauth2;
  oauth2.get = (url, token, callback) =>
    get(url, token, (err, body, res) => {
      try {
        callback(err, body, res);
      } catch {
        callback({ statusCode: 502, data: 'unreadable response from the provider' }, undefined, res);
      }
    });
}

/**
 * Builds a strategy per configured provider. Built-in google and github use our database state store
 * and PKCE S256; a custom passport OAuth2 strategy gets the same store and callback URL set on it.
 */
export function buildProviders(config: Readonly<Record<string, OAuthProviderConfig>>, callbackURL: string, store: DatabaseStateStore): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  for (const [name, c] of Object.entries(config)) {
    if (c === null || typeof c !== 'object') throw new TypeError(`express-authlib: option \`oauthConfig.${name}\` must be an object`);
    const scope = c.scope ?? (name === 'google' ? DEFAULT_GOOGLE_SCOPE : name === 'github' ? DEFAULT_GITHUB_SCOPE : []);
    if (c.strategy !== undefined) {
      const given = c.strategy as PassportStrategy | undefined;
      if (typeof given?.authenticate !== 'function') throw new TypeError(`express-authlib: option \`oauthConfig.${name}.strategy\` must be a passport strategy instance`);
      // Our own view of the app's instance (which stays untouched, and may serve several AuthManagers).
      // passport-oauth2 internals: the state store and callback URL are ours, whatever it was built with.
      const strategy = Object.create(given) as PassportStrategy & { _stateStore?: unknown; _callbackURL?: string };
      strategy._stateStore = store;
      strategy._callbackURL = callbackURL;
      captureTokens(strategy as never);
      providers.set(name, { name, strategy, scope });
    } else if (name === 'google') {
      const strategy = new GoogleStrategy(
        { ...credentials(name, c), ...urls(c, ['authorizationURL', 'tokenURL', 'userProfileURL']), callbackURL, scope, state: true, pkce: true, store } as never,
        verify as never,
      );
      providers.set(name, { name, strategy: strategy, scope });
    } else if (name === 'github') {
      const strategy = new GitHubStrategy(
        { ...credentials(name, c), ...urls(c, ['authorizationURL', 'tokenURL', 'userProfileURL', 'userEmailURL']), callbackURL, scope, allRawEmails: true, state: true, pkce: true, store } as never,
        verify as never,
      );
      providers.set(name, { name, strategy: strategy, scope });
    } else {
      throw new TypeError(`express-authlib: option \`oauthConfig.${name}\` is not a built-in provider (google, github); pass { strategy: new SomePassportStrategy(...) }`);
    }
  }
  for (const provider of providers.values()) guardProfileFetches(provider.strategy);
  return providers;
}
