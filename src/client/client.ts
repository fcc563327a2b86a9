import { createAuthStore, type AuthStore } from './auth-store.js';
import { AuthClientError, errorFrom } from './errors.js';
import { RefreshCoordinator, type Refreshed } from './refresh-coordinator.js';
import { memoryStorage, type AuthStorage } from './storage.js';
import type {
  ApiToken,
  CreateApiTokenInput,
  CreatedApiToken,
  LoginInput,
  MfaLoginInput,
  MfaStatus,
  OtpLoginInput,
  RegisterInput,
  TokenResponse,
  User,
} from './types.js';

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
  /** Prefix of the storage keys and name of the cross-tab channel. @default 'authlib' */
  storageKey?: string;
  /**
   * Share refreshes between tabs (BroadcastChannel, and Web Locks where available), so that tabs
   * sharing one refresh credential do not both rotate it. @default true in cookie mode or with a `storage`
   */
  crossTab?: boolean;
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** Codes of a 401 after which a refresh may help. */
const REFRESHABLE = new Set(['token_expired', 'invalid_token']);

/** The client of an express-authlib server; see `createAuthClient`. */
export type AuthClient = ReturnType<typeof createAuthClient>;

/**
 * A typed client for the express-authlib endpoints, for browsers and Node (18+). It keeps the
 * access token in memory, adds it to `client.fetch` calls and refreshes it once when it expires.
 */
