import { createAuthStore, type AuthStore } from './auth-store.js';
import { AuthClientError, errorFrom, serverCode } from './errors.js';
import { loginIdOf, randomState } from './login-id.js';
import { RefreshCoordinator, type Refreshed } from './refresh-coordinator.js';
import { memoryStorage, sessionStorageOrMemory } from './storage.js';
import { originOf, type AuthClientOptions } from './client-options.js';
import { passkeyCalls } from './passkeys.js';
import { browserCredentials } from './webauthn.js';
import type {
  ApiToken,
  CreateApiTokenInput,
  CreatedApiToken,
  LoginInput,
  MfaLoginInput,
  MfaStatus,
  OtpLoginInput,
  RegisterInput,
  Session,
  TokenResponse,
  User,
} from './types.js';

/** The second factors the server names (anything else in a URL is dropped). */
const MFA_METHODS = new Set(['totp', 'backup_code', 'passkey', 'password', 'otp']);

/** Codes of a 401 after which a refresh may help. */
const REFRESHABLE = new Set(['token_expired', 'invalid_token']);

const unauthorized = (message: string) => new AuthClientError('unauthorized', 401, message, { error: message, code: 'unauthorized', status_code: 401 });
const notSignedIn = () => unauthorized('not signed in');
const otherLogin = () => unauthorized('signed in as someone else in another tab');

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
  // Looked up at each ceremony: a page may load the client before anything else is ready.
  const webauthn = () => options.credentials ?? browserCredentials();
  const storage = options.storage ?? memoryStorage();
  const key = options.storageKey ?? 'authlib';
  const storedKey = `${key}:${mode === 'cookie' ? 'csrf_token' : 'refresh_token'}`;
  // Which login the stored credential belongs to (`<user id> <session id>`): no secret, but what tells logins apart.
  const loginKey = `${key}:login`;
  const flowKey = `${key}:oauth_state`;
  const flowStorage = options.flowStorage ?? sessionStorageOrMemory();
  const crossTab = options.crossTab ?? (mode === 'cookie' || options.storage !== undefined);
  // Where the access token may go: the API's origin, and those the app names.
  const tokenOrigins = new Set([options.baseUrl, ...(options.tokenOrigins ?? [])].map(originOf).filter((o) => o !== '' && o !== 'null'));
  const store = createAuthStore();
  /**
   * This tab's login: the one it signed in to or restored (a new tab starts with the stored one);
   * null when signed out. Refreshes are only ever for it: a signed-out tab takes up the browser's
   * current login only by `restore()` or a sign-in.
   */
  let tabLogin: string | null = storedLogin();
  /** Set by `restore()` around its refresh: the one refresh that may take up a login the tab does not know. */
  let restoring = false;

  /** The login of the stored credential, as far as storage tells. */
  function storedLogin(): string | null {
    return readStorage(loginKey) ?? (mode === 'bearer' ? loginIdOf(readStorage(storedKey)) : null);
  }

  /** Storage read that never throws (a storage the browser denies reads as empty). */
  function readStorage(k: string): string | null {
    try {
      return storage.getItem(k);
    } catch {
      return null;
    }
  }

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
      // A network failure, a CORS refusal, an aborted request: fetch rejects without a response.
      throw new AuthClientError('network_error', 0, 'the request could not be sent', undefined, { cause });
    }
    if (!res.ok) throw await errorFrom(res);
    try {
      return (await res.json()) as T;
    } catch (cause) {
      throw new AuthClientError('invalid_response', res.status, `unexpected response ${res.status}: not JSON`, undefined, { cause });
    }
  }

  /** The body of a token-issuing request: asks for the cookie in cookie mode. */
  const withTransport = <B extends object>(body: B) => (mode === 'cookie' ? { ...body, refresh_token_in: 'cookie' } : body);

  /** Takes in a token response: the access token to memory, the refresh (or CSRF) token to storage. */
  function accept(tokens: TokenResponse): Refreshed {
    const kept = mode === 'cookie' ? tokens.csrf_token : tokens.refresh_token;
    const login = loginIdOf(tokens.token);
    // The user the store knew stays only if the token is still theirs.
    const known = store.getUser();
    const sameUser = known !== null && login !== null && login.split(' ')[0] === known.id;
    tabLogin = login;
    if (kept) storage.setItem(storedKey, kept);
    if (login) storage.setItem(loginKey, login);
    else storage.removeItem(loginKey);
    store.set({ accessToken: tokens.token, user: tokens.user ?? (sameUser ? known : null) });
    return { token: tokens.token };
  }

  /** Signs this tab out; returns the login that ended (for the other tabs of it). */
  function forget(): string | null {
    const ended = tabLogin;
    tabLogin = null;
    // Only this tab's login: a shared storage may already hold another (signed in from another tab).
    if (readStorage(loginKey) === ended || readStorage(loginKey) === null) {
      storage.removeItem(storedKey);
      storage.removeItem(loginKey);
    }
    store.set({ accessToken: null, user: null });
    return ended;
  }

  /** Signs this tab out without touching storage: the shared storage (or cookie) now belongs to another login. */
  function replaced(): never {
    tabLogin = null;
    store.set({ accessToken: null, user: null });
    throw otherLogin();
  }

  /** The user of a new access token, asked of the server before the token goes in the store (so the two never disagree). */
  async function userFor(tokens: TokenResponse): Promise<TokenResponse> {
    const known = store.getUser();
    if (tokens.user || (known && loginIdOf(tokens.token)?.split(' ')[0] === known.id)) return tokens;
    try {
      return { ...tokens, user: (await call<{ user: User }>('GET', '/login/profile', { token: tokens.token })).user };
    } catch {
      // The refresh happened: its credential must be kept; `restore()` asks for the user again.
      return tokens;
    }
  }

  /** What `/token-refresh` and `/logout` need: the refresh token in the body, or the CSRF header for the cookie. */
  function refreshCredential(): { body: Record<string, string>; headers: Record<string, string> } | undefined {
    const kept = readStorage(storedKey);
    if (kept === null) return undefined;
    return mode === 'cookie' ? { body: {}, headers: { 'X-CSRF-Token': kept } } : { body: { refresh_token: kept }, headers: {} };
  }

  const coordinator = new RefreshCoordinator(
    // Named by the API too: clients of two APIs (or two modes) on one page origin never share.
    crossTab ? `${key}:auth:${mode}:${base}` : null,
    () => tabLogin,
    async () => {
      // Only the login this tab holds is refreshed; from nothing, only `restore()` may.
      const expected = tabLogin;
      if (expected === null && !restoring) throw notSignedIn();
      const credential = refreshCredential();
      if (!credential) throw notSignedIn();
      // A shared storage whose credential is now another login's (signed in from another tab): not ours to use.
      const stored = readStorage(loginKey);
      if (expected !== null && stored !== null && stored !== expected) replaced();
      let tokens: TokenResponse;
      try {
        tokens = await call<TokenResponse>('POST', '/token-refresh', credential);
      } catch (err) {
        // The login is over (expired, revoked, reused): nothing to keep, unless the tab moved on meanwhile.
        if (err instanceof AuthClientError && err.status === 401 && tabLogin === expected) forget();
        throw err;
      }
      // Signed out or in as someone else while the request ran: this result is no longer the tab's.
      if (tabLogin !== expected) throw notSignedIn();
      // Another user or session than the tab's (the shared cookie is another login's now): refused, never adopted.
      if (expected !== null && loginIdOf(tokens.token) !== expected) replaced();
      return accept(await userFor(tokens));
    },
    (message) => {
      // Only ever a message of this tab's own login (the coordinator checked user and session).
      if (message.type === 'signed_out') {
        tabLogin = null;
        return store.set({ accessToken: null, user: null });
      }
      // Only the token: a login's CSRF token never changes, and storage is the tab that refreshed's to write.
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

  /** A new one-time value for an OAuth flow of this tab; a later start replaces an earlier one. */
  function newFlow(): string {
    const state = randomState();
    flowStorage.setItem(flowKey, state);
    return state;
  }
  function readFlow(): string | null {
    try {
      return flowStorage.getItem(flowKey);
    } catch {
      return null;
    }
  }

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

    ...passkeyCalls({ call, authed, signIn, webauthn }),

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
     * Confirms the change with the token from that mail and the password; a password-less account
     * confirms signed in instead (this client's access token goes along). Every login of the
     * account ends, this one included.
     */
    async confirmEmailChange(token: string, password?: string): Promise<User> {
      const { user: u } =
        password === undefined
          ? await authed<{ user: User }>('POST', '/confirm-email-change', { token })
          : await call<{ user: User }>('POST', '/confirm-email-change', { body: { token, password } });
      coordinator.announceSignOut(forget());
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
        coordinator.announceSignOut(forget());
      }
    },
    /** Ends every login of the user. */
    async logoutAll(): Promise<void> {
      try {
        await authed('POST', '/logout-all');
      } finally {
        coordinator.announceSignOut(forget());
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

    /**
     * The URL of a top-level navigation that starts an OAuth sign-in (`location.href = ...`). It
     * holds no secret; it carries this tab's one-time value for the flow (kept in `flowStorage`),
     * which `completeOAuth` requires back.
     */
    oauthStartUrl(provider: string, input: { redirectTo?: string } = {}): string {
      const query = new URLSearchParams();
      if (input.redirectTo !== undefined) query.set('redirect_to', input.redirectTo);
      if (mode === 'cookie') query.set('refresh_token_in', 'cookie');
      query.set('client_state', newFlow());
      return `${base}/login/oauth/${encodeURIComponent(provider)}?${query.toString()}`;
    },
    /** Starts an OAuth sign-in by POST and answers the provider URL to send the browser to. */
    async startOAuth(provider: string, input: { redirectTo?: string } = {}): Promise<string> {
      const body = withTransport({ provider, ...(input.redirectTo !== undefined ? { redirect_to: input.redirectTo } : {}), client_state: newFlow() });
      return (await call<{ redirect_url: string }>('POST', '/login/oauth', { body })).redirect_url;
    },
    /**
     * Starts linking a provider account to the signed-in user (`POST /{user}/identities/{provider}`)
     * and answers the provider URL; the redirect back signs in again and ends with `completeOAuth`.
     */
    async linkOAuth(provider: string, input: { redirectTo?: string } = {}): Promise<string> {
      const body = withTransport({ ...(input.redirectTo !== undefined ? { redirect_to: input.redirectTo } : {}), client_state: newFlow() });
      return (await authed<{ redirect_url: string }>('POST', `/me/identities/${encodeURIComponent(provider)}`, body)).redirect_url;
    },
    /**
     * Finishes an OAuth flow that came back in the URL fragment (`location.hash`): keeps its tokens,
     * or throws the error it carries (`mfa_required` with `body.mfa_id`). Only the result of a flow
     * this tab began (`startOAuth`, `oauthStartUrl`, `linkOAuth`) is taken, once: a fragment
     * without that flow's one-time value (tokens another site sent this page to) throws
     * `invalid_state` and changes nothing. Clear the fragment afterwards (`history.replaceState`).
     */
    completeOAuth(fragment: string): void {
      const params = new URLSearchParams(fragment.replace(/^#/, ''));
      const code = params.get('error');
      const token = params.get('token');
      const mfaId = params.get('mfa_id');
      // Every result, tokens, an mfa_id or an error, must be this tab's flow: anyone can send the page to a URL.
      const expected = readFlow();
      const given = params.get('client_state');
      if (expected === null || given === null || given !== expected) {
        throw new AuthClientError('invalid_state', 0, 'this OAuth result is not of a flow this tab began');
      }
      flowStorage.removeItem(flowKey);
      if (code !== null) {
        // Even the tab's own flow's error is only a code: no text of the URL reaches a message shown to the user.
        const known = serverCode(code) ?? 'oauth_failed';
        const body = {
          error: `the OAuth sign-in failed: ${known}`,
          code: known,
          status_code: 0,
          ...(mfaId ? { mfa_id: mfaId, methods: (params.get('methods') ?? '').split(' ').filter((m) => MFA_METHODS.has(m)) } : {}),
        };
        throw new AuthClientError(known, 0, body.error, body);
      }
      if (!token) throw new AuthClientError('invalid_response', 0, 'the fragment carries no token');
      accept({
        token,
        ...(params.get('refresh_token') ? { refresh_token: params.get('refresh_token')! } : {}),
        ...(params.get('csrf_token') ? { csrf_token: params.get('csrf_token')! } : {}),
      });
    },

    /**
     * Restores the session on start (a reload, a new tab): with a stored credential (cookie mode:
     * the CSRF token beside the HttpOnly cookie; bearer mode: the refresh token), gets a new access
     * token and the user, and answers the user; answers null when there is no login to restore (or
     * it has ended). Call it once when the page loads; other failures (network) throw.
     */
    async restore(): Promise<User | null> {
      if (store.getAccessToken() === null) {
        if (!refreshCredential()) return null;
        // The explicit take-up: the tab's login becomes the one the browser holds now (its storage says which).
        tabLogin = storedLogin();
        restoring = true;
        try {
          await coordinator.refresh();
        } catch (err) {
          if (err instanceof AuthClientError && err.status === 401) return null;
          throw err;
        } finally {
          restoring = false;
        }
        const known = store.getUser();
        if (known) return known;
      }
      try {
        const { user: u } = await authed<{ user: User }>('GET', '/login/profile');
        store.set({ user: u });
        return u;
      } catch (err) {
        if (err instanceof AuthClientError && err.status === 401) return null;
        throw err;
      }
    },

    /** The user's logins that are still going, most recently used first; `current` marks this tab's. */
    sessions: (userId = 'me') => authed<Session[]>('GET', `/${user(userId)}/sessions`),
    /** Ends one login on every instance; ending this tab's own signs it out here, in every tab sharing it. */
    async endSession(sessionId: string, userId = 'me'): Promise<void> {
      const own = tabLogin !== null && tabLogin.split(' ')[1] === sessionId && (userId === 'me' || tabLogin.startsWith(`${userId} `));
      await authed('DELETE', `/${user(userId)}/sessions/${encodeURIComponent(sessionId)}`);
      if (own) coordinator.announceSignOut(forget());
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
     * Only for the API's origin and `tokenOrigins`: any other URL is fetched as it is, without the token.
     */
    async fetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
      // A Request is judged by its own URL (a page would otherwise resolve "[object Request]" against
      // itself and find its own origin) and keeps its headers; each send uses a fresh copy of it.
      const request = typeof Request !== 'undefined' && input instanceof Request ? input : undefined;
      const send = async (token: string | null) => {
        const headers = new Headers(init.headers ?? request?.headers);
        if (token) headers.set('Authorization', `Bearer ${token}`);
        try {
          return await doFetch(request ? request.clone() : input, { ...init, headers });
        } catch (cause) {
          throw new AuthClientError('network_error', 0, 'the request could not be sent', undefined, { cause });
        }
      };
      if (!tokenOrigins.has(originOf(request ? request.url : (input as string | URL)))) return send(null);
      let token = store.getAccessToken();
      // A refresh only for the login this tab holds: a signed-out tab stays signed out.
      if (token === null && tabLogin !== null && refreshCredential()) token = await tokenAfterFailure(null).catch(() => null);
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
