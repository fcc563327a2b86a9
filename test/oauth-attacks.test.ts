import { randomBytes } from 'node:crypto';
import express from 'express';
import * as OTPAuth from 'otpauth';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { bearer, closedAfterEach, createTestApp, PASSWORD, registerUser, type TestApp, verifiedUser } from './helpers/app.js';
import { databaseOptions, rawQuery } from './helpers/database.js';
import { BASE, expectError, loginOk, uniqueName } from './helpers/endpoints.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { startFakeGoogle, type FakeGoogle } from './helpers/fake-google.js';
import { authorizeAt, cookieSetBy, rememberBrowser } from './helpers/oauth-browser.js';
import { accountRows, stateCount, userCount, userRow } from './helpers/oauth-db.js';

// The attacks of the OAuth review, each played over HTTP against the Google and GitHub imitations:
// pre-account takeover by a registered squatter, takeover through an unverified provider email,
// login CSRF with the attacker's callback URL, link CSRF, flooding the state table.

const PUBLIC_URL = 'http://app.test';
const CALLBACK = `${PUBLIC_URL}${BASE}/login/oauth2callback`;

let google: FakeGoogle;
let github: FakeGitHub;
let t: TestApp;
const opened = closedAfterEach();

function providers() {
  return {
    google: { clientId: google.clientId, clientSecret: google.clientSecret, ...google.urls },
    github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls },
  };
}

beforeAll(async () => {
  google = await startFakeGoogle({ callbackURL: CALLBACK });
  github = await startFakeGitHub({ callbackURL: CALLBACK });
  t = await createTestApp({ publicUrl: PUBLIC_URL, oauthConfig: providers(), allowedRedirects: ['http://front.test'] });
});
afterAll(async () => {
  await t?.close();
  await Promise.allSettled([google?.stop(), github?.stop()]);
});

/** A browser: begins a flow (sign-in, or linking with `token`), passes the provider, and is sent back. */
async function toCallback(app: TestApp, provider: string, opts: { token?: string; cookie?: string } = {}) {
  const req = opts.token
    ? app.http.post(`${BASE}/me/identities/${provider}`).set(bearer(opts.token)).send({})
    : app.http.post(`${BASE}/login/oauth`).send({ provider });
  const begin = rememberBrowser(await (opts.cookie ? req.set('Cookie', opts.cookie) : req));
  expect(begin.status, JSON.stringify(begin.body)).toBe(200);
  return authorizeAt(begin.body.redirect_url);
}

async function signIn(app: TestApp, provider: string) {
  const { callbackPath, cookie } = await toCallback(app, provider);
  return app.http.get(callbackPath).set('Cookie', cookie);
}

describe("pre-account takeover: a squatter registers the victim's address with his own password", () => {
  it("the victim's provider-verified sign-in is refused with 409 account_exists: no tokens, the squatter's account gains no identity", async () => {
    const email = `${uniqueName('victim')}@gmail.example`;
    const squatter = await registerUser(t, { email });
    google.nextUser = google.makeUser({ email, email_verified: true });
    const before = await userCount(t);
    const res = await signIn(t, 'google');
    expectError(res, 409, 'account_exists');
    expect(res.text).not.toMatch(/refresh_token|"token"/);
    expect(await accountRows(t, squatter.user.id)).toHaveLength(0);
    expect(await userCount(t)).toBe(before);
    // The squatter's password still opens only his own, identity-less account.
    const login = await loginOk(t, squatter.username);
    expect(login.user.id).toBe(squatter.user.id);
    expect((await t.http.get(`${BASE}/me/identities`).set(bearer(login.token))).body).toEqual([]);
  });

  it('in redirect mode the refusal reaches the front end as #error=account_exists, with no token', async () => {
    const email = `${uniqueName('victim')}@gmail.example`;
    await registerUser(t, { email });
    google.nextUser = google.makeUser({ email, email_verified: true });
    const begin = rememberBrowser(await t.http.post(`${BASE}/login/oauth`).send({ provider: 'google', redirect_to: 'http://front.test/done' }));
    const { callbackPath, cookie } = await authorizeAt(begin.body.redirect_url);
    const res = await t.http.get(callbackPath).set('Cookie', cookie);
    expect(res.status).toBe(302);
    const fragment = new URLSearchParams(new URL(res.headers.location!).hash.slice(1));
    expect(fragment.get('error')).toBe('account_exists');
    expect(fragment.has('token')).toBe(false);
  });

  it('once the address is verified locally (its owner proved it), the same sign-in links to that account', async () => {
    const email = `${uniqueName('owner')}@gmail.example`;
    const owner = await registerUser(t, { email });
    await rawQuery(`UPDATE "${t.schema}".users SET email_verified = true, owner_proven = true WHERE id = $1`, [owner.user.id]);
    google.nextUser = google.makeUser({ email, email_verified: true });
    const res = await signIn(t, 'google');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.user.id).toBe(owner.user.id);
  });
});

