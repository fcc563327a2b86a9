import { createHash, randomBytes } from 'node:crypto';
import OAuth2Strategy from 'passport-oauth2';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager, type AuthManagerOptions } from '../src/index.js';
import { bearer, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { databaseOptions, rawQuery, uniqueSchema } from './helpers/database.js';
import { BASE, expectError, expectIsoUtc, expectUserObject, loginOk, refresh, uniqueName } from './helpers/endpoints.js';
import { closedPort, startFakeGitHub, type FakeGitHub, type FakeGitHubUser, type TokenFailure } from './helpers/fake-github.js';
import { startFakeGoogle, type FakeGoogle } from './helpers/fake-google.js';
import { authorizeAt, followOAuth, rememberBrowser } from './helpers/oauth-browser.js';
import { accountRows, userCount, userRow } from './helpers/oauth-db.js';

// Everything goes through HTTP: the app under test (supertest), and real provider servers on
// 127.0.0.1 (a hand-written GitHub, and oauth2-mock-server playing Google). Nothing in the library
// is stubbed; the app reaches the providers through the configured URL overrides.

const PUBLIC_URL = 'http://app.test';
const CALLBACK = `${PUBLIC_URL}${BASE}/login/oauth2callback`;
const CALLBACK_PATH = `${BASE}/login/oauth2callback`;
const MINUTE = 60_000;

let google: FakeGoogle;
let github: FakeGitHub;
/** Shifts the main app's clock (state expiry tests). */
let clockOffset = 0;
/** The main app: google + github, two allowed redirect targets, and a movable clock. */
let t: TestApp;
const extraApps: TestApp[] = [];
const extraFakes: Array<{ stop(): Promise<void> }> = [];

function googleConfig(g: FakeGoogle = google) {
  return { clientId: g.clientId, clientSecret: g.clientSecret, ...g.urls };
}
function githubConfig(h: FakeGitHub = github) {
  return { clientId: h.clientId, clientSecret: h.clientSecret, ...h.urls };
}

/** A further app on the same fakes (own schema); closed in afterAll. */
async function oauthApp(overrides: Partial<AuthManagerOptions> = {}): Promise<TestApp> {
  const app = await createTestApp({
    publicUrl: PUBLIC_URL,
    oauthConfig: { google: googleConfig(), github: githubConfig() },
    ...overrides,
  });
  extraApps.push(app);
  return app;
}

beforeAll(async () => {
  google = await startFakeGoogle({ callbackURL: CALLBACK });
  github = await startFakeGitHub({ callbackURL: CALLBACK });
  t = await createTestApp({
    publicUrl: PUBLIC_URL,
    oauthConfig: { google: googleConfig(), github: githubConfig() },
    allowedRedirects: ['http://front.test', 'https://good.example/app'],
    now: () => new Date(Date.now() + clockOffset),
  });
});

afterAll(async () => {
  await Promise.allSettled([t?.close(), ...extraApps.map((a) => a.close())]);
  await Promise.allSettled([google?.stop(), github?.stop(), ...extraFakes.map((f) => f.stop())]);
});

// ---------------------------------------------------------------------------------------------
// helpers

type LoginBody = {
  token: string;
  refresh_token: string;
  user: Record<string, unknown> & { id: string; username: string; email: string | null; email_verified: boolean };
};

async function beginRes(app: TestApp, body: Record<string, unknown>): Promise<Response> {
  return rememberBrowser(await app.http.post(`${BASE}/login/oauth`).send(body));
}

/** POST /login/oauth that must answer 200; returns the provider URL to send the browser to. */
async function begin(app: TestApp, provider: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await beginRes(app, { provider, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(typeof res.body.redirect_url).toBe('string');
  return res.body.redirect_url as string;
}

/** Whole sign-in: begin, provider approves, callback. Returns the callback's response. */
async function signIn(app: TestApp, provider: string): Promise<Response> {
  return followOAuth(app.http, await begin(app, provider));
}

/** A sign-in that must answer 200 {token, refresh_token, user}. */
async function signInOk(app: TestApp, provider: string): Promise<LoginBody> {
  const res = await signIn(app, provider);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as LoginBody;
}

const s256 = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');

/** The query of a provider authorization URL, as an object. */
function paramsOf(redirectUrl: string): Record<string, string> {
  return Object.fromEntries(new URL(redirectUrl).searchParams);
}

/** Asserts one of several acceptable error outcomes (status + code), with the contract's error body. */
function expectErrorOneOf(res: Response, outcomes: Array<[number, string]>): void {
  const match = outcomes.find(([status, code]) => res.status === status && res.body?.code === code);
  expect(match, `got ${res.status} ${JSON.stringify(res.body)}; expected one of ${JSON.stringify(outcomes)}`).toBeDefined();
  expectError(res, match![0], match![1]);
}

/** A local (password) user with the given email, registered over HTTP. */
async function localUser(app: TestApp, email: string) {
  const username = uniqueName('local');
  return registerUser(app, { username, email });
}

/** A local (password) user whose email is verified locally (as the coming email verification will make it). */
async function verifiedLocalUser(app: TestApp, email: string) {
  const username = uniqueName('verified');
  const user = await app.auth.users.create({ username, email, password: PASSWORD, email_verified: true });
  return { user, username, token: (await loginOk(app, username)).token };
}

/** A fresh GitHub account whose only address is `email` (primary; verified as told). */
function gh(email: string | null, verified = true, fields: Partial<FakeGitHubUser> = {}): FakeGitHubUser {
  return github.makeUser({ email, verified, ...fields });
}

function identities(app: TestApp, token: string, user = 'me') {
  return app.http.get(`${BASE}/${user}/identities`).set(bearer(token));
}
function unlink(app: TestApp, token: string, provider: string, user = 'me') {
  return app.http.delete(`${BASE}/${user}/identities/${provider}`).set(bearer(token));
}
function _profile(app: TestApp, token: string) {
  return app.http.get(`${BASE}/login/profile`).set(bearer(token));
}

// ---------------------------------------------------------------------------------------------

describe('POST /login/oauth: the authorization request', () => {
  it.each(['google', 'github'] as const)(
    '%s: 200 {redirect_url} to the provider with client_id, redirect_uri, a >= 128-bit state and PKCE S256',
    async (provider) => {
      const res = await beginRes(t, { provider });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(Object.keys(res.body)).toEqual(['redirect_url']);
      const url = new URL(res.body.redirect_url);
      const fake = provider === 'google' ? google : github;
      expect(`${url.origin}${url.pathname}`).toBe(fake.urls.authorizationURL);
      const q = paramsOf(res.body.redirect_url);
      expect(q.client_id).toBe(fake.clientId);
      expect(q.response_type).toBe('code');
      expect(q.redirect_uri).toBe(CALLBACK);
      expect(q.state).toMatch(/^[A-Za-z0-9_-]{22,}$/);
      expect(Buffer.from(q.state!, 'base64url').length).toBeGreaterThanOrEqual(16);
      expect(q.code_challenge_method).toBe('S256');
      expect(q.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // Never the client secret in a URL the browser sees.
      expect(res.body.redirect_url).not.toContain(fake.clientSecret);
      // The scopes that let the library see a (verified) email address.
      const scopes = (q.scope ?? '').split(/[\s,]+/);
      expect(scopes).toContain(provider === 'google' ? 'email' : 'user:email');
    },
  );

  it('every request gets its own state and its own code_challenge', async () => {
    const a = paramsOf(await begin(t, 'google'));
    const b = paramsOf(await begin(t, 'google'));
    const c = paramsOf(await begin(t, 'github'));
    expect(new Set([a.state, b.state, c.state]).size).toBe(3);
    expect(new Set([a.code_challenge, b.code_challenge, c.code_challenge]).size).toBe(3);
  });

  it.each(['google', 'github'])('%s: redirect_uri comes from publicUrl, never from Host / X-Forwarded-Host / X-Forwarded-Proto', async (provider) => {
    const res = await t.http
      .post(`${BASE}/login/oauth`)
      .set('Host', 'evil.example')
      .set('X-Forwarded-Host', 'evil.example')
      .set('X-Forwarded-Proto', 'https')
      .set('Forwarded', 'host=evil.example;proto=https')
      .send({ provider });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(paramsOf(res.body.redirect_url).redirect_uri).toBe(CALLBACK);
    expect(res.body.redirect_url).not.toContain('evil.example');
  });

  it('the state is not stored in plain text', async () => {
    const { state } = paramsOf(await begin(t, 'github'));
    const rows = await rawQuery(`SELECT * FROM "${t.schema}".oauth_states`);
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(state!);
  });

  it.each(['gitlab', '__proto__', 'constructor', 'toString', 'hasOwnProperty'])('unknown provider %j: 400 unknown_provider', async (provider) => {
    expectError(await beginRes(t, { provider }), 400, 'unknown_provider');
  });

  it.each([
    ['missing', {}],
    ['a number', { provider: 7 }],
    ['an object', { provider: { name: 'google' } }],
  ])('provider %s: 400 (validation_error or unknown_provider)', async (_label, body) => {
    expectErrorOneOf(await beginRes(t, body), [
      [400, 'validation_error'],
      [400, 'unknown_provider'],
    ]);
  });
});

describe('Google, end to end', () => {
  it('a new Google account: 200 {token, refresh_token, user}; the tokens work; PKCE and the exact redirect_uri reached the provider', async () => {
    const before = await userCount(t);
    google.nextUser = google.makeUser({ name: 'Grace Hopper' });
    const { email, sub } = google.nextUser;
    const redirectUrl = await begin(t, 'google');
    const res = await followOAuth(t.http, redirectUrl);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['refresh_token', 'token', 'user']);
    expect(res.headers['cache-control']).toMatch(/no-store/);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expectUserObject(res.body.user);
    expect(res.body.user.email).toBe(email);
    expect(res.body.user.is_active).toBe(true);
    expect(res.body.user.roles).toEqual(['user']);
    expect(await userCount(t)).toBe(before + 1);

    const me = await t.http.get('/me').set(bearer(res.body.token));
    expect(me.status).toBe(200);
    expect(me.body.username).toBe(res.body.user.username);
    expect((await refresh(t, res.body.refresh_token)).status).toBe(200);

    // What the provider saw: the registered redirect_uri and a verifier matching the challenge.
    expect(google.lastTokenRequest?.redirect_uri).toBe(CALLBACK);
    expect(google.lastTokenRequest?.code_verifier).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
    expect(s256(google.lastTokenRequest!.code_verifier!)).toBe(paramsOf(redirectUrl).code_challenge);
    expect(google.lastTokenRequest?.client_secret).toBe(google.clientSecret);

    const rows = await accountRows(t, res.body.user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'google', provider_user_id: sub });
  });

  it('a new user from a verified Google address has email_verified true', async () => {
    google.nextUser = google.makeUser({ email_verified: true });
    const body = await signInOk(t, 'google');
    expect(body.user.email).toBe(google.nextUser.email);
    expect(body.user.email_verified).toBe(true);
  });

  it('the same Google subject twice is the same user, even after the address changed at Google', async () => {
    google.nextUser = google.makeUser();
    const first = await signInOk(t, 'google');
    const count = await userCount(t);
    google.nextUser = { ...google.nextUser, email: `renamed_${randomBytes(3).toString('hex')}@gmail.example` };
    const second = await signInOk(t, 'google');
    expect(second.user.id).toBe(first.user.id);
    expect(second.token).not.toBe(first.token);
    expect(await userCount(t)).toBe(count);
  });

  it('two Google subjects are two users', async () => {
    google.nextUser = google.makeUser();
    const a = await signInOk(t, 'google');
    google.nextUser = google.makeUser();
    const b = await signInOk(t, 'google');
    expect(a.user.id).not.toBe(b.user.id);
    expect(a.user.username).not.toBe(b.user.username);
  });
});

describe('GitHub, end to end', () => {
  it('a new GitHub account with a primary verified address: 200, user with that address, identity keyed by the GitHub id', async () => {
    const before = await userCount(t);
    github.nextUser = {
      id: 900_000 + Math.floor(Math.random() * 99_999),
      login: uniqueName('octo'),
      name: 'The Octocat',
      emails: [
        { email: `secondary_${randomBytes(3).toString('hex')}@example.net`, primary: false, verified: true },
        { email: `primary_${randomBytes(3).toString('hex')}@example.net`, primary: true, verified: true },
      ],
    };
    const expected = github.nextUser;
    const hits = { user: github.hits['GET /user'] ?? 0, emails: github.hits['GET /user/emails'] ?? 0 };
    const redirectUrl = await begin(t, 'github');
    const res = await followOAuth(t.http, redirectUrl);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers['cache-control']).toMatch(/no-store/);
    expectUserObject(res.body.user);
    expect(res.body.user.email).toBe(expected.emails[1]!.email);
    expect(res.body.user.email_verified).toBe(true);
    expect(res.body.user.username).toBe(expected.login);
    expect(await userCount(t)).toBe(before + 1);
    expect((await t.http.get('/me').set(bearer(res.body.token))).status).toBe(200);

    expect(github.hits['GET /user']).toBe(hits.user + 1);
    expect(github.hits['GET /user/emails']).toBe(hits.emails + 1);
    expect(s256(github.lastTokenRequest!.code_verifier!)).toBe(paramsOf(redirectUrl).code_challenge);
    expect(github.lastTokenRequest?.redirect_uri).toBe(CALLBACK);

    const rows = await accountRows(t, res.body.user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'github', provider_user_id: String(expected.id) });
  });

  it('the same GitHub id is the same user even after a rename of the login', async () => {
    github.nextUser = gh(`${uniqueName('gh')}@example.net`);
    const first = await signInOk(t, 'github');
    github.nextUser = { ...github.nextUser, login: uniqueName('renamed') };
    const second = await signInOk(t, 'github');
    expect(second.user.id).toBe(first.user.id);
  });

  it('a login already taken by a local user gives the new user another, unique username', async () => {
    const login = uniqueName('taken');
    const local = await registerUser(t, { username: login, email: `${login}@local.example` });
    github.nextUser = gh(`${login}@elsewhere.example`, true, { login });
    const body = await signInOk(t, 'github');
    expect(body.user.id).not.toBe(local.user.id);
    expect(body.user.username.toLowerCase()).not.toBe(login.toLowerCase());
    expect(body.user.username.toLowerCase()).toContain(login.toLowerCase());
    expect((await t.http.get('/me').set(bearer(body.token))).body.username).toBe(body.user.username);
  });

  it('a provider login that imitates another name in a second script (Cyrillic а in admin) never becomes a username', async () => {
    const suffix = String(Date.now());
    github.nextUser = gh(`mixed${suffix}@elsewhere.example`, true, { login: `аdmin${suffix}` });
    const body = await signInOk(t, 'github');
    expect(body.user.username).toMatch(/^github_user/);
    // A single-script login is kept as it is.
    github.nextUser = gh(`cyr${suffix}@elsewhere.example`, true, { login: `админ${suffix}` });
    expect((await signInOk(t, 'github')).user.username).toBe(`админ${suffix}`);
  });
});

