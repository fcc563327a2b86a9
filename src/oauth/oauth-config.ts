import { misuse } from '../option-checks.js';
import { isAbsoluteHttpUrl, isLoopbackUrl } from './redirects.js';

/**
 * Configuration of one OAuth provider: `google` / `github` with their credentials, any OpenID
 * Connect provider by `issuer` (discovered through openid-client), or any passport `strategy`.
 */
export interface OAuthProviderConfig {
  /** OpenID Connect issuer URL, e.g. 'https://login.microsoftonline.com/<tenant>/v2.0'; discovered at start-up. */
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  /** Scopes to ask for. @default google and OIDC: ['openid', 'email', 'profile']; github: ['read:user', 'user:email'] */
  scope?: string[];
  authorizationURL?: string;
  tokenURL?: string;
  userProfileURL?: string;
  userEmailURL?: string;
  /** Any passport strategy instance (passport-oauth2, passport-openidconnect, openid-client/passport ...). */
  strategy?: unknown;
}

const PROVIDER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks every `oauthConfig` entry's shape, naming the option and the fix; returns frozen copies. */
export function checkOAuthConfig(value: unknown): Readonly<Record<string, OAuthProviderConfig>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw misuse('oauthConfig', 'must be an object keyed by provider name');
  const out: Record<string, OAuthProviderConfig> = {};
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    const option = `oauthConfig.${name}`;
    if (!PROVIDER_NAME.test(name)) throw misuse(option, 'must be named with letters, digits, _ or - (at most 64)');
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw misuse(option, 'must be an object');
    const c = entry as OAuthProviderConfig;
    if (c.scope !== undefined && (!Array.isArray(c.scope) || c.scope.some((s) => typeof s !== 'string' || s === '' || /\s/.test(s)))) {
      throw misuse(`${option}.scope`, "must be an array of scope names, e.g. ['openid', 'email']");
    }
    if (c.strategy !== undefined) {
      if (typeof (c.strategy as { authenticate?: unknown })?.authenticate !== 'function')
        throw misuse(`${option}.strategy`, 'must be a passport strategy instance');
      if (c.issuer !== undefined) throw misuse(option, 'takes either `issuer` (OpenID Connect) or `strategy` (passport), not both');
      out[name] = Object.freeze({ ...c });
      continue;
    }
    if (c.issuer === undefined && name !== 'google' && name !== 'github') {
      throw misuse(
        option,
        'is not a built-in provider (google, github): give { issuer, clientId, clientSecret } for an OpenID Connect provider, or { strategy: new SomePassportStrategy(...) }',
      );
    }
    for (const key of ['clientId', 'clientSecret'] as const) {
      if (typeof c[key] !== 'string' || c[key] === '') throw misuse(`${option}.${key}`, "must be a non-empty string from the provider's developer console");
    }
    if (c.issuer !== undefined) {
      let issuer: URL | undefined;
      try {
        issuer = typeof c.issuer === 'string' ? new URL(c.issuer) : undefined;
      } catch {
        issuer = undefined;
      }
      if (
        !issuer ||
        !(issuer.protocol === 'https:' || (issuer.protocol === 'http:' && isLoopbackUrl(issuer))) ||
        issuer.username ||
        issuer.password ||
        issuer.search ||
        issuer.hash
      ) {
        throw misuse(
          `${option}.issuer`,
          "must be the provider's https issuer URL, e.g. 'https://accounts.example.com' (plain http only on 127.0.0.1 / localhost)",
        );
      }
    }
    for (const key of ['authorizationURL', 'tokenURL', 'userProfileURL', 'userEmailURL'] as const) {
      if (c[key] !== undefined && !isAbsoluteHttpUrl(c[key])) throw misuse(`${option}.${key}`, 'must be an absolute http(s) URL');
    }
    out[name] = Object.freeze({ ...c });
  }
  return Object.freeze(out);
}