export function createAuthClient(options: AuthClientOptions) {
  const mode = options.mode ?? 'bearer';
  if (mode !== 'bearer' && mode !== 'cookie') throw new TypeError("express-authlib client: mode must be 'bearer' or 'cookie'");
  const base = `${options.baseUrl.replace(/\/+$/, '')}${(options.basePath ?? '/api/v1/users').replace(/\/+$/, '')}`;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const storage = options.storage ?? memoryStorage();
  const key = options.storageKey ?? 'authlib';
  const storedKey = `${key}:${mode === 'cookie' ? 'csrf_token' : 'refresh_token'}`;
  const crossTab = options.crossTab ?? (mode === 'cookie' || options.storage !== undefined);
  const store = createAuthStore();

  /** A request to the API: JSON in and out, cookies only in cookie mode. */
  async function call<T>(method: string, path: string, init: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...init.headers };
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    if (init.token) headers.Authorization = `Bearer ${init.token}`;
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        credentials: mode === 'cookie' ? 'include' : 'same-origin',
      });
    } catch (cause) {
      throw new AuthClientError('network_error', 0, 'the request could not be sent', undefined, { cause });
    }
    if (!res.ok) throw await errorFrom(res);
    return (await res.json()) as T;
  }

  /** The body of a token-issuing request: asks for the cookie in cookie mode. */
  const withTransport = <B extends object>(body: B) => (mode === 'cookie' ? { ...body, refresh_token_in: 'cookie' } : body);

  /** Takes in a token response: the access token to memory, the refresh (or CSRF) token to storage. */
  function accept(tokens: TokenResponse): Refreshed {
    const kept = mode === 'cookie' ? tokens.csrf_token : tokens.refresh_token;
    if (kept) storage.setItem(storedKey, kept);
    store.set({ accessToken: tokens.token, ...(tokens.user ? { user: tokens.user } : {}) });
    return { token: tokens.token, csrf: tokens.csrf_token };
  }

  function forget(): void {
    storage.removeItem(storedKey);
    store.set({ accessToken: null, user: null });
  }

  /** What `/token-refresh` and `/logout` need: the refresh token in the body, or the CSRF header for the cookie. */
  function refreshCredential(): { body: Record<string, string>; headers: Record<string, string> } | undefined {
    const kept = storage.getItem(storedKey);
    if (kept === null) return undefined;
    return mode === 'cookie' ? { body: {}, headers: { 'X-CSRF-Token': kept } } : { body: { refresh_token: kept }, headers: {} };
  }

  const coordinator = new RefreshCoordinator(
    crossTab ? `${key}:auth` : null,
    async () => {
      const credential = refreshCredential();
      if (!credential) throw new AuthClientError('unauthorized', 401, 'not signed in', { error: 'not signed in', code: 'unauthorized', status_code: 401 });
      try {
        return accept(await call<TokenResponse>('POST', '/token-refresh', credential));
      } catch (err) {
        // The login is over (expired, revoked, reused): nothing to keep.
        if (err instanceof AuthClientError && err.status === 401) forget();
        throw err;
      }
    },
    (message) => {
      if (message.type === 'signed_out') return store.set({ accessToken: null, user: null });
      if (mode === 'cookie' && message.csrf) storage.setItem(storedKey, message.csrf);
      store.set({ accessToken: message.token });
    },
  );

  /** Refreshes unless someone already did since `used` was sent; returns the token to use. */
  async function tokenAfterFailure(used: string | null): Promise<string> {
    const current = store.getAccessToken();
    if (current !== null && current !== used) return current;
    return (await coordinator.refresh()).token;
  }

  const signIn = async (path: string, body: object) => {
    const tokens = await call<TokenResponse & { user: User }>('POST', path, { body: withTransport(body) });
    accept(tokens);
    return tokens.user;
  };

  /** A call that needs the access token: refreshed once (single flight) on `token_expired` / `invalid_token`. */
  async function authed<T>(method: string, path: string, body?: unknown): Promise<T> {
    let token = store.getAccessToken() ?? (await tokenAfterFailure(null));
    try {
      return await call<T>(method, path, { body, token });
    } catch (err) {
      if (!(err instanceof AuthClientError && err.status === 401 && REFRESHABLE.has(err.code))) throw err;
      token = await tokenAfterFailure(token);
      return call<T>(method, path, { body, token });
    }
  }

  const user = (id: string) => encodeURIComponent(id);

  return {
    /** The auth store: access token (memory only), user, and change notifications. */
    store: store as AuthStore,
    mode,

    /** Password sign-in; an account with MFA rejects with code `mfa_required` (`error.body.mfa_id`). */
    login: (input: LoginInput) => signIn('/login', input),
    register: (input: RegisterInput) => signIn('/register', input),
    /** Mails a one-time code; the answer's `otp_id` goes to `loginWithOtp`. */
    requestOtp: (email: string) => call<{ otp_id: string }>('POST', '/request-otp', { body: { email } }),
    loginWithOtp: (input: OtpLoginInput) => signIn('/login/otp', input),
    loginWithMfa: (input: MfaLoginInput) => signIn('/login/mfa', input),

    /** Mails a password-reset link or token; the server answers alike whether the address has an account. */
    async requestPasswordReset(email: string): Promise<void> {
      await call('POST', '/request-password-reset', { body: { email } });
    },
    /** Sets a new password with the token from that mail; every login of the account ends (sign in again). */
    async confirmPasswordReset(token: string, password: string): Promise<void> {
      await call('POST', '/confirm-password-reset', { body: { token, password } });
    },
    /** Mails a verification link or token to an unverified address (answered alike for any address). */
    async requestVerification(email: string): Promise<void> {
      await call('POST', '/request-verification', { body: { email } });
    },
    /** Marks the address verified with the token from that mail; answers the user. */
    async confirmVerification(token: string): Promise<User> {
      return (await call<{ user: User }>('POST', '/confirm-verification', { body: { token } })).user;
    },
    /** Mails a confirmation to `newEmail` (signed in, with an access token). */
    async requestEmailChange(newEmail: string): Promise<void> {
      await authed('POST', '/request-email-change', { new_email: newEmail });
    },
    /**
     * Confirms the change with the token from that mail (and the password, unless the account has
     * none); every login of the account ends, this one included.
     */
    async confirmEmailChange(token: string, password?: string): Promise<User> {
      const body = password === undefined ? { token } : { token, password };
      const { user: u } = await call<{ user: User }>('POST', '/confirm-email-change', { body });
      forget();
      coordinator.announceSignOut();
      return u;
    },

    /** A new access token from the refresh token (bearer) or cookie; concurrent calls share one request. */
    refresh: async (): Promise<string> => (await coordinator.refresh()).token,

    /** Ends this login on the server (as far as it can be reached) and forgets it here, in every tab sharing it. */
    async logout(): Promise<void> {
      const credential = refreshCredential();
      try {
        if (credential) await call('POST', '/logout', credential);
      } finally {
        forget();
        coordinator.announceSignOut();
      }
    },
    /** Ends every login of the user. */
    async logoutAll(): Promise<void> {
      try {
        await authed('POST', '/logout-all');
      } finally {
        forget();
        coordinator.announceSignOut();
      }
    },

    /** The signed-in user, fresh from the server (also put in the store). */
    async profile(): Promise<User> {
      const { user: u } = await authed<{ user: User }>('GET', '/login/profile');
      store.set({ user: u });
      return u;
    },
    async changePassword(currentPassword: string, password: string): Promise<void> {
      const tokens = await authed<TokenResponse>('POST', '/change-password', withTransport({ current_password: currentPassword, password }));
      accept(tokens);
    },

    /** The URL of a top-level navigation that starts an OAuth sign-in (`location.href = ...`); it holds no secret. */
    oauthStartUrl(provider: string, input: { redirectTo?: string } = {}): string {
      const query = new URLSearchParams();
      if (input.redirectTo !== undefined) query.set('redirect_to', input.redirectTo);
      if (mode === 'cookie') query.set('refresh_token_in', 'cookie');
      const q = query.toString();
      return `${base}/login/oauth/${encodeURIComponent(provider)}${q ? `?${q}` : ''}`;
    },
    /** Starts an OAuth sign-in by POST and answers the provider URL to send the browser to. */
    async startOAuth(provider: string, input: { redirectTo?: string } = {}): Promise<string> {
      const body = withTransport({ provider, ...(input.redirectTo !== undefined ? { redirect_to: input.redirectTo } : {}) });
      return (await call<{ redirect_url: string }>('POST', '/login/oauth', { body })).redirect_url;
    },
    /**
     * Finishes an OAuth sign-in that came back with tokens in the URL fragment (`location.hash`):
     * keeps them, or throws the error it carries (`mfa_required` with `body.mfa_id`). Clear the
     * fragment from the address bar afterwards (`history.replaceState`).
     */
    completeOAuth(fragment: string): void {
      const params = new URLSearchParams(fragment.replace(/^#/, ''));
      const code = params.get('error');
      if (code !== null) {
        const mfaId = params.get('mfa_id');
        const body = {
          error: params.get('error_description') ?? code,
          code,
          status_code: 0,
          ...(mfaId ? { mfa_id: mfaId, methods: (params.get('methods') ?? '').split(' ') } : {}),
        };
        throw new AuthClientError(code, 0, body.error, body);
      }
      const token = params.get('token');
      if (!token) throw new AuthClientError('invalid_response', 0, 'the fragment carries no token');
      accept({
        token,
        ...(params.get('refresh_token') ? { refresh_token: params.get('refresh_token')! } : {}),
        ...(params.get('csrf_token') ? { csrf_token: params.get('csrf_token')! } : {}),
      });
    },

    apiTokens: {
      list: (userId = 'me') => authed<ApiToken[]>('GET', `/${user(userId)}/api-tokens`),
      create: (input: CreateApiTokenInput, userId = 'me') => authed<CreatedApiToken>('POST', `/${user(userId)}/api-tokens`, input),
      revoke: (tokenId: string, userId = 'me') => authed<{ success: true }>('DELETE', `/${user(userId)}/api-tokens/${encodeURIComponent(tokenId)}`),
    },

    mfa: {
      status: () => authed<MfaStatus>('GET', '/mfa'),
      /** Begins TOTP set-up: the secret for the authenticator app (`password` unless password-less). */
      setup: (password?: string) => authed<{ secret: string; otpauth_url: string }>('POST', '/mfa/totp/setup', password === undefined ? {} : { password }),
      confirm: (code: string) => authed<{ backup_codes: string[] }>('POST', '/mfa/totp/confirm', { code }),
      disable: (input: { code: string; password?: string }) => authed<{ success: true }>('POST', '/mfa/totp/disable', input),
      regenerateBackupCodes: (input: { code: string; password?: string }) => authed<{ backup_codes: string[] }>('POST', '/mfa/backup-codes', input),
    },

    /**
     * `fetch` for your own API: adds `Authorization: Bearer <access token>`, and on a 401
     * `token_expired` / `invalid_token` refreshes once (shared by all concurrent calls) and retries once.
     */
    async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
      const send = (token: string | null) => {
        const headers = new Headers(init.headers);
        if (token) headers.set('Authorization', `Bearer ${token}`);
        return doFetch(input, { ...init, headers });
      };
      let token = store.getAccessToken();
      if (token === null && refreshCredential()) token = await tokenAfterFailure(null).catch(() => null);
      const res = await send(token);
      if (res.status !== 401 || token === null) return res;
      const body = (await res
        .clone()
        .json()
        .catch(() => undefined)) as { code?: unknown } | undefined;
      if (!REFRESHABLE.has(String(body?.code))) return res;
      const fresh = await tokenAfterFailure(token).catch(() => null);
      return fresh === null ? res : send(fresh);
    },

    /** Stops listening to other tabs. */
    close: () => coordinator.close(),
  };
}
