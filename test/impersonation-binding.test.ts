import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { adminApi, registerAdmin } from './helpers/admin.js';
import { BASE, expectError, loginOk } from './helpers/endpoints.js';
import { mailbox, type Mailbox } from './helpers/mailbox.js';
import { TestClock } from '../src/testing/index.js';
import { decodeJwt, extraInstance, forge, type ExtraInstance } from './helpers/tokens.js';

// Contract 5.5 (amended): an impersonation token is bound to the admin's login. It ends for good,
// on every instance, when the admin logs out (everywhere, or of the login it was started from),
// changes password by any path, loses the admin role, is disabled or deleted; re-enabling or
// re-promoting the admin does not bring it back. Tokens are issued on instance A and used on B.

/** Contract section 4: no waiting for `exp`; we allow 1 s for the notification to arrive. */
const MAX_MS = 1000;
const NEW_PASSWORD = 'another long passphrase';

let a: TestApp;
let b: ExtraInstance;
let box: Mailbox;
/** Stays an admin throughout, so the admins under attack are never the last one. */
let boss: Awaited<ReturnType<typeof registerAdmin>>;

beforeAll(async () => {
  box = mailbox();
  a = await createTestApp({ mailer: box.mailer, tokenExpiry: 300 });
  b = await extraInstance(a.schema, { jwtSecret: a.secret, logger: false });
  boss = await registerAdmin(a);
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

/** GET /me on instance B until it answers `status` (at most MAX_MS). */
async function untilB(token: string, status: number, path = '/me'): Promise<void> {
  const start = Date.now();
  for (;;) {
    const res = await b.http.get(path).set(bearer(token));
    if (res.status === status || Date.now() - start > MAX_MS) {
      expect(res.status, `${path} on B`).toBe(status);
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A fresh admin who impersonates a fresh user through A; the token already works on B (B has both cached). */
async function impersonation() {
  const admin = await registerAdmin(a);
  const user = await registerUser(a);
  const res = await adminApi(a, admin.token).impersonate(user.user.id);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const token = res.body.token as string;
  await untilB(token, 200);
  return { admin, user, token };
}

/** The token stays dead on B: checked once B has certainly heard of `settled` (a change made after the end). */
async function staysDead(token: string, settled: () => Promise<void>): Promise<void> {
  await settled();
  await untilB(token, 401);
  // Twice more, spaced: a cached or reloaded admin must not revive it.
  await new Promise((r) => setTimeout(r, 50));
  expect((await b.http.get('/me').set(bearer(token))).status).toBe(401);
  expect((await a.http.get('/me').set(bearer(token))).status).toBe(401);
}

describe('an impersonation token ends for good with the admin standing it was issued under', () => {
  it('the admin logs out everywhere (POST /logout-all) and signs in again: still dead on B', async () => {
    const { admin, token } = await impersonation();
    expect((await a.http.post(`${BASE}/logout-all`).set(bearer(admin.token))).status).toBe(200);
    await untilB(token, 401);
    const again = await loginOk(a, admin.username);
    await staysDead(token, () => untilB(again.token, 200, '/admin'));
  });

  it('an admin ends the admin’s logins (POST /admin/users/{id}/logout-all)', async () => {
    const { admin, token } = await impersonation();
    expect((await adminApi(a, boss.token).logoutAll(admin.user.id)).status).toBe(200);
    await staysDead(token, () => untilB(token, 401));
  });

  it('the admin logs out of the login the impersonation was started from (POST /logout), on B', async () => {
    const admin = await registerAdmin(a);
    const login = await loginOk(a, admin.username);
    const user = await registerUser(a);
    const token = (await adminApi(a, login.token).impersonate(user.user.id)).body.token as string;
    expect(decodeJwt(token).payload.imp_sid).toBe(decodeJwt(login.token).payload.sid);
    await untilB(token, 200);
    // Logged out through B this time: A must hear of it too.
    expect((await b.http.post(`${BASE}/logout`).send({ refresh_token: login.refresh_token })).status).toBe(200);
    await staysDead(token, () => untilB(login.token, 401));
    // Another login of the admin goes on working, and so does an impersonation started from it.
    expect((await a.http.get('/admin').set(bearer(admin.token))).status).toBe(200);
    const other = await adminApi(a, admin.token).impersonate(user.user.id);
    await untilB(other.body.token, 200);
  });

  it('an instance started later still knows the login ended, past tokenExpiry but within the impersonation', async () => {
    const clock = new TestClock();
    const first = await createTestApp({ tokenExpiry: 300, now: clock.now });
    let later: ExtraInstance | undefined;
    try {
      const admin = await registerAdmin(first);
      const user = await registerUser(first);
      const token = (await adminApi(first, admin.token).impersonate(user.user.id, { duration: 3600 })).body.token as string;
      expect((await first.http.post(`${BASE}/logout`).send({ refresh_token: admin.refresh_token })).status).toBe(200);
      // Every ordinary access token of that login has expired by now; the impersonation has not.
      clock.advance(600);
      later = await extraInstance(first.schema, { jwtSecret: first.secret, logger: false, tokenExpiry: 300, now: clock.now });
      expect((await later.http.get('/me').set(bearer(token))).status).toBe(401);
    } finally {
      await later?.close();
      await first.close();
    }
  });

  it("one started with the admin's API token (scope admin) ends when that token is deleted, on B", async () => {
    const admin = await registerAdmin(a);
    const user = await registerUser(a);
    const key = await a.auth.apiTokens.create(admin.user.id, { name: 'ops', scopes: ['admin'] });
    const token = (await adminApi(a, key.token).impersonate(user.user.id)).body.token as string;
    expect(decodeJwt(token).payload.imp_tid).toBe(key.id);
    await untilB(token, 200);
    expect((await a.http.delete(`${BASE}/me/api-tokens/${key.id}`).set(bearer(admin.token))).status).toBe(200);
    await staysDead(token, () => untilB(key.token, 401));
    // The admin's own login is untouched.
    expect((await b.http.get('/admin').set(bearer(admin.token))).status).toBe(200);
  });

  it('the admin changes password (POST /change-password)', async () => {
    const { admin, token } = await impersonation();
    const res = await a.http.post(`${BASE}/change-password`).set(bearer(admin.token)).send({ current_password: PASSWORD, password: NEW_PASSWORD });
    expect(res.status).toBe(200);
    await staysDead(token, () => untilB(res.body.token, 200, '/admin'));
  });

  it('the admin resets the password by mail (confirm-password-reset)', async () => {
    const { admin, token } = await impersonation();
    expect((await a.http.post(`${BASE}/request-password-reset`).send({ email: `${admin.username}@example.com` })).status).toBe(202);
    const mail = await box.next('password_reset', `${admin.username}@example.com`);
    expect((await a.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password: NEW_PASSWORD })).status).toBe(200);
    const again = await loginOk(a, admin.username, NEW_PASSWORD);
    await staysDead(token, () => untilB(again.token, 200, '/admin'));
  });

  it('another admin sets the password (PATCH /admin/users/{id}), or the app does (auth.users.setPassword, as the CLI)', async () => {
    const first = await impersonation();
    expect((await adminApi(a, boss.token).patchUser(first.admin.user.id, { password: NEW_PASSWORD })).status).toBe(200);
    await staysDead(first.token, async () => untilB((await loginOk(a, first.admin.username, NEW_PASSWORD)).token, 200, '/admin'));
    const second = await impersonation();
    await b.auth.users.setPassword(second.admin.user.id, NEW_PASSWORD);
    await staysDead(second.token, async () => untilB((await loginOk(a, second.admin.username, NEW_PASSWORD)).token, 200, '/admin'));
  });

  it('the admin is demoted and promoted again: the impersonation does not come back', async () => {
    const { admin, token } = await impersonation();
    expect((await adminApi(a, boss.token).patchUser(admin.user.id, { roles: ['user'] })).status).toBe(200);
    await untilB(token, 401);
    await a.auth.users.setRoles(admin.user.id, ['admin', 'user']);
    await staysDead(token, async () => untilB((await loginOk(a, admin.username)).token, 200, '/admin'));
  });

  it('the admin is disabled and enabled again: the impersonation does not come back', async () => {
    const { admin, token } = await impersonation();
    expect((await adminApi(a, boss.token).patchUser(admin.user.id, { is_active: false })).status).toBe(200);
    await untilB(token, 401);
    expect((await adminApi(a, boss.token).patchUser(admin.user.id, { is_active: true })).status).toBe(200);
    await staysDead(token, async () => untilB((await loginOk(a, admin.username)).token, 200, '/admin'));
  });

  it('the admin is deleted', async () => {
    const { admin, token } = await impersonation();
    expect((await adminApi(a, boss.token).deleteUser(admin.user.id)).status).toBe(200);
    await staysDead(token, () => untilB(admin.token, 401));
  });

  it('one started programmatically (auth.users.impersonate) ends the same way', async () => {
    const admin = await registerAdmin(a);
    const user = await registerUser(a);
    const { token } = await a.auth.users.impersonate(admin.user.id, user.user.id);
    expect(decodeJwt(token).payload.imp_sid).toBeUndefined();
    await untilB(token, 200);
    await a.auth.users.setActive(admin.user.id, false);
    await a.auth.users.setActive(admin.user.id, true);
    await staysDead(token, async () => untilB((await loginOk(a, admin.username)).token, 200, '/admin'));
  });

  it('a forged impersonation token without the admin standing, or with an older one, is refused', async () => {
    const { admin, user, token } = await impersonation();
    const { header, payload } = decodeJwt(token);
    const sign = (claims: Record<string, unknown>) => forge(header, claims, { key: a.secret });
    const { imp_ver: _ver, imp_sid: _sid, ...unbound } = payload;
    expect((await b.http.get('/me').set(bearer(sign(unbound)))).status).toBe(401);
    expect((await b.http.get('/me').set(bearer(sign({ ...payload, imp_ver: (payload.imp_ver as number) - 1 })))).status).toBe(401);
    expect((await b.http.get('/me').set(bearer(sign({ ...payload, imp_ver: String(payload.imp_ver) })))).status).toBe(401);
    // Binding claims on a token that is not an impersonation are refused too.
    const own = decodeJwt(user.token);
    expect((await b.http.get('/me').set(bearer(forge(own.header, { ...own.payload, imp_ver: 0 }, { key: a.secret })))).status).toBe(401);
    // The genuine one still works.
    await untilB(token, 200);
    expect(admin.user.id).toBe(payload.imp);
  });
});

describe('a user whose effective roles include the admin role is never impersonated', () => {
  let t: TestApp;
  beforeAll(async () => {
    // owner -> admin directly; chief -> deputy -> admin transitively.
    t = await createTestApp({ roleImplications: { owner: ['admin'], chief: ['deputy'], deputy: ['admin'] } });
    for (const role of ['owner', 'chief', 'deputy']) await t.auth.roles.create(role);
  });
  afterAll(() => t?.close());

  it('403 forbidden for a role that implies admin, directly or transitively (HTTP and programmatic)', async () => {
    const admin = await registerAdmin(t);
    for (const role of ['owner', 'chief', 'deputy']) {
      const target = await registerUser(t);
      await t.auth.users.setRoles(target.user.id, ['user', role]);
      expectError(await adminApi(t, admin.token).impersonate(target.user.id), 403, 'forbidden');
      await expect(t.auth.users.impersonate(admin.user.id, target.user.id)).rejects.toMatchObject({ code: 'forbidden' });
    }
  });

  it('a token stops once its user gains a role that implies admin, and stays stopped', async () => {
    const admin = await registerAdmin(t);
    const target = await registerUser(t);
    const { token } = await t.auth.users.impersonate(admin.user.id, target.user.id);
    expect((await t.http.get('/me').set(bearer(token))).status).toBe(200);
    await t.auth.users.setRoles(target.user.id, ['user', 'chief']);
    expect((await t.http.get('/me').set(bearer(token))).status).toBe(401);
    await t.auth.users.setRoles(target.user.id, ['user']);
    expect((await t.http.get('/me').set(bearer(token))).status).toBe(401);
  });

  it('an instance whose roleImplications make the user an admin refuses a token issued where they did not', async () => {
    // One deployment rolling out a new roleImplications: the instance that has it judges by it.
    const before = await createTestApp();
    const after = await extraInstance(before.schema, { jwtSecret: before.secret, logger: false, roleImplications: { lead: ['admin'] } });
    try {
      await before.auth.roles.create('lead');
      const admin = await registerAdmin(before);
      const target = await registerUser(before);
      await before.auth.users.setRoles(target.user.id, ['user', 'lead']);
      const { token } = await before.auth.users.impersonate(admin.user.id, target.user.id);
      expect((await before.http.get('/me').set(bearer(token))).status).toBe(200);
      expect((await after.http.get('/me').set(bearer(token))).status).toBe(401);
      const own = await loginOk(before, target.username);
      expect((await after.http.get('/me').set(bearer(own.token))).status).toBe(200);
    } finally {
      await after.close();
      await before.close();
    }
  });
});