describe('who may sign in', () => {
  it('an OAuth-only user has no password: POST /login answers 401 invalid_credentials', async () => {
    google.nextUser = google.makeUser();
    const body = await signInOk(t, 'google');
    const res = await t.http.post(`${BASE}/login`).send({ username: body.user.username, password: PASSWORD });
    expectError(res, 401, 'invalid_credentials');
  });

  it('a disabled user cannot sign in through a linked provider: 403 account_disabled, no tokens', async () => {
    google.nextUser = google.makeUser();
    const body = await signInOk(t, 'google');
    await t.auth.users.setActive(body.user.id, false);
    const res = await signIn(t, 'google');
    expectError(res, 403, 'account_disabled');
    await t.auth.users.setActive(body.user.id, true);
    expect((await signInOk(t, 'google')).user.id).toBe(body.user.id);
  });

  it('a disabled local user is not reachable by linking a verified address either: 403 account_disabled', async () => {
    const email = `${uniqueName('dis')}@example.com`;
    const local = await verifiedLocalUser(t, email);
    await t.auth.users.setActive(local.user.id, false);
    github.nextUser = gh(email, true);
    const count = await userCount(t);
    expectError(await signIn(t, 'github'), 403, 'account_disabled');
    expect(await userCount(t)).toBe(count);
  });
});