describe('takeover through an unverified provider email', () => {
  it("the squatter's OAuth sign-up never takes the address: the real owner registers it, and the squatter's identity is never linked into the owner's account", async () => {
    const email = `${uniqueName('owner')}@example.com`;
    github.nextUser = github.makeUser({ email, verified: false });
    const squatter = (await signIn(t, 'github')).body as { user: { id: string; email: string | null } };
    expect(squatter.user.email).toBeNull();
    expect((await userRow(t, squatter.user.id))?.email).toBeNull();
    expect((await accountRows(t, squatter.user.id))[0]).toMatchObject({ email, email_verified: false });

    // The owner can register the address: the slot was never taken.
    const owner = await registerUser(t, { email });
    expect(owner.user.id).not.toBe(squatter.user.id);
    // The squatter signing in again lands in his own account, never the owner's.
    const again = await signIn(t, 'github');
    expect(again.body.user.id).toBe(squatter.user.id);
    expect(await accountRows(t, owner.user.id)).toHaveLength(0);
  });

  it("the owner's later provider-verified sign-up gets the address; the squatter keeps nothing of it", async () => {
    const email = `${uniqueName('owner')}@example.com`;
    google.nextUser = google.makeUser({ email, email_verified: false });
    const squatter = await signIn(t, 'google');
    expect(squatter.status).toBe(200);
    github.nextUser = github.makeUser({ email, verified: true });
    const owner = await signIn(t, 'github');
    expect(owner.status, JSON.stringify(owner.body)).toBe(200);
    expect(owner.body.user.id).not.toBe(squatter.body.user.id);
    expect(owner.body.user).toMatchObject({ email, email_verified: true });
  });
});

describe('login CSRF: the attacker hands the victim his own callback URL', () => {
  it("opened in the victim's browser (no cookie, or the victim's own cookie) it answers 400 invalid_state and signs nobody in", async () => {
    github.nextUser = github.makeUser();
    const attacker = await toCallback(t, 'github');
    // The victim's browser has a binding cookie of its own, from a flow it began itself.
    const victim = await toCallback(t, 'google');
    expect(victim.cookie).not.toBe(attacker.cookie);
    expectError(await t.http.get(attacker.callbackPath), 400, 'invalid_state');
    expectError(await t.http.get(attacker.callbackPath).set('Cookie', victim.cookie), 400, 'invalid_state');
    expectError(await t.http.get(attacker.callbackPath).set('Cookie', `authlib_oauth=${randomBytes(32).toString('base64url')}`), 400, 'invalid_state');
    // The attacker's own browser could still finish it (nothing was burned by the attempts).
    expect((await t.http.get(attacker.callbackPath).set('Cookie', attacker.cookie)).status).toBe(200);
  });

  it('a form-POST callback without the cookie is refused the same way', async () => {
    github.nextUser = github.makeUser();
    const { callbackUrl } = await toCallback(t, 'github');
    expectError(await t.http.post(`${BASE}/login/oauth2callback`).type('form').send(callbackUrl.searchParams.toString()), 400, 'invalid_state');
  });
});

