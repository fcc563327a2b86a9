import { randomBytes } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager, type AuthManagerOptions } from '../src/index.js';
import { closedAfterEach, createTestApp, type TestApp } from './helpers/app.js';
import { databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';
import { BASE, expectError } from './helpers/endpoints.js';
import { closedPort } from './helpers/fake-github.js';
import { authorizeAt, rememberBrowser } from './helpers/oauth-browser.js';
import { accountRows, userCount } from './helpers/oauth-db.js';
import { startOidcStandIn, type IdTokenFault, type OidcStandIn } from './helpers/oidc-standin.js';

// The ID token checks of the OIDC path (oauthConfig.<name> = { issuer, ... }), against a stand-in
// provider that signs ID tokens with jose and breaks them on purpose; the positive path against
// the real oidc-provider is in oauth-oidc.test.ts. Also: a provider that is down at start-up.

const PUBLIC_URL = 'http://app.test';

let standIn: OidcStandIn;
let t: TestApp;

beforeAll(async () => {
  standIn = await startOidcStandIn();
  t = await createTestApp({
    publicUrl: PUBLIC_URL,
    oauthConfig: { corp: { issuer: standIn.issuer, clientId: standIn.clientId, clientSecret: standIn.clientSecret } },
  });
});
afterAll(async () => {
  await t?.close();
  await standIn?.stop();
});

/** Begins a flow and passes the stand-in provider: the callback path and the starting browser's cookie. */
async function toCallback(app: TestApp = t) {
  const begin = rememberBrowser(await app.http.post(`${BASE}/login/oauth`).send({ provider: 'corp' }));
  expect(begin.status, JSON.stringify(begin.body)).toBe(200);
  return authorizeAt(begin.body.redirect_url);
}

describe('the ID token is verified: signature (JWKS), iss, aud, exp, nonce', () => {
  it('a well-formed ID token signs in (so the refusals below are the checks, not the stand-in)', async () => {
    standIn.fault = 'none';
    const { callbackPath, cookie } = await toCallback();
    const res = await t.http.get(callbackPath).set('Cookie', cookie);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.user).toMatchObject({ email: 'standin@example.org', email_verified: true });
  });

  it.each<[string, IdTokenFault]>([
    ['for another client (wrong aud)', 'wrong_aud'],
    ['with another nonce', 'wrong_nonce'],
    ['expired', 'expired'],
    ['signed by another key', 'other_key'],
    ['from another issuer', 'wrong_iss'],
    ['unsigned (alg none)', 'unsigned'],
  ])('an ID token %s: 400 oauth_failed, no user, no identity', async (_label, fault) => {
    const before = await userCount(t);
    const identities = (await accountRows(t)).length;
    standIn.fault = fault;
    try {
      const { callbackPath, cookie } = await toCallback();
      const res = await t.http.get(callbackPath).set('Cookie', cookie);
      expectError(res, 400, 'oauth_failed');
      expect(res.text).not.toContain('standin@example.org');
    } finally {
      standIn.fault = 'none';
    }
    expect(await userCount(t)).toBe(before);
    expect(await accountRows(t)).toHaveLength(identities);
  });
});

describe('the state of an OIDC flow', () => {
  it('replayed: the second use answers 400 invalid_state', async () => {
    const { callbackPath, cookie } = await toCallback();
    expect((await t.http.get(callbackPath).set('Cookie', cookie)).status).toBe(200);
    expectError(await t.http.get(callbackPath).set('Cookie', cookie), 400, 'invalid_state');
  });

  it('tampered: one character changed answers 400 invalid_state, and the real one still works', async () => {
    const { callbackUrl, cookie } = await toCallback();
    const q = new URLSearchParams(callbackUrl.search);
    const state = q.get('state')!;
    q.set('state', `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`);
    expectError(await t.http.get(`${callbackUrl.pathname}?${q.toString()}`).set('Cookie', cookie), 400, 'invalid_state');
    expect((await t.http.get(`${callbackUrl.pathname}${callbackUrl.search}`).set('Cookie', cookie)).status).toBe(200);
  });

  it('cross-attempt: the code of one attempt with the state of another (same browser) is refused; neither signs in', async () => {
    const first = await toCallback();
    const second = await toCallback();
    const mixed = new URLSearchParams(first.callbackUrl.search);
    mixed.set('state', second.callbackUrl.searchParams.get('state')!);
    const before = await userCount(t);
    const res = await t.http.get(`${first.callbackUrl.pathname}?${mixed.toString()}`).set('Cookie', second.cookie);
    expect(res.status).toBe(400);
    expect(['oauth_failed', 'invalid_state']).toContain(res.body.code);
    expect(await userCount(t)).toBe(before);
  });
});

describe('a provider that is down at start-up', () => {
  const opened = closedAfterEach();

  it('`ready` rejects with a clear AuthError naming the provider, requests get 502, and once it is up the provider is retried and works', async () => {
    const port = await closedPort();
    const schema = uniqueSchema('down');
    const app = express();
    const options = {
      ...(await databaseOptions()),
      dbSchema: schema,
      jwtSecret: randomBytes(48).toString('base64url'),
      rateLimit: false,
      bcryptRounds: 4,
      publicUrl: PUBLIC_URL,
      oauthConfig: { late: { issuer: `http://127.0.0.1:${port}`, clientId: 'late-client', clientSecret: 'late-secret' } },
    } as AuthManagerOptions;
    const auth = new AuthManager(app, options);
    opened.track(async () => {
      await auth.close();
      await dropSchema(schema);
    });
    const failure = await auth.ready.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toMatchObject({ name: 'OAuthError', code: 'provider_unavailable', status: 502 });
    expect(String((failure as Error).message)).toMatch(/`late`.*127\.0\.0\.1/);
    expect(String((failure as Error).message)).not.toContain('late-secret');

    const http = request(app);
    // Everything else works; this provider answers 502, never 500, never a crash.
    expect((await http.get(`${BASE}/auth-methods`)).body.oauth2.providers).toEqual(['late']);
    expectError(await http.post(`${BASE}/login/oauth`).send({ provider: 'late' }), 502, 'provider_unavailable');

    const provider = await startOidcStandIn({ port });
    opened.track(() => provider.stop());
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the retry interval
    const begin = await http.post(`${BASE}/login/oauth`).send({ provider: 'late' });
    expect(begin.status, JSON.stringify(begin.body)).toBe(200);
    expect(begin.body.redirect_url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/authorize\\?`));
  });
});