describe('the state', () => {
  it('is single use: replaying the callback URL answers 400 invalid_state and creates nothing', async () => {
    google.nextUser = google.makeUser();
    const { callbackPath, cookie } = await authorizeAt(await begin(t, 'google'));
    expect((await t.http.get(callbackPath).set('Cookie', cookie)).status).toBe(200);
    const count = await userCount(t);
    expectError(await t.http.get(callbackPath).set('Cookie', cookie), 400, 'invalid_state');
    expect(await userCount(t)).toBe(count);
  });

  it('is consumed atomically: two concurrent callbacks with one state give one 200 and one 400 invalid_state', async () => {
    google.nextUser = google.makeUser();
    const { callbackPath, cookie } = await authorizeAt(await begin(t, 'google'));
    const results = await Promise.all([t.http.get(callbackPath).set('Cookie', cookie), t.http.get(callbackPath).set('Cookie', cookie)]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses, JSON.stringify(results.map((r) => r.body))).toEqual([200, 400]);
    expectError(
      results.find((r) => r.status === 400)!,
      400,
      'invalid_state',
    );
  });

  it('is bound to its provider: a Google state presented with provider=github answers 400 invalid_state', async () => {
    google.nextUser = google.makeUser();
    const { callbackPath, cookie } = await authorizeAt(await begin(t, 'google'));
    const count = await userCount(t);
    expectError(await t.http.get(`${callbackPath}&provider=github`).set('Cookie', cookie), 400, 'invalid_state');
    expect(await userCount(t)).toBe(count);
  });

  it('a GitHub state presented with provider=google answers 400 invalid_state', async () => {
    github.nextUser = gh(`${uniqueName('b')}@example.net`);
    const { callbackPath, cookie } = await authorizeAt(await begin(t, 'github'));
    expectError(await t.http.get(`${callbackPath}&provider=google`).set('Cookie', cookie), 400, 'invalid_state');
  });

  it.each([
    ['no state at all', (q: URLSearchParams) => q.delete('state')],
    ['an empty state', (q: URLSearchParams) => q.set('state', '')],
    ['a random state', (q: URLSearchParams) => q.set('state', randomBytes(32).toString('base64url'))],
    [
      'the state with one character changed',
      (q: URLSearchParams) => q.set('state', `${q.get('state')!.slice(0, -1)}${q.get('state')!.endsWith('A') ? 'B' : 'A'}`),
    ],
    ['the state twice', (q: URLSearchParams) => q.append('state', q.get('state')!)],
  ])('%s: 400 invalid_state, nothing created', async (_label, mutate) => {
    google.nextUser = google.makeUser();
    const { callbackUrl, cookie } = await authorizeAt(await begin(t, 'google'));
    const q = new URLSearchParams(callbackUrl.search);
    mutate(q);
    const count = await userCount(t);
    // The browser that began the flow, so only the state itself is wrong.
    expectError(await t.http.get(`${callbackUrl.pathname}?${q.toString()}`).set('Cookie', cookie), 400, 'invalid_state');
    expect(await userCount(t)).toBe(count);
  });

  it('missing state with a bare code, and with provider=google: 400 invalid_state', async () => {
    expectError(await t.http.get(`${CALLBACK_PATH}?code=abc`), 400, 'invalid_state');
    expectError(await t.http.get(`${CALLBACK_PATH}?code=abc&provider=google`), 400, 'invalid_state');
    expectError(await t.http.get(CALLBACK_PATH), 400, 'invalid_state');
  });

  it('expires after 10 minutes: 11 minutes later the callback answers 400 invalid_state; 9 minutes later it works', async () => {
    try {
      google.nextUser = google.makeUser();
      const late = await authorizeAt(await begin(t, 'google'));
      google.nextUser = google.makeUser();
      const inTime = await authorizeAt(await begin(t, 'google'));
      const count = await userCount(t);
      clockOffset = 11 * MINUTE;
      expectError(await t.http.get(late.callbackPath).set('Cookie', late.cookie), 400, 'invalid_state');
      expect(await userCount(t)).toBe(count);
      clockOffset = 9 * MINUTE;
      const ok = await t.http.get(inTime.callbackPath).set('Cookie', inTime.cookie);
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    } finally {
      clockOffset = 0;
    }
  });
});

