import * as client from 'openid-client';
import { Strategy as OpenIdClientStrategy } from 'openid-client/passport';
import OpenIDConnectStrategy from 'passport-openidconnect';
import OAuth2Strategy from 'passport-oauth2';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthManagerOptions } from '../src/index.js';
import { bearer, createTestApp, type TestApp } from './helpers/app.js';
import { BASE, expectError, expectUserObject } from './helpers/endpoints.js';
import { cookieSetBy } from './helpers/oauth-browser.js';
import { accountRows, userCount, userRow } from './helpers/oauth-db.js';
import { passProvider, startOidcServer, type OidcServer } from './helpers/oidc-server.js';

// Any OpenID Connect provider by configuration, and the three passport strategies as their own
// READMEs write them, against a real, certified OIDC provider process (oidc-provider) on 127.0.0.1.

const PUBLIC_URL = 'http://app.test';
const CALLBACK = `${PUBLIC_URL}${BASE}/login/oauth2callback`;

let oidc: OidcServer;
let conform: OidcServer;
const apps: TestApp[] = [];

beforeAll(async () => {
  oidc = await startOidcServer({ callbackURLs: [CALLBACK] });
  // Keeps email claims for the userinfo endpoint, as oidc-provider does by default.
  conform = await startOidcServer({ callbackURLs: [CALLBACK], conformIdTokenClaims: true });
});
afterAll(async () => {
  await Promise.allSettled(apps.map((a) => a.close()));
  await Promise.allSettled([oidc?.stop(), conform?.stop()]);
});

function corp(server: OidcServer = oidc) {
  return { issuer: server.issuer, clientId: server.clientId, clientSecret: server.clientSecret };
}

/** An app shared by the tests of one describe block. */
async function sharedApp(overrides: Partial<AuthManagerOptions>): Promise<TestApp> {
  const t = await createTestApp({ publicUrl: PUBLIC_URL, ...overrides });
  apps.push(t);
  return t;
}

