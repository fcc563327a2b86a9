import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import cors from 'cors';
import express from 'express';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthClientError, createAuthClient, memoryStorage, type AuthState, type AuthStorage } from '../src/client/index.js';
import { AuthManager } from '../src/index.js';
import { createTestApp, PASSWORD, registerUser, type TestApp, verifiedUser } from './helpers/app.js';
import { Browser } from './helpers/browser-fetch.js';
import { databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';
import { uniqueName } from './helpers/endpoints.js';

// The real client (src/client) driven in Node against real servers on real ports: bearer mode
// with Node's own fetch, and cookie mode from a front end on another origin through a fetch that
// behaves as a browser's (CORS, cookie jar, Origin).

const HOUR = 3_600_000;
let clockOffset = 0;
const now = () => new Date(Date.now() + clockOffset);

function listen(handler: RequestListener): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
const portOf = (server: Server) => (server.address() as AddressInfo).port;
const closeServer = (server: Server | undefined) => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));

/** A fetch that counts the requests by path, around the one it is given. */
function counting(inner: typeof fetch = fetch) {
  const counts = new Map<string, number>();
  const wrapped: typeof fetch = (input, init) => {
    const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    return inner(input, init);
  };
  return { fetch: wrapped, count: (suffix: string) => [...counts].filter(([p]) => p.endsWith(suffix)).reduce((n, [, c]) => n + c, 0) };
}

async function expectClientError(promise: Promise<unknown>, status: number, code: string): Promise<AuthClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthClientError);
  expect({ status: (err as AuthClientError).status, code: (err as AuthClientError).code }).toEqual({ status, code });
  if (status > 0) expect((err as AuthClientError).body?.code).toBe(code);
  return err as AuthClientError;
}