describe('provider failures: a clean 4xx/502, never a 500, never a half-created user', () => {
  it.each(['google', 'github'] as const)('%s: the user denies access -> 403 access_denied', async (provider) => {
    const fake = provider === 'google' ? google : github;
    if (provider === 'google') google.nextUser = google.makeUser();
    else github.nextUser = gh(`${uniqueName('deny')}@example.net`);
    const count = await userCount(t);
    fake.deny = true;
    const res = await signIn(t, provider);
    expectError(res, 403, 'access_denied');
    expect(await userCount(t)).toBe(count);
  });

  it.each<[string, TokenFailure]>([
    ['401 bad_verification_code', 'bad_verification_code'],
    ['200 with an error body (what github.com does)', 'github_style_error'],
    ['200 text/html garbage', 'garbage'],
  ])('github token endpoint answers %s -> 400 oauth_failed', async (_label, failure) => {
    github.nextUser = gh(`${uniqueName('tf')}@example.net`);
    const count = await userCount(t);
    github.failNextToken = failure;
    const res = await signIn(t, 'github');
    expectError(res, 400, 'oauth_failed', [github.clientSecret]);
    expect(await userCount(t)).toBe(count);
    expect(await accountRows(t).then((rows) => rows.filter((r) => r.provider_user_id === String(github.nextUser.id)))).toHaveLength(0);
  });

  it.each([
    ['invalid_grant', 'invalid_grant'],
    ['a token response without access_token', 'no_access_token'],
  ] as const)('google token endpoint answers %s -> 400 oauth_failed', async (_label, failure) => {
    google.nextUser = google.makeUser();
    const count = await userCount(t);
    google.failNextToken = failure;
    expectError(await signIn(t, 'google'), 400, 'oauth_failed', [google.clientSecret]);
    expect(await userCount(t)).toBe(count);
  });

  it('a forged code with a valid state -> 400 oauth_failed', async () => {
    google.nextUser = google.makeUser();
    const { callbackUrl, cookie } = await authorizeAt(await begin(t, 'google'));
    const q = new URLSearchParams(callbackUrl.search);
    q.set('code', 'forged-code');
    const count = await userCount(t);
    expectError(await t.http.get(`${callbackUrl.pathname}?${q.toString()}`).set('Cookie', cookie), 400, 'oauth_failed');
    expect(await userCount(t)).toBe(count);
  });

  it('github token endpoint answers 503 -> 400 oauth_failed or 502 provider_unavailable', async () => {
    github.nextUser = gh(`${uniqueName('t5')}@example.net`);
    const count = await userCount(t);
    github.failNextToken = 'server_error';
    expectErrorOneOf(await signIn(t, 'github'), [
      [400, 'oauth_failed'],
      [502, 'provider_unavailable'],
    ]);
    expect(await userCount(t)).toBe(count);
  });

  it('github token endpoint drops the connection -> 502 provider_unavailable', async () => {
    github.nextUser = gh(`${uniqueName('rst')}@example.net`);
    const count = await userCount(t);
    github.failNextToken = 'reset';
    expectError(await signIn(t, 'github'), 502, 'provider_unavailable');
    expect(await userCount(t)).toBe(count);
  });

  it.each(['unauthorized', 'garbage'] as const)('github GET /user answers %s -> 400 oauth_failed or 502 provider_unavailable', async (failure) => {
    github.nextUser = gh(`${uniqueName('pf')}@example.net`);
    const count = await userCount(t);
    github.failNextProfile = failure;
    expectErrorOneOf(await signIn(t, 'github'), [
      [400, 'oauth_failed'],
      [502, 'provider_unavailable'],
    ]);
    expect(await userCount(t)).toBe(count);
  });

  it.each(['garbage', 'empty', 'not_found'] as const)(
    'github GET /user/emails answers %s -> 400 oauth_failed or 502 provider_unavailable (and the process survives)',
    async (failure) => {
      github.nextUser = gh(`${uniqueName('ef')}@example.net`);
      const count = await userCount(t);
      github.failNextEmails = failure;
      expectErrorOneOf(await signIn(t, 'github'), [
        [400, 'oauth_failed'],
        [502, 'provider_unavailable'],
      ]);
      expect(await userCount(t)).toBe(count);
      // Still serving.
      expect((await signIn(t, 'github')).status).toBe(200);
    },
  );

  describe('provider unreachable', () => {
    let down: TestApp;
    let doomed: FakeGitHub;
    beforeAll(async () => {
      doomed = await startFakeGitHub({ callbackURL: CALLBACK });
      extraFakes.push(doomed);
      // google: authorize and token at the real fake, userinfo at a port nobody listens on.
      const deadPort = await closedPort();
      down = await oauthApp({
        oauthConfig: {
          github: githubConfig(doomed),
          google: { ...googleConfig(), userProfileURL: `http://127.0.0.1:${deadPort}/userinfo` },
        },
      });
    });

    it('github goes down between the authorize redirect and the callback -> 502 provider_unavailable, no user', async () => {
      doomed.nextUser = doomed.makeUser();
      const { callbackPath, cookie } = await authorizeAt(await begin(down, 'github'));
      await doomed.stop();
      const count = await userCount(down);
      expectError(await down.http.get(callbackPath).set('Cookie', cookie), 502, 'provider_unavailable');
      expect(await userCount(down)).toBe(count);
      expect(await accountRows(down)).toHaveLength(0);
    });

    it('google userinfo endpoint unreachable -> 502 provider_unavailable, no user', async () => {
      google.nextUser = google.makeUser();
      const count = await userCount(down);
      expectError(await signIn(down, 'google'), 502, 'provider_unavailable');
      expect(await userCount(down)).toBe(count);
    });
  });
});