/** POST /login/oauth: the provider URL and the browser's cookie. */
async function begin(t: TestApp, provider: string, extra: Record<string, unknown> = {}): Promise<{ url: string; cookie: string }> {
  const res = await t.http.post(`${BASE}/login/oauth`).send({ provider, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { url: res.body.redirect_url as string, cookie: cookieSetBy(res)! };
}

/** Begin, sign in at the provider, come back with the same browser. */
async function signIn(t: TestApp, provider: string): Promise<Response> {
  const { url, cookie } = await begin(t, provider);
  const back = await passProvider(url);
  return t.http.get(`${back.pathname}${back.search}`).set('Cookie', cookie);
}

async function signInOk(t: TestApp, provider: string) {
  const res = await signIn(t, provider);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { token: string; refresh_token: string; user: { id: string; username: string; email: string | null; email_verified: boolean } };
}

describe('oauthConfig.<name> = { issuer, clientId, clientSecret }: any OIDC provider by discovery', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await sharedApp({ oauthConfig: { corp: corp(), strict: corp(conform) }, allowedRedirects: ['http://front.test'] });
  });

  it('authorization request: the discovered endpoint, redirect_uri from publicUrl, PKCE S256, a nonce, a 256-bit state, openid email profile', async () => {
    const { url, cookie } = await begin(t, 'corp');
    const u = new URL(url);
    expect(`${u.origin}${u.pathname}`).toBe(`${oidc.issuer}/auth`);
    const q = Object.fromEntries(u.searchParams);
    expect(q).toMatchObject({ client_id: oidc.clientId, response_type: 'code', redirect_uri: CALLBACK, code_challenge_method: 'S256' });
    expect(q.scope!.split(' ').sort()).toEqual(['email', 'openid', 'profile']);
    expect(q.nonce!.length).toBeGreaterThanOrEqual(22);
    expect(Buffer.from(q.state!, 'base64url').length).toBe(32);
    expect(url).not.toContain(oidc.clientSecret);
    expect(cookie).toMatch(/^authlib_oauth=[A-Za-z0-9_-]{43}$/);
  });

  it('full flow, JSON: a new user with the provider-verified email; the identity keyed by (corp, sub); the tokens work', async () => {
    oidc.nextAccount = oidc.makeAccount();
    const account = oidc.nextAccount;
    const before = await userCount(t);
    const body = await signInOk(t, 'corp');
    expectUserObject(body.user);
    expect(body.user).toMatchObject({ email: account.email, email_verified: true, username: account.preferred_username });
    expect(await userCount(t)).toBe(before + 1);
    expect((await t.http.get('/me').set(bearer(body.token))).status).toBe(200);
    const rows = await accountRows(t, body.user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'corp', provider_user_id: account.sub, email: account.email, email_verified: true });
    const integration = await t.auth.integrations.get(body.user.id, 'corp');
    expect(integration?.access_token).toBeTruthy();
    expect(JSON.stringify(rows)).not.toContain(integration!.access_token!);
    // Same subject again: same user.
    oidc.nextAccount = account;
    expect((await signInOk(t, 'corp')).user.id).toBe(body.user.id);
  });

  it('full flow, redirect mode: GET /login/oauth/corp?redirect_to=... answers 302 to the provider and sets the cookie; the callback answers 302 with the tokens in the fragment', async () => {
    oidc.nextAccount = oidc.makeAccount();
    const start = await t.http.get(`${BASE}/login/oauth/corp`).query({ redirect_to: 'http://front.test/done' });
    expect(start.status, JSON.stringify(start.body)).toBe(302);
    expect(start.headers.location).toMatch(new RegExp(`^${oidc.issuer}/auth\\?`));
    expect(start.headers['cache-control']).toMatch(/no-store/);
    const cookie = cookieSetBy(start)!;
    expect(cookie).toBeTruthy();
    const back = await passProvider(start.headers.location!);
    const res = await t.http.get(`${back.pathname}${back.search}`).set('Cookie', cookie);
    expect(res.status, JSON.stringify(res.body)).toBe(302);
    const landing = new URL(res.headers.location!);
    expect(`${landing.origin}${landing.pathname}`).toBe('http://front.test/done');
    const token = new URLSearchParams(landing.hash.slice(1)).get('token')!;
    expect((await t.http.get('/me').set(bearer(token))).body.username).toBe(oidc.nextAccount.preferred_username);
  });

  it('the callback by form POST (response_mode=form_post) works with the same cookie', async () => {
    oidc.nextAccount = oidc.makeAccount();
    const { url, cookie } = await begin(t, 'corp');
    const back = await passProvider(url);
    const res = await t.http.post(`${BASE}/login/oauth2callback`).set('Cookie', cookie).type('form').send(back.searchParams.toString());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.user.email).toBe(oidc.nextAccount.email);
  });

  it('a provider-unverified email stays on the identity: the new user has no email', async () => {
    oidc.nextAccount = oidc.makeAccount({ email_verified: false });
    const body = await signInOk(t, 'corp');
    expect(body.user.email).toBeNull();
    expect(body.user.email_verified).toBe(false);
    const rows = await accountRows(t, body.user.id);
    expect(rows[0]).toMatchObject({ email: oidc.nextAccount.email, email_verified: false });
  });

  it("claims only at the userinfo endpoint (oidc-provider's default): the email is read from there", async () => {
    conform.nextAccount = conform.makeAccount();
    const body = await signInOk(t, 'strict');
    expect(body.user).toMatchObject({ email: conform.nextAccount.email, email_verified: true });
  });

  it('the user declines at the provider: 403 access_denied, no user', async () => {
    const before = await userCount(t);
    oidc.deny = true;
    expectError(await signIn(t, 'corp'), 403, 'access_denied');
    expect(await userCount(t)).toBe(before);
  });

  it("the callback opened without the starting browser's cookie gets no tokens (400 invalid_state); the real browser still finishes", async () => {
    oidc.nextAccount = oidc.makeAccount();
    const { url, cookie } = await begin(t, 'corp');
    const back = await passProvider(url);
    const path = `${back.pathname}${back.search}`;
    const before = await userCount(t);
    const bare = await t.http.get(path);
    expectError(bare, 400, 'invalid_state');
    expect(bare.text).not.toContain('token"');
    expect(await userCount(t)).toBe(before);
    expect((await t.http.get(path).set('Cookie', cookie)).status).toBe(200);
  });
});