describe("the front end's client_state goes back in the fragment, and only to the flow it began", () => {
  const fragmentOf = (res: { headers: Record<string, string> }) => new URLSearchParams(new URL(res.headers.location!).hash.slice(1));

  it('POST and GET starts, sign-in and linking: the redirect carries the flow’s own client_state', async () => {
    const clientState = randomBytes(24).toString('base64url');
    github.nextUser = github.makeUser();
    const posted = rememberBrowser(
      await t.http.post(`${BASE}/login/oauth`).send({ provider: 'github', redirect_to: 'http://front.test/done', client_state: clientState }),
    );
    const a = await authorizeAt(posted.body.redirect_url);
    const signedIn = await t.http.get(a.callbackPath).set('Cookie', a.cookie);
    expect(signedIn.status).toBe(302);
    expect(fragmentOf(signedIn).get('client_state')).toBe(clientState);
    expect(fragmentOf(signedIn).get('token')).toBeTruthy();

    github.nextUser = github.makeUser();
    const navigated = rememberBrowser(
      await t.http.get(`${BASE}/login/oauth/github?redirect_to=${encodeURIComponent('http://front.test/done')}&client_state=${clientState}x`),
    );
    const b = await authorizeAt(navigated.headers.location!);
    expect(fragmentOf(await t.http.get(b.callbackPath).set('Cookie', b.cookie)).get('client_state')).toBe(`${clientState}x`);

    const u = await verifiedUser(t);
    github.nextUser = github.makeUser();
    const linking = rememberBrowser(
      await t.http
        .post(`${BASE}/me/identities/github`)
        .set(bearer(u.token))
        .send({ redirect_to: 'http://front.test/done', client_state: `${clientState}y` }),
    );
    const c = await authorizeAt(linking.body.redirect_url);
    const linked = await t.http.get(c.callbackPath).set('Cookie', c.cookie);
    expect(fragmentOf(linked).get('client_state')).toBe(`${clientState}y`);
    expect(fragmentOf(linked).get('token')).toBeTruthy();

    // A flow begun without one hands none back.
    github.nextUser = github.makeUser();
    const plain = rememberBrowser(await t.http.post(`${BASE}/login/oauth`).send({ provider: 'github', redirect_to: 'http://front.test/done' }));
    const d = await authorizeAt(plain.body.redirect_url);
    expect(fragmentOf(await t.http.get(d.callbackPath).set('Cookie', d.cookie)).has('client_state')).toBe(false);
  });

  it('a malformed or repeated client_state is 400 validation_error', async () => {
    for (const bad of ['short', 'x'.repeat(129), 'a b c d e f g h i j', 42]) {
      expectError(await t.http.post(`${BASE}/login/oauth`).send({ provider: 'github', client_state: bad }), 400, 'validation_error');
    }
    expectError(await t.http.get(`${BASE}/login/oauth/github?client_state=${'a'.repeat(20)}&client_state=${'b'.repeat(20)}`), 400, 'validation_error');
  });
});

