import type { AuthStorage } from './storage.js';
import type { WebAuthnCredentials } from './types.js';

/** Options of `createAuthClient`. */
export interface AuthClientOptions {
  /** Origin (and any path prefix) of the API, e.g. `https://api.example.com`. */
  baseUrl: string;
  /** Where the server mounted the router. @default '/api/v1/users' */
  basePath?: string;
  /**
   * `'bearer'`: the refresh token is kept in `storage`. `'cookie'`: the server keeps it in an
   * HttpOnly cookie (needs its `cookies` option); requests go with `credentials: 'include'`. @default 'bearer'
   */
  mode?: 'bearer' | 'cookie';
  /** What survives a reload: the refresh token (bearer) or the CSRF token (cookie). @default in memory */
  storage?: AuthStorage;
  /** Prefix of the storage keys and of the cross-tab channel's name (which adds the mode and the API's URL). @default 'authlib' */
  storageKey?: string;
  /**
   * Where an OAuth flow's one-time value waits for the redirect back: it must survive the
   * navigation to the provider and back in this tab, and be this tab's only. @default sessionStorage where it exists, else in memory
   */
  flowStorage?: AuthStorage;
  /**
   * Share refreshes between tabs (BroadcastChannel, and Web Locks where available), so that tabs
   * sharing one refresh credential do not both rotate it. @default true in cookie mode or with a `storage`
   */
  crossTab?: boolean;
  /**
   * Origins besides the API's to which `client.fetch` may send the access token (e.g.
   * `['https://reports.example.com']`). A call to any other origin goes as a plain fetch: no token,
   * no refresh. @default none: the token goes only to the origin of `baseUrl`
   */
  tokenOrigins?: string[];
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** The WebAuthn API for `registerPasskey` and `signInWithPasskey`. @default navigator.credentials */
  credentials?: WebAuthnCredentials;
}

/**
 * The origin of a URL as a page would resolve it (against its location), or '' when it has none.
 * Only a string or a URL: anything else (a Request, an object with a toString) names no origin, so
 * it never borrows the page's own by stringifying to a relative path.
 */
export function originOf(input: string | URL): string {
  if (typeof input !== 'string' && !(input instanceof URL)) return '';
  try {
    return new URL(input, (globalThis as { location?: { href?: string } }).location?.href).origin;
  } catch {
    return '';
  }
}
