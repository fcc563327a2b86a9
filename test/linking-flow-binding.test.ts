import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, PASSWORD, type TestApp, verifiedUser } from './helpers/app.js';
import { adminApi, registerAdmin } from './helpers/admin.js';
import { BASE, loginOk } from './helpers/endpoints.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { authorizeAt, rememberBrowser } from './helpers/oauth-browser.js';
import { accountRows } from './helpers/oauth-db.js';

// A linking flow (POST /{user}/identities/{provider}) is derived from the login that began it: its
// callback attaches an identity to the user and signs them in. Whoever holds a stolen access token
// could begin one with their own provider account; once the owner logs out everywhere (or changes
// password, or is disabled), finishing it must not give them a lasting way in.

const PUBLIC_URL = 'http://app.test';
const CALLBACK = `${PUBLIC_URL}${BASE}/login/oauth2callback`;

let github: FakeGitHub;
let t: TestApp;

beforeAll(async () => {
  github = await startFakeGitHub({ callbackURL: CALLBACK });
  t = await createTestApp({
    publicUrl: PUBLIC_URL,
    oauthConfig: { github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls } },
  });
});
afterAll(async () => {
  await t?.close();
  await github?.stop();
});

/** The thief begins linking their own GitHub account to the victim with the victim's access token. */
async function beginAsThief(stolenToken: string) {
  github.nextUser = github.makeUser({ email: `thief-${Date.now()}@example.com`, verified: true });
  const begin = rememberBrowser(await t.http.post(`${BASE}/me/identities/github`).set(bearer(stolenToken)).send({}));
  expect(begin.status, JSON.stringify(begin.body)).toBe(200);
  return begin.body.redirect_url as string;
}

async function finish(redirectUrl: string) {
  const { callbackPath, cookie } = await authorizeAt(redirectUrl);
  return t.http.get(callbackPath).set('Cookie', cookie);
}

describe('a linking flow ends with the logins of the user who began it', () => {
  it('finishes as before while the login stands', async () => {
    const victim = await verifiedUser(t);
    const res = await finish(await beginAsThief(victim.token));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await accountRows(t, victim.user.id)).toHaveLength(1);
  });

  const ends: Array<[string, (victim: Awaited<ReturnType<typeof verifiedUser>>) => Promise<void>]> = [
    [
      'logs out everywhere',
      async (victim) => {
        const own = await loginOk(t, victim.username);
        expect((await t.http.post(`${BASE}/logout-all`).set(bearer(own.token))).status).toBe(200);
      },
    ],
    [
      'changes password',
      async (victim) => {
        const own = await loginOk(t, victim.username);
        const res = await t.http.post(`${BASE}/change-password`).set(bearer(own.token)).send({ current_password: PASSWORD, password: 'a new long passphrase' });
        expect(res.status).toBe(200);
      },
    ],
    [
      'is disabled and enabled again by an admin',
      async (victim) => {
        const admin = await registerAdmin(t);
        expect((await adminApi(t, admin.token).patchUser(victim.user.id, { is_active: false })).status).toBe(200);
        expect((await adminApi(t, admin.token).patchUser(victim.user.id, { is_active: true })).status).toBe(200);
      },
    ],
  ];
  for (const [what, end] of ends) {
    it(`the owner ${what} before the thief comes back from the provider: refused, nothing linked, no tokens`, async () => {
      const victim = await verifiedUser(t);
      const redirectUrl = await beginAsThief(victim.token);
      await end(victim);
      const res = await finish(redirectUrl);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'invalid_state' });
      expect(JSON.stringify(res.body)).not.toMatch(/refresh_token|"token"/);
      expect(await accountRows(t, victim.user.id)).toEqual([]);
    });
  }
});