describe('the binding cookie', () => {
  it('HttpOnly, Path=/, host-only, SameSite=Lax, 10 minutes, not Secure over http; the callback clears it', async () => {
    const begin = await t.http.post(`${BASE}/login/oauth`).send({ provider: 'github' });
    const header = (begin.headers['set-cookie'] as unknown as string[])[0]!;
    expect(header).toMatch(/^authlib_oauth=[A-Za-z0-9_-]{43};/);
    expect(header).toMatch(/; HttpOnly/i);
    expect(header).toMatch(/; Path=\/(;|$)/);
    expect(header).not.toMatch(/; Domain=/i);
    expect(header).toMatch(/; SameSite=Lax/i);
    expect(header).toMatch(/; Max-Age=600/);
    expect(header).not.toMatch(/; Secure/i);
    rememberBrowser(begin);
    github.nextUser = github.makeUser();
    const { callbackPath, cookie } = await authorizeAt(begin.body.redirect_url);
    const done = await t.http.get(callbackPath).set('Cookie', cookie);
    expect(done.status).toBe(200);
    expect((done.headers['set-cookie'] as unknown as string[])[0]).toMatch(/^authlib_oauth=; Max-Age=0;/);
  });

  it('with an https publicUrl: __Host- prefixed (no sibling host can plant it), Path=/, Secure, SameSite=None (a form-POST callback is a cross-site POST)', async () => {
    const secure = await opened.app({ publicUrl: 'https://app.example', oauthConfig: providers() });
    const begin = await secure.http.post(`${BASE}/login/oauth`).send({ provider: 'github' });
    const header = (begin.headers['set-cookie'] as unknown as string[])[0]!;
    expect(header).toMatch(/^__Host-authlib_oauth=[A-Za-z0-9_-]{43};/);
    expect(header).toMatch(/; Path=\/(;|$)/);
    expect(header).not.toMatch(/; Domain=/i);
    expect(header).toMatch(/; Secure/i);
    expect(header).toMatch(/; SameSite=None/i);
    expect(header).toMatch(/; HttpOnly/i);
  });

  it('a callback or a begin carrying two binding cookies (one planted by a sibling host) is 400 duplicate_cookie, in either order', async () => {
    github.nextUser = github.makeUser();
    const attacker = await toCallback(t, 'github');
    const victim = await toCallback(t, 'github');
    for (const Cookie of [`${attacker.cookie}; ${victim.cookie}`, `${victim.cookie}; ${attacker.cookie}`]) {
      expectError(await t.http.get(attacker.callbackPath).set('Cookie', Cookie), 400, 'duplicate_cookie');
      expectError(await t.http.get(victim.callbackPath).set('Cookie', Cookie), 400, 'duplicate_cookie');
      expectError(await t.http.post(`${BASE}/login/oauth`).set('Cookie', Cookie).send({ provider: 'github' }), 400, 'duplicate_cookie');
    }
    // Nothing was used up: each browser still finishes its own flow.
    expect((await t.http.get(victim.callbackPath).set('Cookie', victim.cookie)).status).toBe(200);
  });

  it('a browser that already has one keeps it, so flows begun in two tabs both finish', async () => {
    github.nextUser = github.makeUser();
    const first = await toCallback(t, 'github');
    const second = await toCallback(t, 'github', { cookie: first.cookie });
    expect(second.cookie).toBe(first.cookie);
    expect((await t.http.get(first.callbackPath).set('Cookie', first.cookie)).status).toBe(200);
    expect((await t.http.get(second.callbackPath).set('Cookie', first.cookie)).status).toBe(200);
  });

  it('any instance finishes a flow another began (the state is in the database)', async () => {
    const app = express();
    const other = new AuthManager(app, {
      ...(await databaseOptions()),
      dbSchema: t.schema,
      jwtSecret: t.secret,
      rateLimit: false,
      publicUrl: PUBLIC_URL,
      oauthConfig: providers(),
    });
    opened.track(() => other.close());
    await other.ready;
    github.nextUser = github.makeUser();
    const { callbackPath, cookie } = await toCallback(t, 'github');
    const res = await request(app).get(callbackPath).set('Cookie', cookie);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await t.http.get('/me').set(bearer(res.body.token))).status).toBe(200);
  });
});