describe('any passport strategy, written as its own README shows', () => {
  let t: TestApp;
  beforeAll(async () => {
    // openid-client's README: discovery, then `new Strategy({ config, scope, callbackURL }, verify)`.
    const config = await client.discovery(new URL(oidc.issuer), oidc.clientId, oidc.clientSecret, undefined, { execute: [client.allowInsecureRequests] });
    const openidClient = new OpenIdClientStrategy({ config, scope: 'openid email profile', callbackURL: CALLBACK }, (tokens, verified) => {
      verified(null, tokens.claims()); // claims, not an app user: the library makes the user
    });

    // passport-openidconnect's README: issuer and endpoints, then verify(issuer, profile, cb).
    const openidconnect = new OpenIDConnectStrategy(
      {
        issuer: oidc.issuer,
        authorizationURL: `${oidc.issuer}/auth`,
        tokenURL: `${oidc.issuer}/token`,
        userInfoURL: `${oidc.issuer}/me`,
        clientID: oidc.clientId,
        clientSecret: oidc.clientSecret,
        callbackURL: CALLBACK,
        scope: ['profile', 'email'],
      },
      (_issuer: string, profile: OpenIDConnectStrategy.Profile, cb: OpenIDConnectStrategy.VerifyCallback) => cb(null, profile),
    );

    // passport-oauth2's README: the endpoints and a verify callback; the profile comes from the
    // provider's userinfo endpoint, as a strategy built on OAuth2Strategy loads it.
    const oauth2 = new OAuth2Strategy(
      {
        authorizationURL: `${oidc.issuer}/auth`,
        tokenURL: `${oidc.issuer}/token`,
        clientID: oidc.clientId,
        clientSecret: oidc.clientSecret,
        callbackURL: CALLBACK,
        scope: ['openid', 'email', 'profile'],
        state: true,
        pkce: true,
      },
      (_accessToken: string, _refreshToken: string, profile: unknown, cb: OAuth2Strategy.VerifyCallback) => cb(null, profile as never),
    );
    oauth2.userProfile = function (accessToken, done) {
      this._oauth2.useAuthorizationHeaderforGET(true);
      this._oauth2.get(`${oidc.issuer}/me`, accessToken, (err, body) => {
        if (err) return done(err);
        const claims = JSON.parse(String(body)) as { sub: string; email: string; email_verified: boolean; preferred_username: string };
        done(null, {
          provider: 'corp',
          id: claims.sub,
          username: claims.preferred_username,
          emails: [{ value: claims.email, verified: claims.email_verified }],
        });
      });
    };

    t = await sharedApp({ oauthConfig: { oidclient: { strategy: openidClient }, oidconnect: { strategy: openidconnect }, plain: { strategy: oauth2 } } });
  });

  it.each(['oidclient', 'oidconnect', 'plain'])('%s: signs in against the real provider; the same subject is the same user', async (provider) => {
    oidc.nextAccount = oidc.makeAccount();
    const account = oidc.nextAccount;
    const { url } = await begin(t, provider);
    const q = new URL(url).searchParams;
    // The strategy's own scope, never an empty one.
    expect(q.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['openid', 'email', 'profile']));
    expect(q.get('redirect_uri')).toBe(CALLBACK);
    expect(q.get('state')).toBeTruthy();
    const body = await signInOk(t, provider);
    expectUserObject(body.user);
    const rows = await accountRows(t, body.user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider, provider_user_id: account.sub });
    expect((await t.http.get('/me').set(bearer(body.token))).status).toBe(200);
    expect((await t.auth.integrations.get(body.user.id, provider))?.access_token).toBeTruthy();
    oidc.nextAccount = account;
    expect((await signInOk(t, provider)).user.id).toBe(body.user.id);
  });

  it('openid-client: email and email_verified come from its verified claims; the session it keeps travels with the state', async () => {
    oidc.nextAccount = oidc.makeAccount();
    const body = await signInOk(t, 'oidclient');
    expect(body.user).toMatchObject({ email: oidc.nextAccount.email, email_verified: true });
    expect((await userRow(t, body.user.id))?.email).toBe(oidc.nextAccount.email);
  });

  it('passport-openidconnect: its profile carries no verified flag, so the email stays on the identity', async () => {
    oidc.nextAccount = oidc.makeAccount();
    const body = await signInOk(t, 'oidconnect');
    expect(body.user.email).toBeNull();
    expect((await accountRows(t, body.user.id))[0]).toMatchObject({ email: oidc.nextAccount.email, email_verified: false });
  });

  it.each(['oidclient', 'oidconnect', 'plain'])("%s: the callback without the starting browser's cookie gets no tokens", async (provider) => {
    oidc.nextAccount = oidc.makeAccount();
    const { url } = await begin(t, provider);
    const back = await passProvider(url);
    const before = await userCount(t);
    expectError(await t.http.get(`${back.pathname}${back.search}`), 400, 'invalid_state');
    expect(await userCount(t)).toBe(before);
  });
});