describe('accounts are keyed by identity; email links only when the provider vouches for it', () => {
  it("google, unverified address equal to a local user's: a separate new user; the local user is untouched", async () => {
    const email = `${uniqueName('uv')}@example.com`;
    const local = await localUser(t, email);
    google.nextUser = google.makeUser({ email, email_verified: false });
    const body = await signInOk(t, 'google');
    expect(body.user.id).not.toBe(local.user.id);
    expect(await userRow(t, local.user.id)).toMatchObject({ email, email_verified: false });
    expect(await accountRows(t, local.user.id)).toHaveLength(0);
    // The local user's password still logs into the local user.
    expect((await loginOk(t, local.username)).user.id).toBe(local.user.id);
  });

  it("github, primary address unverified and equal to a local user's: a separate new user", async () => {
    const email = `${uniqueName('uvg')}@example.com`;
    const local = await localUser(t, email);
    github.nextUser = gh(email, false);
    const body = await signInOk(t, 'github');
    expect(body.user.id).not.toBe(local.user.id);
    expect(await accountRows(t, local.user.id)).toHaveLength(0);
    expect(await userRow(t, local.user.id)).toMatchObject({ email, email_verified: false });
  });

  it("github, the local user's address only as the public profile email (not in the verified primary): not linked", async () => {
    const email = `${uniqueName('pub')}@example.com`;
    const local = await localUser(t, email);
    github.nextUser = { ...gh(`${uniqueName('other')}@example.net`, true), email };
    const body = await signInOk(t, 'github');
    expect(body.user.id).not.toBe(local.user.id);
    expect(await accountRows(t, local.user.id)).toHaveLength(0);
  });

  it("google, verified address equal to a locally verified user's (other case): linked to that user; email unchanged", async () => {
    const email = `${uniqueName('Link')}@Example.com`;
    const local = await verifiedLocalUser(t, email);
    const count = await userCount(t);
    google.nextUser = google.makeUser({ email: email.toLowerCase(), email_verified: true });
    const body = await signInOk(t, 'google');
    expect(body.user.id).toBe(local.user.id);
    expect(await userCount(t)).toBe(count);
    expect(await userRow(t, local.user.id)).toMatchObject({ email, email_verified: true });
    expect(body.user.email).toBe(email);
    const rows = await accountRows(t, local.user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'google', provider_user_id: google.nextUser.sub });
    // The password still works, and the next Google sign-in lands on the same user.
    expect((await loginOk(t, local.username)).user.id).toBe(local.user.id);
    expect((await signInOk(t, 'google')).user.id).toBe(local.user.id);
  });

  it("github, primary verified address equal to a locally verified user's: linked", async () => {
    const email = `${uniqueName('lg')}@example.com`;
    const local = await verifiedLocalUser(t, email);
    github.nextUser = gh(email, true);
    const body = await signInOk(t, 'github');
    expect(body.user.id).toBe(local.user.id);
    expect(await userRow(t, local.user.id)).toMatchObject({ email, email_verified: true });
  });

  it('a second Google account with the verified address of a user already linked to Google never answers 500 and never steals the link', async () => {
    google.nextUser = google.makeUser();
    const owner = google.nextUser;
    const first = await signInOk(t, 'google');
    google.nextUser = google.makeUser({ email: owner.email });
    const res = await signIn(t, 'google');
    expect(res.status).not.toBe(500);
    if (res.status === 200) {
      expect(res.body.user.id).not.toBe(first.user.id);
    } else {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(typeof res.body.code).toBe('string');
    }
    const rows = await accountRows(t, first.user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'google', provider_user_id: owner.sub });
    google.nextUser = owner;
    expect((await signInOk(t, 'google')).user.id).toBe(first.user.id);
  });
});

describe('oauthAutoCreate: false', () => {
  let closed: TestApp;
  beforeAll(async () => {
    closed = await oauthApp({ oauthAutoCreate: false });
  });

  it.each(['google', 'github'] as const)('%s: an unknown identity answers 403 forbidden and creates nothing', async (provider) => {
    if (provider === 'google') google.nextUser = google.makeUser();
    else github.nextUser = gh(`${uniqueName('nc')}@example.net`);
    const count = await userCount(closed);
    expectError(await signIn(closed, provider), 403, 'forbidden');
    expect(await userCount(closed)).toBe(count);
    expect(await accountRows(closed)).toHaveLength(0);
  });
});