describe('GET /login/oauth/{provider} and the form-POST callback', () => {
  it('GET answers 302 to the provider with the cookie; unknown provider 400 unknown_provider; foreign redirect_to 400 invalid_redirect', async () => {
    const res = await t.http.get(`${BASE}/login/oauth/github`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(new RegExp(`^${github.urls.authorizationURL}\\?`));
    expect(cookieSetBy(res)).toBeTruthy();
    expectError(await t.http.get(`${BASE}/login/oauth/gitlab`), 400, 'unknown_provider');
    expectError(await t.http.get(`${BASE}/login/oauth/github?redirect_to=${encodeURIComponent('https://evil.example/')}`), 400, 'invalid_redirect');
    expectError(await t.http.get(`${BASE}/login/oauth/github?redirect_to=http://front.test&redirect_to=http://front.test`), 400, 'validation_error');
  });

  it('the callback takes a form POST; a JSON or text body there is 415; other routes still refuse forms', async () => {
    github.nextUser = github.makeUser();
    const { callbackUrl, cookie } = await toCallback(t, 'github');
    expectError(await t.http.post(`${BASE}/login/oauth2callback`).set('Cookie', cookie).send({ code: 'x', state: 'y' }), 415, 'unsupported_media_type');
    expectError(
      await t.http.post(`${BASE}/login/oauth2callback`).set('Cookie', cookie).set('Content-Type', 'text/plain').send('code=x'),
      415,
      'unsupported_media_type',
    );
    const res = await t.http.post(`${BASE}/login/oauth2callback`).set('Cookie', cookie).type('form').send(callbackUrl.searchParams.toString());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectError(await t.http.post(`${BASE}/login`).type('form').send(`username=a&password=${PASSWORD}`), 415, 'unsupported_media_type');
  });
});

describe('explicit linking: POST /{user}/identities/{provider}', () => {
  it('a signed-in user links GitHub (whatever its email); the next GitHub sign-in is that user', async () => {
    const local = await verifiedUser(t);
    github.nextUser = github.makeUser({ email: `${uniqueName('elsewhere')}@example.net`, verified: false });
    const { callbackPath, cookie } = await toCallback(t, 'github', { token: local.token });
    const res = await t.http.get(callbackPath).set('Cookie', cookie);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.user.id).toBe(local.user.id);
    expect(res.body.user.email).toBe(`${local.username}@example.com`);
    expect((await t.http.get(`${BASE}/me/identities`).set(bearer(local.token))).body).toEqual([
      expect.objectContaining({ provider: 'github', provider_user_id: String(github.nextUser.id), email_verified: false }),
    ]);
    expect((await signIn(t, 'github')).body.user.id).toBe(local.user.id);
  });

  it("link CSRF: the attacker's linking URL finished in the victim's browser answers 400 invalid_state and links nothing", async () => {
    const attacker = await verifiedUser(t);
    github.nextUser = github.makeUser();
    const { callbackPath } = await toCallback(t, 'github', { token: attacker.token });
    expectError(await t.http.get(callbackPath), 400, 'invalid_state');
    expect(await accountRows(t, attacker.user.id)).toHaveLength(0);
  });

  it('an identity already linked to another user: 409 conflict; a second account of the same provider: 409 conflict', async () => {
    const first = await verifiedUser(t);
    const second = await verifiedUser(t);
    github.nextUser = github.makeUser();
    const link = await toCallback(t, 'github', { token: first.token });
    expect((await t.http.get(link.callbackPath).set('Cookie', link.cookie)).status).toBe(200);
    const steal = await toCallback(t, 'github', { token: second.token });
    expectError(await t.http.get(steal.callbackPath).set('Cookie', steal.cookie), 409, 'conflict');
    expect(await accountRows(t, second.user.id)).toHaveLength(0);
    github.nextUser = github.makeUser();
    const another = await toCallback(t, 'github', { token: first.token });
    expectError(await t.http.get(another.callbackPath).set('Cookie', another.cookie), 409, 'conflict');
    expect(await accountRows(t, first.user.id)).toHaveLength(1);
  });

  it("needs an access token: none 401, an API token 403 forbidden, another user's id 404 (403 for an admin), unknown provider 400", async () => {
    const u = await verifiedUser(t);
    expectError(await t.http.post(`${BASE}/me/identities/github`).send({}), 401, 'unauthorized');
    const api = await t.http.post(`${BASE}/me/api-tokens`).set(bearer(u.token)).send({ name: 'x' });
    expectError(await t.http.post(`${BASE}/me/identities/github`).set(bearer(api.body.token)).send({}), 403, 'forbidden');
    const other = await verifiedUser(t);
    expectError(await t.http.post(`${BASE}/${other.user.id}/identities/github`).set(bearer(u.token)).send({}), 404, 'not_found');
    const admin = await verifiedUser(t);
    await t.auth.users.setRoles(admin.user.id, ['admin', 'user']);
    const adminToken = (await loginOk(t, admin.username)).token;
    expectError(await t.http.post(`${BASE}/${other.user.id}/identities/github`).set(bearer(adminToken)).send({}), 403, 'forbidden');
    expectError(await t.http.post(`${BASE}/me/identities/gitlab`).set(bearer(u.token)).send({}), 400, 'unknown_provider');
  });
});

