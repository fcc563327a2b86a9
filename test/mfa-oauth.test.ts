import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, PASSWORD, type TestApp } from './helpers/app.js';
import { BASE, expectError, loginOk, uniqueName } from './helpers/endpoints.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { followOAuth, rememberBrowser } from './helpers/oauth-browser.js';
import { awayFromStepEnd } from './helpers/totp-step.js';

// The OAuth callback as the first factor of a user with MFA on (contract 5.4): no tokens, an
// mfa_id instead (in the JSON error body, or in the fragment of the redirect), then /login/mfa.

const PUBLIC_URL = 'http://app.test';
const CALLBACK = `${PUBLIC_URL}${BASE}/login/oauth2callback`;

let github: FakeGitHub;
let t: TestApp;

beforeAll(async () => {
  github = await startFakeGitHub({ callbackURL: CALLBACK });
  t = await createTestApp({
    publicUrl: PUBLIC_URL,
    oauthConfig: { github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls } },
    allowedRedirects: ['http://front.test'],
  });
});
afterAll(async () => {
  await t?.close();
  await github?.stop();
});

const code = (secret: string, at = Date.now()) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });

/** A verified local user with TOTP on, and a GitHub account with the same verified address (so the sign-in links to it). */
async function userWithTotpAndGitHub() {
  const email = `${uniqueName('mo')}@example.com`;
  const username = uniqueName('mo');
  const user = await t.auth.users.create({ username, email, password: PASSWORD, email_verified: true });
  const { token } = await loginOk(t, username);
  const setup = await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(token)).send({ password: PASSWORD });
  // The code of the previous step: the one accepted here must not be the one the sign-in uses next.
  await awayFromStepEnd();
  expect(
    (
      await t.http
        .post(`${BASE}/mfa/totp/confirm`)
        .set(bearer(token))
        .send({ code: code(setup.body.secret, Date.now() - 30_000) })
    ).status,
  ).toBe(200);
  github.nextUser = github.makeUser({ email, verified: true });
  return { user, secret: setup.body.secret as string };
}

async function begin(body: Record<string, unknown>): Promise<string> {
  const res = rememberBrowser(await t.http.post(`${BASE}/login/oauth`).send(body));
  expect(res.status).toBe(200);
  return res.body.redirect_url as string;
}

describe('OAuth sign-in with MFA on', () => {
  it('JSON: the callback answers 401 mfa_required with an mfa_id; TOTP finishes it', async () => {
    const { user, secret } = await userWithTotpAndGitHub();
    const callback = await followOAuth(t.http, await begin({ provider: 'github' }));
    expect(callback.status).toBe(401);
    expect(callback.body).toMatchObject({ code: 'mfa_required', status_code: 401 });
    expect(callback.body.token).toBeUndefined();
    expect(callback.body.methods.sort()).toEqual(['backup_code', 'password', 'totp']);
    const done = await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: callback.body.mfa_id, method: 'totp', code: code(secret) });
    expect(done.status).toBe(200);
    expect(done.body.user.id).toBe(user.id);
  });

  it('redirect: the front end gets #error=mfa_required&mfa_id=... and no tokens; the password can be the second factor', async () => {
    const { user } = await userWithTotpAndGitHub();
    const callback = await followOAuth(t.http, await begin({ provider: 'github', redirect_to: 'http://front.test/done' }));
    expect(callback.status).toBe(302);
    const location = new URL(callback.headers.location!);
    expect(`${location.origin}${location.pathname}`).toBe('http://front.test/done');
    const fragment = new URLSearchParams(location.hash.slice(1));
    expect(fragment.get('error')).toBe('mfa_required');
    expect(fragment.get('token')).toBeNull();
    const mfaId = fragment.get('mfa_id')!;
    expect(mfaId).toMatch(/^[0-9A-Za-z]{43}$/);
    const done = await t.http.post(`${BASE}/login`).send({ username: user.username, password: PASSWORD, mfa_id: mfaId });
    expect(done.status).toBe(200);
    expect(done.body.user.id).toBe(user.id);
  });

  it('a user without MFA signs in through the provider as before', async () => {
    github.nextUser = github.makeUser({ email: `${uniqueName('plain')}@example.com`, verified: true });
    const callback = await followOAuth(t.http, await begin({ provider: 'github' }));
    expect(callback.status).toBe(200);
    expect(typeof callback.body.token).toBe('string');
    expectError(await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: 'A'.repeat(43), method: 'totp', code: '123456' }), 401, 'invalid_code');
  });
});