describe('bearer mode, Node fetch', () => {
  let t: TestApp;
  let server: Server;
  let api: string;

  beforeAll(async () => {
    t = await createTestApp({ now });
    server = await listen(t.app);
    api = `http://127.0.0.1:${portOf(server)}`;
  });
  afterAll(async () => {
    await closeServer(server);
    await t?.close();
  });

  it('register, login and profile fill the store and tell subscribers', async () => {
    const client = createAuthClient({ baseUrl: api });
    const seen: AuthState[] = [];
    const unsubscribe = client.store.subscribe((s) => seen.push(s));
    const username = uniqueName('c');
    const registered = await client.register({ username, password: PASSWORD, email: `${username}@example.com` });
    expect(registered.username).toBe(username);
    expect(client.store.getUser()?.id).toBe(registered.id);
    expect(client.store.getAccessToken()).toMatch(/^ey/);
    const other = createAuthClient({ baseUrl: api });
    const user = await other.login({ username, password: PASSWORD });
    expect(user.id).toBe(registered.id);
    expect((await other.profile()).username).toBe(username);
    const me = await other.fetch(`${api}/me`);
    expect(await me.json()).toEqual({ username, method: 'jwt' });
    expect(seen.length).toBeGreaterThan(0);
    unsubscribe();
  });

  it('errors are AuthClientError with the server’s code, status and body', async () => {
    const client = createAuthClient({ baseUrl: api });
    const u = await registerUser(t);
    await expectClientError(client.login({ username: u.username, password: 'wrong password' }), 401, 'invalid_credentials');
    const invalid = await expectClientError(client.register({ username: 'x', password: '1', email: 'nope' }), 400, 'validation_error');
    expect(Object.keys(invalid.body?.fields ?? {})).toContain('email');
    await expectClientError(client.register({ username: u.username, password: PASSWORD, email: `${uniqueName('e')}@example.com` }), 409, 'conflict');
    await expectClientError(client.profile(), 401, 'unauthorized');
    const offline = createAuthClient({ baseUrl: 'http://127.0.0.1:1' });
    const err = await expectClientError(offline.login({ username: 'a', password: 'b' }), 0, 'network_error');
    expect(err.body).toBeUndefined();
  });

  it('an expired access token is refreshed once for 10 concurrent calls, which all succeed', async () => {
    const counter = counting();
    const client = createAuthClient({ baseUrl: api, fetch: counter.fetch });
    const u = await registerUser(t);
    await client.login({ username: u.username, password: PASSWORD });
    const before = client.store.getAccessToken();
    clockOffset += 2 * HOUR;
    const results = await Promise.all(Array.from({ length: 10 }, () => client.fetch(`${api}/me`)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(counter.count('/token-refresh')).toBe(1);
    expect(client.store.getAccessToken()).not.toBe(before);
    // The typed calls share the same single flight.
    clockOffset += 2 * HOUR;
    const profiles = await Promise.all(Array.from({ length: 10 }, () => client.profile()));
    expect(new Set(profiles.map((p) => p.id))).toEqual(new Set([u.user.id]));
    expect(counter.count('/token-refresh')).toBe(2);
  });

  it('a call whose refresh fails answers the 401 once, without looping', async () => {
    const counter = counting();
    const storage = memoryStorage();
    const client = createAuthClient({ baseUrl: api, fetch: counter.fetch, storage });
    const u = await registerUser(t);
    await client.login({ username: u.username, password: PASSWORD });
    storage.setItem('authlib:refresh_token', 'not-a-token');
    clockOffset += 2 * HOUR;
    const res = await client.fetch(`${api}/me`);
    expect(res.status).toBe(401);
    expect(counter.count('/token-refresh')).toBe(1);
    expect(client.store.getAccessToken()).toBeNull();
  });

  it('logout ends the login on the server and empties the store and storage', async () => {
    const kept = new Map<string, string>();
    const spying: AuthStorage = {
      getItem: (k) => kept.get(k) ?? null,
      setItem: (k, v) => void kept.set(k, v),
      removeItem: (k) => void kept.delete(k),
    };
    const client = createAuthClient({ baseUrl: api, storage: spying, crossTab: false });
    const u = await registerUser(t);
    await client.login({ username: u.username, password: PASSWORD });
    const refreshToken = kept.get('authlib:refresh_token')!;
    const token = client.store.getAccessToken()!;
    await client.logout();
    expect(client.store.getState()).toEqual({ accessToken: null, user: null });
    expect(kept.size).toBe(0);
    expect((await fetch(`${api}/me`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
    const reuse = await fetch(`${api}/api/v1/users/token-refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    expect(reuse.status).toBe(401);
    await expectClientError(client.refresh(), 401, 'unauthorized');
  });

  it('MFA: mfa_required carries mfa_id; loginWithMfa finishes; API tokens list, create, revoke', async () => {
    const client = createAuthClient({ baseUrl: api });
    const u = await verifiedUser(t);
    await client.login({ username: u.username, password: PASSWORD });
    const { secret } = await client.mfa.setup(PASSWORD);
    const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: now().getTime() });
    const { backup_codes } = await client.mfa.confirm(code);
    expect((await client.mfa.status()).totp.enabled).toBe(true);
    const second = createAuthClient({ baseUrl: api });
    const err = await expectClientError(second.login({ username: u.username, password: PASSWORD }), 401, 'mfa_required');
    await second.loginWithMfa({ mfa_id: err.body!.mfa_id!, method: 'backup_code', code: backup_codes[0]! });
    const created = await second.apiTokens.create({ name: 'ci', scopes: ['reports:read'] });
    expect(created.token).toMatch(/^api_/);
    expect((await second.apiTokens.list()).map((x) => x.id)).toEqual([created.id]);
    expect(await second.apiTokens.revoke(created.id)).toEqual({ success: true });
    expect(await second.apiTokens.list()).toEqual([]);
  });

  it('oauthStartUrl carries no secret, only this tab’s one-time client_state; completeOAuth takes only that flow’s result, once', async () => {
    const flowStorage = memoryStorage();
    const client = createAuthClient({ baseUrl: api, mode: 'cookie', flowStorage });
    const url = new URL(client.oauthStartUrl('github', { redirectTo: 'https://front.test/done' }));
    expect(url.pathname).toBe('/api/v1/users/login/oauth/github');
    const clientState = url.searchParams.get('client_state')!;
    expect(clientState).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Object.fromEntries(url.searchParams)).toEqual({ redirect_to: 'https://front.test/done', refresh_token_in: 'cookie', client_state: clientState });
    // Tokens another site sent this page to: no client_state, or another flow's. Nothing changes.
    const token = (await registerUser(t)).token;
    for (const fragment of [
      `#token=${token}&csrf_token=def`,
      `#token=${token}&csrf_token=def&client_state=${'A'.repeat(43)}`,
      `#error=mfa_required&mfa_id=m1`,
    ]) {
      expect(() => client.completeOAuth(fragment)).toThrow(AuthClientError);
      try {
        client.completeOAuth(fragment);
      } catch (e) {
        expect((e as AuthClientError).code).toBe('invalid_state');
      }
      expect(client.store.getAccessToken()).toBeNull();
    }
    client.completeOAuth(`#token=${token}&csrf_token=def&client_state=${clientState}`);
    expect(client.store.getAccessToken()).toBe(token);
    // Once only: the same result again is refused.
    expect(() => client.completeOAuth(`#token=${token}&csrf_token=def&client_state=${clientState}`)).toThrow(AuthClientError);
    // Another client (another tab, its own flowStorage) never began this flow.
    const otherTab = createAuthClient({ baseUrl: api, mode: 'cookie', flowStorage: memoryStorage() });
    expect(() => otherTab.completeOAuth(`#token=${token}&csrf_token=def&client_state=${clientState}`)).toThrow(AuthClientError);
    // The error form of this tab's flow is thrown with its body.
    const again = new URL(client.oauthStartUrl('github')).searchParams.get('client_state')!;
    try {
      client.completeOAuth(`#error=mfa_required&mfa_id=m1&methods=totp%20backup_code&client_state=${again}`);
      expect.unreachable();
    } catch (e) {
      expect((e as AuthClientError).body).toMatchObject({ code: 'mfa_required', mfa_id: 'm1', methods: ['totp', 'backup_code'] });
    }
    client.close();
    otherTab.close();
  });

  it('completeOAuth believes an error only of this tab’s flow, and never puts the fragment’s text in the error', async () => {
    const client = createAuthClient({ baseUrl: api, flowStorage: memoryStorage() });
    const codeOf = (fragment: string) => {
      try {
        client.completeOAuth(fragment);
      } catch (e) {
        expect(e).toBeInstanceOf(AuthClientError);
        return { code: (e as AuthClientError).code, message: (e as AuthClientError).message, body: (e as AuthClientError).body };
      }
      return expect.unreachable();
    };
    const phishing = '#error=invalid_token&error_description=Session+expired.+Re-enter+your+password+at+https%3A%2F%2Fevil.example.test';
    // Another site's error, with no flow begun, or while one is pending (without its client_state): not believed.
    expect(codeOf(phishing).code).toBe('invalid_state');
    expect(codeOf('#error=%3Cimg+src%3Dx%3E').code).toBe('invalid_state');
    const state = new URL(client.oauthStartUrl('github')).searchParams.get('client_state')!;
    expect(codeOf(phishing).code).toBe('invalid_state');
    expect(codeOf(`${phishing}&client_state=${'A'.repeat(43)}`).code).toBe('invalid_state');
    // The tab's own flow: a known code is kept, its text is not.
    const own = codeOf(`${phishing}&client_state=${state}`);
    expect(own.code).toBe('invalid_token');
    expect(`${own.message} ${JSON.stringify(own.body)}`).not.toMatch(/evil|password/i);
    // An unknown code (markup) becomes oauth_failed; methods the server never names are dropped.
    const next = new URL(client.oauthStartUrl('github')).searchParams.get('client_state')!;
    const odd = codeOf(`#error=%3Cimg+src%3Dx%3E&client_state=${next}`);
    expect(odd.code).toBe('oauth_failed');
    expect(`${odd.message} ${JSON.stringify(odd.body)}`).not.toContain('<img');
    const third = new URL(client.oauthStartUrl('github')).searchParams.get('client_state')!;
    expect(codeOf(`#error=mfa_required&mfa_id=m2&methods=totp%20%3Cb%3E&client_state=${third}`).body).toMatchObject({ mfa_id: 'm2', methods: ['totp'] });
    client.close();
  });

  it('sessions() lists the logins with this one marked current; endSession ends another on the server, or this one and signs out', async () => {
    const username = uniqueName('cs');
    const laptop = createAuthClient({ baseUrl: api });
    await laptop.register({ username, password: PASSWORD, email: `${username}@example.com` });
    const phone = createAuthClient({ baseUrl: api });
    await phone.login({ username, password: PASSWORD });
    const listed = await laptop.sessions();
    expect(listed).toHaveLength(2);
    const mine = listed.find((s) => s.current)!;
    const other = listed.find((s) => !s.current)!;
    const sid = JSON.parse(Buffer.from(laptop.store.getAccessToken()!.split('.')[1]!, 'base64url').toString()).sid;
    expect(mine.id).toBe(sid);
    // Ending the phone's login: the phone's calls then fail (its refresh too), the laptop stays in.
    await laptop.endSession(other.id);
    await expectClientError(phone.profile(), 401, 'invalid_token');
    expect(phone.store.getAccessToken()).toBeNull();
    expect((await laptop.sessions()).map((s) => s.id)).toEqual([mine.id]);
    // Ending its own: signed out here as well.
    await laptop.endSession(mine.id);
    expect(laptop.store.getAccessToken()).toBeNull();
    expect(laptop.store.getUser()).toBeNull();
    await expectClientError(laptop.sessions(), 401, 'unauthorized');
  });

  it('client.fetch sends the access token only to the API’s origin, and to the origins of tokenOrigins', async () => {
    const elsewhere = await listen((req, res) => res.end(JSON.stringify({ authorization: req.headers.authorization ?? null })));
    const other = `http://127.0.0.1:${portOf(elsewhere)}`;
    try {
      const u = await registerUser(t);
      const seenBy = async (client: ReturnType<typeof createAuthClient>, url: string) =>
        ((await (await client.fetch(url)).json()) as { authorization: string | null }).authorization;
      const client = createAuthClient({ baseUrl: api });
      await client.login({ username: u.username, password: PASSWORD });
      expect(await seenBy(client, `${other}/collect`)).toBeNull();
      expect(await seenBy(client, new URL('/collect', other).href)).toBeNull();
      expect((await client.fetch(`${api}/me`)).status).toBe(200);
      // A Request is judged by its own URL, also in a page (where "[object Request]" would resolve to the page's origin).
      const page = globalThis as { location?: { href: string } };
      page.location = { href: `${api}/app/` };
      try {
        const request = async (c: ReturnType<typeof createAuthClient>, url: string, init?: RequestInit) =>
          ((await (await c.fetch(new Request(url), init)).json()) as { authorization: string | null }).authorization;
        expect(await request(client, `${other}/collect`)).toBeNull();
        expect(await request(client, `${other}/collect`, { method: 'POST', body: 'x' })).toBeNull();
        expect(await seenBy(client, `${other}/collect`)).toBeNull();
        expect((await client.fetch(new Request(`${api}/me`))).status).toBe(200);
      } finally {
        delete page.location;
      }
      const allowing = createAuthClient({ baseUrl: api, tokenOrigins: [`${other}/any/path`] });
      await allowing.login({ username: u.username, password: PASSWORD });
      expect(await seenBy(allowing, `${other}/collect`)).toBe(`Bearer ${allowing.store.getAccessToken()}`);
    } finally {
      await closeServer(elsewhere);
    }
  });

  it('a tab signed out because another user signed in elsewhere stays signed out: no call refreshes it into that user; restore() takes up the login explicitly', async () => {
    const alice = await registerUser(t);
    const bob = await registerUser(t);
    const counter = counting();
    const storage = memoryStorage();
    const key = uniqueName('shared');
    const tabA = createAuthClient({ baseUrl: api, storage, storageKey: key, crossTab: false, fetch: counter.fetch });
    const tabC = createAuthClient({ baseUrl: api, storage, storageKey: key, crossTab: false });
    const seen: AuthState[] = [];
    tabA.store.subscribe((s) => seen.push(s));
    await tabA.login({ username: alice.username, password: PASSWORD });
    await tabC.login({ username: bob.username, password: PASSWORD });
    await expectClientError(tabA.refresh(), 401, 'unauthorized');
    const refreshes = counter.count('/token-refresh');
    // Every kind of call, after the sign-out: none refreshes, none answers as bob.
    expect((await tabA.fetch(`${api}/me`)).status).toBe(401);
    await expectClientError(tabA.profile(), 401, 'unauthorized');
    await expectClientError(tabA.refresh(), 401, 'unauthorized');
    expect((await tabA.fetch(`${api}/me`)).status).toBe(401);
    expect(counter.count('/token-refresh')).toBe(refreshes);
    expect(tabA.store.getState()).toEqual({ accessToken: null, user: null });
    // The store never held a token without its user, or a user without the token.
    for (const s of seen) expect(s.accessToken === null).toBe(s.user === null);
    // Taking up the browser's current login is explicit.
    expect((await tabA.restore())?.username).toBe(bob.username);
    expect(tabA.store.getUser()?.username).toBe(bob.username);
    expect((await tabC.profile()).username).toBe(bob.username);
  });

  it('every failure is an AuthClientError: a network error in client.fetch, a response that is not JSON', async () => {
    const client = createAuthClient({ baseUrl: api });
    await expectClientError(client.fetch('http://127.0.0.1:1/x'), 0, 'network_error');
    const html = createAuthClient({ baseUrl: api, fetch: async () => new Response('<html>', { status: 200 }) });
    const notJson = await html.login({ username: 'a', password: 'b' }).catch((e: unknown) => e);
    expect(notJson).toBeInstanceOf(AuthClientError);
    expect((notJson as AuthClientError).code).toBe('invalid_response');
    const broken = createAuthClient({ baseUrl: api, fetch: async () => Promise.reject(new TypeError('Failed to fetch')) });
    await expectClientError(broken.login({ username: 'a', password: 'b' }), 0, 'network_error');
    await expectClientError(broken.fetch(`${api}/me`), 0, 'network_error');
  });

  it('two tabs of two users (each with its own sessionStorage): a refresh in one never reaches the other', async () => {
    const alice = await registerUser(t);
    const bob = await registerUser(t);
    const tab = () => createAuthClient({ baseUrl: api, storage: memoryStorage(), crossTab: true });
    const aliceTab = tab();
    const bobTab = tab();
    await aliceTab.login({ username: alice.username, password: PASSWORD });
    await bobTab.login({ username: bob.username, password: PASSWORD });
    const bobToken = bobTab.store.getAccessToken();
    const aliceNew = await aliceTab.refresh();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(bobTab.store.getAccessToken()).toBe(bobToken);
    // Bob's API token lands on bob's account.
    const created = await bobTab.apiTokens.create({ name: 'mine' });
    const owner = (await (await fetch(`${api}/me`, { headers: { 'X-API-Token': created.token } })).json()) as { username: string };
    expect(owner.username).toBe(bob.username);
    expect(aliceTab.store.getAccessToken()).toBe(aliceNew);
    // Alice's sign-out is not bob's.
    await aliceTab.logout();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(bobTab.store.getAccessToken()).toBe(bobToken);
    aliceTab.close();
    bobTab.close();
  });

  it('two tabs of one user sharing a storage still share one refresh (single flight across tabs), and a sign-out', async () => {
    const u = await registerUser(t);
    const counter = counting();
    const storage = memoryStorage();
    const key = uniqueName('tabs');
    const tabA = createAuthClient({ baseUrl: api, storage, storageKey: key, fetch: counter.fetch });
    await tabA.login({ username: u.username, password: PASSWORD });
    // The second tab loads later: same storage, nothing in memory yet.
    const tabB = createAuthClient({ baseUrl: api, storage, storageKey: key, fetch: counter.fetch });
    const a = await tabA.refresh();
    await until(() => tabB.store.getAccessToken() === a);
    expect(counter.count('/token-refresh')).toBe(1);
    // A tab of another user with the same key but another API origin (another channel) is never involved.
    const elsewhere = createAuthClient({ baseUrl: api.replace('127.0.0.1', 'localhost'), storage: memoryStorage(), storageKey: key });
    await elsewhere.login({ username: (await registerUser(t)).username, password: PASSWORD });
    const elsewhereToken = elsewhere.store.getAccessToken();
    await tabB.refresh();
    await until(() => tabA.store.getAccessToken() === tabB.store.getAccessToken());
    expect(elsewhere.store.getAccessToken()).toBe(elsewhereToken);
    expect(counter.count('/token-refresh')).toBe(2);
    await tabB.logout();
    await until(() => tabA.store.getAccessToken() === null);
    tabA.close();
    tabB.close();
    elsewhere.close();
  });

  it('a tab whose shared storage now holds another user (signed in from another tab) signs out instead of becoming them', async () => {
    const alice = await registerUser(t);
    const bob = await registerUser(t);
    const storage = memoryStorage();
    const key = uniqueName('shared');
    const tabA = createAuthClient({ baseUrl: api, storage, storageKey: key, crossTab: false });
    const tabB = createAuthClient({ baseUrl: api, storage, storageKey: key, crossTab: false });
    await tabA.login({ username: alice.username, password: PASSWORD });
    await tabB.login({ username: bob.username, password: PASSWORD });
    await expectClientError(tabA.refresh(), 401, 'unauthorized');
    expect(tabA.store.getState()).toEqual({ accessToken: null, user: null });
    // Bob's login is untouched: his tab refreshes.
    await tabB.refresh();
    expect((await tabB.profile()).username).toBe(bob.username);
  });

  it('restore(): a reload with a stored login gets a token and the user in one call; without one it answers null', async () => {
    const u = await registerUser(t);
    const storage = memoryStorage();
    await createAuthClient({ baseUrl: api, storage, crossTab: false }).login({ username: u.username, password: PASSWORD });
    const reloaded = createAuthClient({ baseUrl: api, storage, crossTab: false });
    expect(reloaded.store.getUser()).toBeNull();
    expect((await reloaded.restore())?.username).toBe(u.username);
    expect(reloaded.store.getUser()?.username).toBe(u.username);
    expect(await createAuthClient({ baseUrl: api, crossTab: false }).restore()).toBeNull();
    storage.setItem('authlib:refresh_token', 'not-a-token');
    expect(await createAuthClient({ baseUrl: api, storage, crossTab: false }).restore()).toBeNull();
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}

describe('cookie mode, front end on another origin, CORS with credentials', () => {
  let auth: AuthManager;
  let schema: string;
  let apiServer: Server;
  let frontServer: Server;
  let api: string;
  let front: string;
  const EVIL = 'http://localhost:1';

  beforeAll(async () => {
    frontServer = await listen((_req, res) => res.end('<!doctype html><title>front end</title>'));
    front = `http://localhost:${portOf(frontServer)}`;
    const app = express();
    app.use(cors({ origin: [front], credentials: true, allowedHeaders: ['Authorization', 'Content-Type', 'X-CSRF-Token'] }));
    schema = uniqueSchema();
    auth = new AuthManager(app, {
      ...(await databaseOptions()),
      dbSchema: schema,
      jwtSecret: 'cookie-mode-client-test-secret-0123456789abcdef',
      bcryptRounds: 4,
      rateLimit: false,
      logger: false,
      now,
      cookies: { allowedOrigins: [front], secure: false },
    });
    await auth.ready;
    app.get('/me', auth.requireAuth(), (req, res) => res.json({ username: req.auth!.user.username }));
    apiServer = await listen(app);
    api = `http://localhost:${portOf(apiServer)}`;
  });
  afterAll(async () => {
    await closeServer(apiServer);
    await closeServer(frontServer);
    await auth?.close();
    if (schema) await dropSchema(schema);
  });

  async function signedIn(browser: Browser, storage: AuthStorage = memoryStorage()) {
    const counter = counting(browser.page(front));
    const client = createAuthClient({ baseUrl: api, mode: 'cookie', fetch: counter.fetch, storage, crossTab: false });
    const username = uniqueName('ck');
    await client.register({ username, password: PASSWORD, email: `${username}@example.com` });
    return { client, counter, username, storage };
  }

  it('login sets the HttpOnly cookie in the browser, never gives the page the refresh token, and refreshes through it', async () => {
    const browser = new Browser();
    const { client, counter, username, storage } = await signedIn(browser);
    const cookies = browser.cookies('authlib_refresh');
    expect(cookies.map((c) => c.path)).toEqual(['/']);
    expect(storage.getItem('authlib:refresh_token')).toBeNull();
    expect(storage.getItem('authlib:csrf_token')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await client.profile()).username).toBe(username);
    clockOffset += 2 * HOUR;
    const results = await Promise.all(Array.from({ length: 10 }, () => client.fetch(`${api}/me`)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(counter.count('/token-refresh')).toBe(1);
    expect(browser.cookies('authlib_refresh')[0]!.value).not.toBe(cookies[0]!.value);
  });

  it('a reload (new client, same browser and storage) gets a new access token from the cookie', async () => {
    const browser = new Browser();
    const { storage, username } = await signedIn(browser, memoryStorage());
    const reloaded = createAuthClient({ baseUrl: api, mode: 'cookie', fetch: browser.page(front), storage, crossTab: false });
    expect(reloaded.store.getAccessToken()).toBeNull();
    expect((await reloaded.profile()).username).toBe(username);
    // The one call a page makes on start: the session and its user back.
    const again = createAuthClient({ baseUrl: api, mode: 'cookie', fetch: browser.page(front), storage, crossTab: false });
    expect((await again.restore())?.username).toBe(username);
    expect(again.store.getUser()?.username).toBe(username);
  });

  it('logout clears the cookie; the browser cannot refresh afterwards', async () => {
    const browser = new Browser();
    const { client } = await signedIn(browser);
    await client.logout();
    expect(browser.cookies('authlib_refresh')).toEqual([]);
    expect(client.store.getAccessToken()).toBeNull();
    await expectClientError(client.refresh(), 401, 'unauthorized');
    // The page itself, cookie gone: nothing to refresh with.
    const res = await browser.page(front)(`${api}/api/v1/users/token-refresh`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(400);
  });

  it('a page of another origin in the same browser cannot refresh, log out or log in with the cookie', async () => {
    const browser = new Browser();
    const { client } = await signedIn(browser);
    const cookieBefore = browser.cookies('authlib_refresh')[0]!.value;
    const evil = browser.page(EVIL);
    const csrf = 'guessed'.padEnd(43, 'x');
    // JSON (preflighted): CORS refuses the origin, the request is never sent.
    for (const path of ['/token-refresh', '/logout', '/login']) {
      await expect(
        evil(`${api}/api/v1/users${path}`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
          body: JSON.stringify({ username: 'x', password: 'y', refresh_token_in: 'cookie' }),
        }),
      ).rejects.toThrow(TypeError);
    }
    // Simple requests (no preflight) are sent, cookie and all: the server refuses them.
    for (const path of ['/token-refresh', '/logout']) {
      for (const [type, body] of [
        ['text/plain', '{}'],
        ['application/x-www-form-urlencoded', ''],
      ] as const) {
        await evil(`${api}/api/v1/users${path}`, { method: 'POST', credentials: 'include', headers: { 'Content-Type': type }, body }).catch(() => undefined);
      }
    }
    const sent = browser.log.filter((e) => e.page === EVIL && e.status !== 'blocked');
    expect(sent.length).toBe(4);
    for (const e of sent) {
      expect([403, 415]).toContain(e.status);
      expect(e.setCookie).toEqual([]);
    }
    expect(browser.log.filter((e) => e.page === EVIL && e.status === 403).length).toBeGreaterThan(0);
    // Nothing rotated or revoked: the same cookie is there and still works, once.
    expect(browser.cookies('authlib_refresh')[0]!.value).toBe(cookieBefore);
    await client.refresh();
    expect(browser.cookies('authlib_refresh')[0]!.value).not.toBe(cookieBefore);
  });

  /** Two tabs of one browser: same cookie jar, same storage, same channel name. */
  async function twoTabs() {
    const browser = new Browser();
    const storage = memoryStorage();
    const { username } = await signedIn(browser, storage);
    const counter = counting(browser.page(front));
    const key = uniqueName('tabs');
    storage.setItem(`${key}:csrf_token`, storage.getItem('authlib:csrf_token')!);
    storage.setItem(`${key}:login`, storage.getItem('authlib:login')!);
    const tab = () => createAuthClient({ baseUrl: api, mode: 'cookie', fetch: counter.fetch, storage, storageKey: key });
    return { username, counter, tabA: tab(), tabB: tab() };
  }

  it('cookie mode: a tab signed out because another user signed in (shared storage and cookie) never becomes that user on its next calls', async () => {
    const browser = new Browser();
    const counter = counting(browser.page(front));
    const storage = memoryStorage();
    const key = uniqueName('ckshared');
    const tab = () => createAuthClient({ baseUrl: api, mode: 'cookie', fetch: counter.fetch, storage, storageKey: key, crossTab: false });
    const [tabA, tabC] = [tab(), tab()];
    const seen: AuthState[] = [];
    tabA.store.subscribe((s) => seen.push(s));
    const [alice, bob] = [uniqueName('ca'), uniqueName('cb')];
    await tabA.register({ username: alice, password: PASSWORD, email: `${alice}@example.com` });
    await tabC.register({ username: bob, password: PASSWORD, email: `${bob}@example.com` });
    clockOffset += 2 * HOUR;
    expect((await tabA.fetch(`${api}/api/v1/users/login/profile`)).status).toBe(401);
    expect(tabA.store.getState()).toEqual({ accessToken: null, user: null });
    const refreshes = counter.count('/token-refresh');
    const second = await tabA.fetch(`${api}/api/v1/users/login/profile`);
    expect(second.status).toBe(401);
    expect(counter.count('/token-refresh')).toBe(refreshes);
    expect(tabA.store.getState()).toEqual({ accessToken: null, user: null });
    for (const s of seen) expect(s.accessToken === null).toBe(s.user === null);
    // Bob's tab goes on.
    expect((await tabC.profile()).username).toBe(bob);
  });

  it('cookie mode: a refresh that answers another login than the tab’s (its stored CSRF value is another login’s) is refused, never adopted', async () => {
    const browser = new Browser();
    const counter = counting(browser.page(front));
    const [storageA, storageC] = [memoryStorage(), memoryStorage()];
    const tabA = createAuthClient({ baseUrl: api, mode: 'cookie', fetch: counter.fetch, storage: storageA, crossTab: false });
    const tabC = createAuthClient({ baseUrl: api, mode: 'cookie', fetch: counter.fetch, storage: storageC, crossTab: false });
    const [alice, bob] = [uniqueName('ra'), uniqueName('rb')];
    await tabA.register({ username: alice, password: PASSWORD, email: `${alice}@example.com` });
    await tabC.register({ username: bob, password: PASSWORD, email: `${bob}@example.com` });
    // The cookie is bob's now; the tab's storage is made to carry bob's CSRF value (a shared or tampered storage).
    storageA.setItem('authlib:csrf_token', storageC.getItem('authlib:csrf_token')!);
    const before = counter.count('/token-refresh');
    await expectClientError(tabA.refresh(), 401, 'unauthorized');
    expect(counter.count('/token-refresh')).toBe(before + 1);
    expect(tabA.store.getState()).toEqual({ accessToken: null, user: null });
    await expectClientError(tabA.profile(), 401, 'unauthorized');
    expect((await tabC.profile()).username).toBe(bob);
  });

  it('cookie mode: a peer message never writes the stored CSRF value, and a token not of the tab’s login is ignored', async () => {
    const browser = new Browser();
    const storage = memoryStorage();
    const key = uniqueName('peer');
    const tabA = createAuthClient({ baseUrl: api, mode: 'cookie', fetch: browser.page(front), storage, storageKey: key });
    const username = uniqueName('pa');
    const user = await tabA.register({ username, password: PASSWORD, email: `${username}@example.com` });
    const csrf = storage.getItem(`${key}:csrf_token`);
    const token = tabA.store.getAccessToken()!;
    const login = storage.getItem(`${key}:login`)!;
    const forged = (claims: object) => `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    const channel = new BroadcastChannel(`${key}:auth:cookie:${api}/api/v1/users`);
    channel.postMessage({ type: 'refreshed', login, token: forged({ sub: 'someone-else', sid: 'x' }), csrf: 'planted' });
    channel.postMessage({ type: 'refreshed', login, token: forged({ sub: user.id, sid: login.split(' ')[1] }), csrf: 'planted' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    channel.close();
    expect(storage.getItem(`${key}:csrf_token`)).toBe(csrf);
    expect(tabA.store.getAccessToken()).not.toBe(token);
    expect(tabA.store.getUser()?.id).toBe(user.id);
    // The real CSRF value still refreshes the login.
    await tabA.refresh();
    expect((await tabA.profile()).username).toBe(username);
    tabA.close();
  });

  it('two tabs sharing the cookie: a refresh in one reaches the other over BroadcastChannel, which does not rotate again', async () => {
    const { username, counter, tabA, tabB } = await twoTabs();
    const a = await tabA.refresh();
    await until(() => tabB.store.getAccessToken() === a);
    expect((await tabB.profile()).username).toBe(username);
    expect(counter.count('/token-refresh')).toBe(1);
    await tabA.logout();
    await until(() => tabB.store.getAccessToken() === null);
    tabA.close();
    tabB.close();
  });

  it('two tabs refreshing at the same moment take turns (Web Locks, as browsers have): one rotation', async () => {
    // Node 20 has no navigator.locks: a FIFO lock manager with the browser's semantics.
    const queues = new Map<string, Promise<unknown>>();
    const locks = {
      request(name: string, callback: () => Promise<unknown>) {
        const previous = queues.get(name) ?? Promise.resolve();
        const next = previous.then(callback, callback);
        queues.set(
          name,
          next.catch(() => undefined),
        );
        return next;
      },
    };
    const hadNavigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true });
    try {
      const { counter, tabA, tabB } = await twoTabs();
      const [a, b] = await Promise.all([tabA.refresh(), tabB.refresh()]);
      expect(b).toBe(a);
      expect(counter.count('/token-refresh')).toBe(1);
      tabA.close();
      tabB.close();
    } finally {
      if (hadNavigator) Object.defineProperty(globalThis, 'navigator', hadNavigator);
      else delete (globalThis as { navigator?: unknown }).navigator;
    }
  });
});

describe('account mail through the client: reset, verification, email change', () => {
  let t: TestApp;
  let server: Server;
  let api: string;
  const mails: Array<{ kind: string; to: string; token?: string }> = [];
  /** The newest mail of `kind` to `to`, once it has been sent (mail goes out after the answer). */
  const mailTo = async (to: string, kind: string) => {
    for (let i = 0; i < 100; i++) {
      const found = mails.filter((m) => m.to === to && m.kind === kind).at(-1);
      if (found?.token) return found.token;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no ${kind} mail to ${to}`);
  };

  beforeAll(async () => {
    t = await createTestApp({
      mailer: {
        send: async (m) => {
          mails.push(m);
        },
      },
    });
    server = await listen(t.app);
    api = `http://127.0.0.1:${portOf(server)}`;
  });
  afterAll(async () => {
    await closeServer(server);
    await t?.close();
  });

  it('resets a forgotten password: the old one stops working, the new one signs in', async () => {
    const client = createAuthClient({ baseUrl: api });
    const username = uniqueName('r');
    const email = `${username}@example.com`;
    await client.register({ username, password: PASSWORD, email });
    await client.requestPasswordReset(email);
    await client.requestPasswordReset(`nobody-${username}@example.com`); // answered alike
    await expectClientError(client.confirmPasswordReset('not-a-token', 'a brand new password 1'), 400, 'invalid_token');
    await client.confirmPasswordReset(await mailTo(email, 'password_reset'), 'a brand new password 1');
    await expectClientError(client.login({ username, password: PASSWORD }), 401, 'invalid_credentials');
    expect((await client.login({ username, password: 'a brand new password 1' })).username).toBe(username);
  });

  it('verifies an address and changes it; the change signs the client out', async () => {
    const client = createAuthClient({ baseUrl: api });
    const username = uniqueName('v');
    const email = `${username}@example.com`;
    await client.register({ username, password: PASSWORD, email });
    await client.requestVerification(email);
    expect((await client.confirmVerification(await mailTo(email, 'verification'))).email_verified).toBe(true);

    const next = `${username}-new@example.com`;
    await client.requestEmailChange(next);
    const changed = await client.confirmEmailChange(await mailTo(next, 'email_change'), PASSWORD);
    expect(changed.email).toBe(next);
    expect(client.store.getAccessToken()).toBeNull();
    await expectClientError(client.profile(), 401, 'unauthorized');
  });

  it('a password-less account confirms its email change signed in: the client sends its access token', async () => {
    const username = uniqueName('np');
    const created = await t.auth.users.create({ username, email: `${username}@example.com`, email_verified: true });
    const storage = memoryStorage();
    storage.setItem('authlib:refresh_token', (await t.auth.issueTokens(created.id)).refresh_token);
    const client = createAuthClient({ baseUrl: api, storage, crossTab: false });
    expect((await client.restore())?.username).toBe(username);
    const next = `${username}-new@example.com`;
    await client.requestEmailChange(next);
    const token = await mailTo(next, 'email_change');
    await expectClientError(createAuthClient({ baseUrl: api, crossTab: false }).confirmEmailChange(token), 401, 'unauthorized');
    expect((await client.confirmEmailChange(token)).email).toBe(next);
  });
});