describe('flooding: rate limits and the cap on stored states', () => {
  it('beginning flows is limited per address (429 rate_limited with Retry-After), by POST and by GET alike', async () => {
    const limited = await opened.app({ publicUrl: PUBLIC_URL, oauthConfig: providers(), rateLimit: { oauth: { limit: 3, windowSeconds: 60 } } });
    expect((await limited.http.post(`${BASE}/login/oauth`).send({ provider: 'github' })).status).toBe(200);
    expect((await limited.http.get(`${BASE}/login/oauth/github`)).status).toBe(302);
    expect((await limited.http.post(`${BASE}/login/oauth`).send({ provider: 'google' })).status).toBe(200);
    const over = await limited.http.post(`${BASE}/login/oauth`).send({ provider: 'github' });
    expectError(over, 429, 'rate_limited');
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expectError(await limited.http.get(`${BASE}/login/oauth/github`), 429, 'rate_limited');
    expect(await stateCount(limited)).toBe(3);
  });

  it('failed callbacks are limited per address; successful ones do not count', async () => {
    const limited = await opened.app({ publicUrl: PUBLIC_URL, oauthConfig: providers(), rateLimit: { oauthCallback: { limit: 2, windowSeconds: 60 } } });
    for (let i = 0; i < 3; i++) {
      github.nextUser = github.makeUser();
      expect((await signIn(limited, 'github')).status).toBe(200);
    }
    expectError(await limited.http.get(`${BASE}/login/oauth2callback?state=x&code=y`), 400, 'invalid_state');
    expectError(await limited.http.get(`${BASE}/login/oauth2callback?state=x&code=y`), 400, 'invalid_state');
    expectError(await limited.http.get(`${BASE}/login/oauth2callback?state=x&code=y`), 429, 'rate_limited');
  });

  it("the user's own answers do not count toward the callback limit: declining consent, a second factor due", async () => {
    const limited = await opened.app({ publicUrl: PUBLIC_URL, oauthConfig: providers(), rateLimit: { oauthCallback: { limit: 2, windowSeconds: 60 } } });
    for (let i = 0; i < 4; i++) {
      github.nextUser = github.makeUser();
      github.deny = true; // for the next sign-in only
      expectError(await signIn(limited, 'github'), 403, 'access_denied');
    }
    // A user with TOTP on: each OAuth sign-in answers mfa_required, which is no failure either.
    const email = `${uniqueName('cb')}@example.com`;
    const username = uniqueName('cb');
    await limited.auth.users.create({ username, email, password: PASSWORD, email_verified: true });
    const login = await limited.http.post(`${BASE}/login`).send({ username, password: PASSWORD });
    const setup = await limited.http.post(`${BASE}/mfa/totp/setup`).set('Authorization', `Bearer ${login.body.token}`).send({ password: PASSWORD });
    const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.body.secret), digits: 6, period: 30 }).generate();
    expect((await limited.http.post(`${BASE}/mfa/totp/confirm`).set('Authorization', `Bearer ${login.body.token}`).send({ code })).status).toBe(200);
    const identity = github.makeUser({ email, verified: true });
    for (let i = 0; i < 3; i++) {
      github.nextUser = identity;
      const due = await signIn(limited, 'github');
      expect([due.status, due.body.code]).toEqual([401, 'mfa_required']);
    }
    // Forged callbacks still count, and the limit still holds.
    expectError(await limited.http.get(`${BASE}/login/oauth2callback?state=x&code=y`), 400, 'invalid_state');
    expectError(await limited.http.get(`${BASE}/login/oauth2callback?state=x&code=y`), 400, 'invalid_state');
    expectError(await limited.http.get(`${BASE}/login/oauth2callback?state=x&code=y`), 429, 'rate_limited');
  });

  it('at most 10 live states per address: beginning more drops the oldest, which then answers invalid_state', async () => {
    const capped = await opened.app({ publicUrl: PUBLIC_URL, oauthConfig: providers() });
    github.nextUser = github.makeUser();
    const oldest = await toCallback(capped, 'github');
    for (let i = 0; i < 11; i++) expect((await capped.http.post(`${BASE}/login/oauth`).send({ provider: 'github' })).status).toBe(200);
    expect(await stateCount(capped)).toBe(10);
    expectError(await capped.http.get(oldest.callbackPath).set('Cookie', oldest.cookie), 400, 'invalid_state');
    const newest = await toCallback(capped, 'github');
    expect((await capped.http.get(newest.callbackPath).set('Cookie', newest.cookie)).status).toBe(200);
  });
});