describe('sending the browser back to a front end', () => {
  function fragmentOf(res: Response): { url: URL; fragment: URLSearchParams } {
    expect(res.status, JSON.stringify(res.body)).toBe(302);
    const url = new URL(res.headers.location!);
    return { url, fragment: new URLSearchParams(url.hash.slice(1)) };
  }

  it('oauthRedirect: 302 to it with the tokens in the fragment (never the query), Referrer-Policy no-referrer, no-store', async () => {
    const front = await oauthApp({ oauthRedirect: 'http://front.test/cb' });
    google.nextUser = google.makeUser();
    const res = await signIn(front, 'google');
    expect(res.headers.location).toMatch(/^http:\/\/front\.test\/cb#/);
    const { url, fragment } = fragmentOf(res);
    expect(url.search).toBe('');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toMatch(/no-store/);
    const token = fragment.get('token');
    const refreshToken = fragment.get('refresh_token');
    expect(token).toBeTruthy();
    expect(refreshToken).toBeTruthy();
    expect(res.headers.location!.indexOf('token=')).toBeGreaterThan(res.headers.location!.indexOf('#'));
    expect((await front.http.get('/me').set(bearer(token!))).status).toBe(200);
    expect((await refresh(front, refreshToken)).status).toBe(200);
  });

  it('a failed sign-in never sends tokens to the front end: JSON 403, or 302 with only an error in the fragment', async () => {
    const front = await oauthApp({ oauthRedirect: 'http://front.test/cb' });
    google.nextUser = google.makeUser();
    google.deny = true;
    const res = await signIn(front, 'google');
    if (res.status === 302) {
      const { url, fragment } = fragmentOf(res);
      expect(`${url.origin}${url.pathname}`).toBe('http://front.test/cb');
      expect(url.search).toBe('');
      expect(fragment.get('error')).toBe('access_denied');
      expect(fragment.has('token')).toBe(false);
      expect(fragment.has('refresh_token')).toBe(false);
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    } else {
      expectError(res, 403, 'access_denied');
    }
    expect(await userCount(front)).toBe(0);
  });

  it('redirect_to in allowedRedirects (origin entry): 302 there, its own query kept, tokens only in the fragment', async () => {
    github.nextUser = gh(`${uniqueName('rt')}@example.net`);
    const res = await followOAuth(t.http, await begin(t, 'github', { redirect_to: 'http://front.test/after?tab=2' }));
    const { url, fragment } = fragmentOf(res);
    expect(url.origin).toBe('http://front.test');
    expect(url.pathname).toBe('/after');
    expect(url.searchParams.get('tab')).toBe('2');
    expect(url.search).not.toContain('token');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect((await t.http.get('/me').set(bearer(fragment.get('token')!))).status).toBe(200);
  });

  it('redirect_to under an allowed path prefix: 302 there', async () => {
    google.nextUser = google.makeUser();
    const res = await followOAuth(t.http, await begin(t, 'google', { redirect_to: 'https://good.example/app/done' }));
    const { url, fragment } = fragmentOf(res);
    expect(`${url.origin}${url.pathname}`).toBe('https://good.example/app/done');
    expect(fragment.get('token')).toBeTruthy();
  });

  it.each([
    '//evil.example',
    '//evil.example/app',
    'https://evil.example',
    'https://good.example@evil.example/app',
    'https://good.example:443@evil.example/app',
    'https://good.example.evil.example/app',
    'http://front.test.evil.example/',
    'http://front.test@evil.example/',
    'https:\\\\evil.example',
    'https:/\\evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    'javascript:alert(1)',
    'JavaScript:alert(document.cookie)',
    ' javascript:alert(1)',
    'java\tscript:alert(1)',
    'javascript%3Aalert(1)',
    'data:text/html,<script>alert(1)</script>',
    '%2F%2Fevil.example',
    'https:%2F%2Fevil.example',
    'https%3A%2F%2Fevil.example',
    'http://front.test:8080/',
    'https://front.test/',
    'http://good.example/app',
    'https://good.example:8443/app',
    'https://good.example/other',
    'https://good.example/application',
    'https://good.example/APP/x',
    'https://good.example/',
    'https://good.example/app/../admin',
    'https://good.example/app/%2e%2e/admin',
    'ftp://front.test/',
  ])('forged redirect_to %j: 400 invalid_redirect at POST /login/oauth', async (redirectTo) => {
    const res = await beginRes(t, { provider: 'google', redirect_to: redirectTo });
    expectError(res, 400, 'invalid_redirect');
  });

  it.each([
    'http://front.test',
    'http://front.test/',
    'http://FRONT.test/x',
    'http://front.test:80/x',
    'https://good.example/app',
    'https://good.example/app/',
    'https://good.example/app?x=1',
    'https://good.example/app/deep/er',
  ])('allowed redirect_to %j: 200 at POST /login/oauth', async (redirectTo) => {
    const res = await beginRes(t, { provider: 'google', redirect_to: redirectTo });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it('redirect_to is refused even when no allow-list is configured', async () => {
    const none = await oauthApp();
    expectError(await beginRes(none, { provider: 'google', redirect_to: 'http://front.test/' }), 400, 'invalid_redirect');
  });
});

describe('GET /auth-methods', () => {
  it('lists password and both configured providers; otp off without a mailer, mfa (TOTP) always on, passkeys off without webauthn', async () => {
    const res = await t.http.get(`${BASE}/auth-methods`);
    expect(res.status).toBe(200);
    const body = res.body as { oauth2: { providers: string[] } };
    expect({ ...body, oauth2: { providers: [...body.oauth2.providers].sort() } }).toEqual({
      password: { enabled: true },
      oauth2: { providers: ['github', 'google'] },
      otp: { enabled: false },
      mfa: { enabled: true },
      passkey: { enabled: false },
    });
  });
});

describe('linked identities', () => {
  /** A user signed up with Google and linked to GitHub through the same verified address. */
  async function twoProviderUser() {
    const email = `${uniqueName('both')}@example.org`;
    google.nextUser = google.makeUser({ email, email_verified: true });
    const viaGoogle = await signInOk(t, 'google');
    github.nextUser = gh(email, true);
    const viaGithub = await signInOk(t, 'github');
    expect(viaGithub.user.id).toBe(viaGoogle.user.id);
    return { user: viaGoogle.user, token: viaGithub.token, googleUser: google.nextUser, githubUser: github.nextUser };
  }

  it('GET /me/identities lists {provider, provider_user_id, email, email_verified, created_at}, and no token', async () => {
    const u = await twoProviderUser();
    const res = await identities(t, u.token);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
    const list = [...(res.body as Array<Record<string, unknown>>)].sort((a, b) => String(a.provider).localeCompare(String(b.provider)));
    expect(list).toHaveLength(2);
    for (const item of list) {
      expect(Object.keys(item).sort()).toEqual(['created_at', 'email', 'email_verified', 'provider', 'provider_user_id']);
      expect(item.email_verified).toBe(true);
      expectIsoUtc(item.created_at);
    }
    expect(list[0]).toMatchObject({ provider: 'github', provider_user_id: String(u.githubUser.id) });
    expect(list[1]).toMatchObject({ provider: 'google', provider_user_id: u.googleUser.sub });
    for (const issued of [...github.issued, ...google.issued]) expect(res.text).not.toContain(issued.access_token);
    expect(res.text).not.toMatch(/token/i);
    // The same through the user's id.
    const byId = await identities(t, u.token, u.user.id);
    expect(byId.status).toBe(200);
    expect(byId.body).toHaveLength(2);
  });

  it('needs authentication; another user cannot see them; an admin can', async () => {
    const u = await twoProviderUser();
    expectError(await t.http.get(`${BASE}/me/identities`), 401, 'unauthorized');
    const other = await registerUser(t);
    expectErrorOneOf(await identities(t, other.token, u.user.id), [
      [404, 'not_found'],
      [403, 'forbidden'],
    ]);
    expectErrorOneOf(await unlink(t, other.token, 'github', u.user.id), [
      [404, 'not_found'],
      [403, 'forbidden'],
    ]);
    const admin = await registerUser(t);
    await t.auth.users.setRoles(admin.user.id, ['admin', 'user']);
    const adminToken = (await loginOk(t, admin.username)).token;
    const res = await identities(t, adminToken, u.user.id);
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
    expect(await accountRows(t, u.user.id)).toHaveLength(2);
  });

  it('a local user without identities gets []', async () => {
    const local = await registerUser(t);
    const res = await identities(t, local.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  it('unlinking one of two providers: 200; it is gone; the other still signs in; the last one is refused with 409 conflict', async () => {
    const u = await twoProviderUser();
    const res = await unlink(t, u.token, 'github');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const after = await identities(t, u.token);
    expect((after.body as Array<{ provider: string }>).map((i) => i.provider)).toEqual(['google']);
    expect(await t.auth.integrations.get(u.user.id, 'github')).toBeUndefined();

    google.nextUser = u.googleUser;
    const again = await signInOk(t, 'google');
    expect(again.user.id).toBe(u.user.id);

    // Google is now the only way in: no password, no other identity.
    expectError(await unlink(t, again.token, 'google'), 409, 'conflict');
    expect(await accountRows(t, u.user.id)).toHaveLength(1);
    expect((await signInOk(t, 'google')).user.id).toBe(u.user.id);
  });

  it('a user with a password may unlink their only identity', async () => {
    const email = `${uniqueName('pw')}@example.com`;
    const local = await verifiedLocalUser(t, email);
    github.nextUser = gh(email, true);
    expect((await signInOk(t, 'github')).user.id).toBe(local.user.id);
    const res = await unlink(t, local.token, 'github');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await accountRows(t, local.user.id)).toHaveLength(0);
    expect((await loginOk(t, local.username, PASSWORD)).user.id).toBe(local.user.id);
  });

  it('unlinking a provider that is not linked: 404 not_found', async () => {
    const local = await registerUser(t);
    expectError(await unlink(t, local.token, 'github'), 404, 'not_found');
  });
});

describe('auth.integrations.get: provider tokens, encrypted at rest', () => {
  it('github: returns the provider access and refresh tokens decrypted, and the granted scopes', async () => {
    github.issueRefreshTokens = true;
    try {
      github.nextUser = gh(`${uniqueName('int')}@example.net`);
      const body = await signInOk(t, 'github');
      const issued = github.issued.at(-1)!;
      expect(issued.user_id).toBe(github.nextUser.id);
      const integration = await t.auth.integrations.get(body.user.id, 'github');
      expect(integration).toBeDefined();
      expect(integration).toMatchObject({
        provider: 'github',
        provider_user_id: String(github.nextUser.id),
        access_token: issued.access_token,
        refresh_token: issued.refresh_token,
      });
      expect(Array.isArray(integration!.scopes)).toBe(true);
      expect(integration!.scopes).toContain('user:email');

      // At rest: neither token, in any column, in plain text.
      const rows = await accountRows(t);
      const dump = JSON.stringify(rows);
      expect(dump).toContain(String(github.nextUser.id));
      expect(dump).not.toContain(issued.access_token);
      expect(dump).not.toContain(issued.refresh_token!);
      expect(dump).not.toContain(Buffer.from(issued.access_token).toString('base64'));
      const states = JSON.stringify(await rawQuery(`SELECT * FROM "${t.schema}".oauth_states`));
      expect(states).not.toContain(github.lastTokenRequest!.code_verifier!);
    } finally {
      github.issueRefreshTokens = false;
    }
  });

  it('a later sign-in replaces the stored provider token', async () => {
    github.nextUser = gh(`${uniqueName('int2')}@example.net`);
    const first = await signInOk(t, 'github');
    const second = await signInOk(t, 'github');
    expect(second.user.id).toBe(first.user.id);
    const integration = await t.auth.integrations.get(first.user.id, 'github');
    expect(integration?.access_token).toBe(github.issued.at(-1)!.access_token);
  });

  it('google: the access token from the token endpoint', async () => {
    google.nextUser = google.makeUser();
    const body = await signInOk(t, 'google');
    const issued = google.issued.at(-1)!;
    const integration = await t.auth.integrations.get(body.user.id, 'google');
    expect(integration).toMatchObject({ provider: 'google', provider_user_id: google.nextUser.sub, access_token: issued.access_token });
    expect(JSON.stringify(await accountRows(t, body.user.id))).not.toContain(issued.access_token);
  });

  it('undefined when the user has no such link, or does not exist', async () => {
    google.nextUser = google.makeUser();
    const body = await signInOk(t, 'google');
    expect(await t.auth.integrations.get(body.user.id, 'github')).toBeUndefined();
    expect(await t.auth.integrations.get(body.user.id, 'acme')).toBeUndefined();
    expect(await t.auth.integrations.get('00000000-0000-4000-8000-000000000000', 'google')).toBeUndefined();
  });
});

describe('a custom passport strategy (oauthConfig[name] = { strategy })', () => {
  let acme: TestApp;
  beforeAll(async () => {
    const strategy = new OAuth2Strategy(
      {
        authorizationURL: github.urls.authorizationURL,
        tokenURL: github.urls.tokenURL,
        clientID: github.clientId,
        clientSecret: github.clientSecret,
        callbackURL: 'ignored',
        state: true,
        pkce: true,
      },
      (_accessToken: string, _refreshToken: string, _profile: unknown, done: OAuth2Strategy.VerifyCallback) =>
        // A passport profile; typed as Express.User only because that is what passport's callback says.
        done(null, { id: 'a1', username: 'acme_user', displayName: 'Acme User', emails: [{ value: 'x@acme.test', verified: false }] }),
    );
    acme = await oauthApp({ oauthConfig: { acme: { strategy } } });
  });

  it('signs in through it: redirect_uri from publicUrl, PKCE S256, a user created and keyed by (acme, a1)', async () => {
    const redirectUrl = await begin(acme, 'acme');
    const q = paramsOf(redirectUrl);
    expect(`${new URL(redirectUrl).origin}${new URL(redirectUrl).pathname}`).toBe(github.urls.authorizationURL);
    expect(q.redirect_uri).toBe(CALLBACK);
    expect(q.code_challenge_method).toBe('S256');
    expect(q.state).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    // The strategy names no scope, so none is sent: never an empty `scope=` forced onto it.
    expect(new URL(redirectUrl).searchParams.has('scope')).toBe(false);
    const count = await userCount(acme);
    const res = await followOAuth(acme.http, redirectUrl);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectUserObject(res.body.user);
    expect(res.body.user.username).toBe('acme_user');
    expect(await userCount(acme)).toBe(count + 1);
    expect((await acme.http.get('/me').set(bearer(res.body.token))).status).toBe(200);
    expect(s256(github.lastTokenRequest!.code_verifier!)).toBe(q.code_challenge);
    const rows = await accountRows(acme, res.body.user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'acme', provider_user_id: 'a1' });

    // The same identity again is the same user.
    expect((await signInOk(acme, 'acme')).user.id).toBe(res.body.user.id);
    expect(await userCount(acme)).toBe(count + 1);
  });

  it('auth.integrations.get returns the provider access token it obtained, decrypted (and it is not stored in plain text)', async () => {
    const body = await signInOk(acme, 'acme');
    const issued = github.issued.at(-1)!;
    const integration = await acme.auth.integrations.get(body.user.id, 'acme');
    expect(integration).toMatchObject({ provider: 'acme', provider_user_id: 'a1' });
    expect(integration?.access_token).toBe(issued.access_token);
    expect(JSON.stringify(await accountRows(acme))).not.toContain(issued.access_token);
  });

  it('its state is single use and bound to it', async () => {
    const { callbackPath, cookie } = await authorizeAt(await begin(acme, 'acme'));
    expectError(await acme.http.get(`${callbackPath}&provider=github`).set('Cookie', cookie), 400, 'invalid_state');
    const { callbackPath: fresh, cookie: freshCookie } = await authorizeAt(await begin(acme, 'acme'));
    expect((await acme.http.get(fresh).set('Cookie', freshCookie)).status).toBe(200);
    expectError(await acme.http.get(fresh).set('Cookie', freshCookie), 400, 'invalid_state');
  });

  it('auth-methods lists it; google and github are unknown in this app', async () => {
    expect((await acme.http.get(`${BASE}/auth-methods`)).body.oauth2).toEqual({ providers: ['acme'] });
    expectError(await beginRes(acme, { provider: 'google' }), 400, 'unknown_provider');
  });
});

describe('construction', () => {
  async function construct(options: Partial<AuthManagerOptions>): Promise<unknown> {
    let auth: AuthManager | undefined;
    try {
      auth = new AuthManager(null, {
        ...(await databaseOptions()),
        dbSchema: uniqueSchema(),
        jwtSecret: randomBytes(48).toString('base64url'),
        autoMigrate: false,
        rateLimit: false,
        ...options,
      });
      return undefined;
    } catch (err) {
      return err;
    } finally {
      if (auth) {
        await auth.ready.catch(() => undefined);
        await auth.close();
      }
    }
  }

  it('a configured provider without publicUrl throws TypeError', async () => {
    expect(await construct({ oauthConfig: { google: { clientId: 'id', clientSecret: 'secret' } } })).toBeInstanceOf(TypeError);
    expect(await construct({ oauthConfig: { github: { clientId: 'id', clientSecret: 'secret' } } })).toBeInstanceOf(TypeError);
  });

  it('a custom strategy without publicUrl throws TypeError', async () => {
    const strategy = new OAuth2Strategy(
      {
        authorizationURL: 'http://127.0.0.1:1/a',
        tokenURL: 'http://127.0.0.1:1/t',
        clientID: 'c',
        clientSecret: 's',
        callbackURL: 'x',
        state: true,
        pkce: true,
      },
      (_a: string, _r: string, _p: unknown, done: OAuth2Strategy.VerifyCallback) => done(null, {}),
    );
    expect(await construct({ oauthConfig: { acme: { strategy } } })).toBeInstanceOf(TypeError);
  });
});
