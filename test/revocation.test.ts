import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { decodeJwt, extraInstance } from './helpers/tokens.js';

// Every revocation path must make older access tokens fail at once (401 invalid_token), while
// the tokens it should leave alone keep working: each test checks both sides.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

type Res = { status: number; body: { code?: unknown } };
const outcome = (r: Res) => ({ status: r.status, code: r.body?.code });
const REVOKED = { status: 401, code: 'invalid_token' };

const login = async (username: string, password: string) => {
  const res = await t.http.post('/api/v1/users/login').send({ username, password });
  expect(res.status).toBe(200);
  return res.body as { token: string; refresh_token: string; user: { id: string; roles: string[] } };
};
const me = (token: string) => t.http.get('/me').set(bearer(token));
const refresh = (refresh_token: string) => t.http.post('/api/v1/users/token-refresh').send({ refresh_token });

async function expectRevoked(token: string) {
  const res = await me(token);
  expect(outcome(res)).toEqual(REVOKED);
  expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
}

describe('POST /logout', () => {
  it('kills that login (access and refresh token) and only that login', async () => {
    const u = await registerUser(t);
    const a = await login(u.username, u.password);
    const b = await login(u.username, u.password);
    expect((await me(a.token)).status).toBe(200);

    const out = await t.http.post('/api/v1/users/logout').send({ refresh_token: a.refresh_token });
    expect(out.status).toBe(200);

    await expectRevoked(a.token);
    expect((await refresh(a.refresh_token)).status).toBe(401);
    // The other login and the registration login are untouched.
    expect((await me(b.token)).status).toBe(200);
    expect((await me(u.token)).status).toBe(200);
    expect((await refresh(b.refresh_token)).status).toBe(200);
  });

  it('also kills access tokens obtained by refreshing within that login', async () => {
    const u = await registerUser(t);
    const a = await login(u.username, u.password);
    const r1 = await refresh(a.refresh_token);
    expect(r1.status).toBe(200);
    expect((await t.http.post('/api/v1/users/logout').send({ refresh_token: r1.body.refresh_token })).status).toBe(200);
    await expectRevoked(a.token);
    await expectRevoked(r1.body.token);
  });

  it('rejects an access token or garbage as the refresh_token, and revokes nothing', async () => {
    const u = await registerUser(t);
    const bad = await t.http.post('/api/v1/users/logout').send({ refresh_token: u.token });
    expect(outcome(bad)).toEqual({ status: 401, code: 'invalid_token' });
    expect((await me(u.token)).status).toBe(200);
  });
});

describe('POST /logout-all', () => {
  it("kills every login's access and refresh tokens; a new login works", async () => {
    const u = await registerUser(t);
    const bystander = await registerUser(t);
    const a = await login(u.username, u.password);
    const b = await login(u.username, u.password);

    const out = await t.http.post('/api/v1/users/logout-all').set(bearer(a.token)).send({});
    expect(out.status).toBe(200);

    await expectRevoked(a.token);
    await expectRevoked(b.token);
    await expectRevoked(u.token);
    expect((await refresh(a.refresh_token)).status).toBe(401);
    expect((await refresh(b.refresh_token)).status).toBe(401);
    // Someone else is not affected.
    expect((await me(bystander.token)).status).toBe(200);
    const fresh = await login(u.username, u.password);
    expect((await me(fresh.token)).status).toBe(200);
  });

  it('works without a request body, as fetch() and supertest send a bodyless POST (Content-Length: 0, no Content-Type)', async () => {
    const u = await registerUser(t);
    const out = await t.http.post('/api/v1/users/logout-all').set(bearer(u.token));
    expect(out.status).toBe(200);
    await expectRevoked(u.token);
  });

  it('needs authentication', async () => {
    const res = await t.http.post('/api/v1/users/logout-all').send({});
    expect(outcome(res)).toEqual({ status: 401, code: 'unauthorized' });
  });
});

describe('POST /change-password', () => {
  it("kills the caller's older access and refresh tokens; the answer's tokens and the new password work", async () => {
    const u = await registerUser(t);
    const a = await login(u.username, u.password);
    const b = await login(u.username, u.password);
    const newPassword = 'a brand new passphrase 42';

    const res = await t.http.post('/api/v1/users/change-password').set(bearer(a.token)).send({ current_password: u.password, password: newPassword });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toContain('no-store');

    await expectRevoked(a.token);
    await expectRevoked(b.token);
    expect((await refresh(b.refresh_token)).status).toBe(401);
    expect((await me(res.body.token)).status).toBe(200);
    expect((await refresh(res.body.refresh_token)).status).toBe(200);

    const old = await t.http.post('/api/v1/users/login').send({ username: u.username, password: u.password });
    expect(outcome(old)).toEqual({ status: 401, code: 'invalid_credentials' });
    expect((await me((await login(u.username, newPassword)).token)).status).toBe(200);
  });

  it('a wrong current password changes nothing and revokes nothing', async () => {
    const u = await registerUser(t);
    const res = await t.http
      .post('/api/v1/users/change-password')
      .set(bearer(u.token))
      .send({ current_password: 'not the password', password: 'another new passphrase' });
    expect(res.status).toBe(401);
    expect((await me(u.token)).status).toBe(200);
  });
});

describe('auth.users.setActive(id, false)', () => {
  it('kills access tokens at once, blocks login and API tokens with account_disabled; re-enabling restores login', async () => {
    const u = await registerUser(t);
    const a = await login(u.username, u.password);
    const created = await t.http.post('/api/v1/users/me/api-tokens').set(bearer(a.token)).send({ name: 'disable-me' });
    expect(created.status).toBe(201);
    expect((await t.http.get('/me').set('X-API-Token', created.body.token)).status).toBe(200);

    await t.auth.users.setActive(u.user.id, false);

    await expectRevoked(a.token);
    await expectRevoked(u.token);
    expect((await refresh(a.refresh_token)).status).toBe(401);
    const denied = await t.http.post('/api/v1/users/login').send({ username: u.username, password: u.password });
    expect(outcome(denied)).toEqual({ status: 403, code: 'account_disabled' });
    const viaHeader = await t.http.get('/me').set('X-API-Token', created.body.token);
    expect(outcome(viaHeader)).toEqual({ status: 403, code: 'account_disabled' });
    const viaBearer = await t.http.get('/me').set(bearer(created.body.token));
    expect(outcome(viaBearer)).toEqual({ status: 403, code: 'account_disabled' });
    await expect(t.auth.issueTokens(u.user.id)).rejects.toMatchObject({ code: 'account_disabled', status: 403 });

    await t.auth.users.setActive(u.user.id, true);
    const back = await login(u.username, u.password);
    expect((await me(back.token)).status).toBe(200);
    // Re-enabling does not resurrect the tokens from before.
    await expectRevoked(a.token);
  });
});

describe('auth.users.setRoles', () => {
  it('promotion: old tokens die; a new login carries the new roles and passes requireAuth({roles:[admin]})', async () => {
    const u = await registerUser(t);
    const a = await login(u.username, u.password);
    expect(outcome(await t.http.get('/admin').set(bearer(a.token)))).toEqual({ status: 403, code: 'forbidden' });

    await t.auth.users.setRoles(u.user.id, ['admin', 'user']);

    await expectRevoked(a.token);
    expect(outcome(await t.http.get('/admin').set(bearer(a.token)))).toEqual(REVOKED);
    const b = await login(u.username, u.password);
    expect([...b.user.roles].sort()).toEqual(['admin', 'user']);
    expect([...(decodeJwt(b.token).payload.roles as string[])].sort()).toEqual(['admin', 'user']);
    expect((await t.http.get('/admin').set(bearer(b.token))).status).toBe(200);
  });

  it('demotion: the admin token dies at once, and the new one is refused at /admin', async () => {
    const u = await registerUser(t);
    await t.auth.users.setRoles(u.user.id, ['admin', 'user']);
    const admin = await login(u.username, u.password);
    expect((await t.http.get('/admin').set(bearer(admin.token))).status).toBe(200);

    await t.auth.users.setRoles(u.user.id, ['user']);

    expect(outcome(await t.http.get('/admin').set(bearer(admin.token)))).toEqual(REVOKED);
    await expectRevoked(admin.token);
    const b = await login(u.username, u.password);
    expect(b.user.roles).toEqual(['user']);
    expect(outcome(await t.http.get('/admin').set(bearer(b.token)))).toEqual({ status: 403, code: 'forbidden' });
  });

  it('a refresh after the role change yields a token with the current roles', async () => {
    const u = await registerUser(t);
    await t.auth.users.setRoles(u.user.id, ['admin', 'user']);
    const r = await refresh(u.refresh_token);
    expect(r.status).toBe(200);
    expect([...(decodeJwt(r.body.token).payload.roles as string[])].sort()).toEqual(['admin', 'user']);
    expect((await t.http.get('/admin').set(bearer(r.body.token))).status).toBe(200);
  });
});

describe('refresh-token reuse', () => {
  it("kills every access token of that login, not the user's other logins", async () => {
    const u = await registerUser(t);
    const a = await login(u.username, u.password);
    const other = await login(u.username, u.password);
    const r1 = await refresh(a.refresh_token);
    expect(r1.status).toBe(200);
    expect((await me(a.token)).status).toBe(200);

    const reuse = await refresh(a.refresh_token);
    expect(outcome(reuse)).toEqual({ status: 401, code: 'refresh_token_reused' });

    await expectRevoked(a.token);
    await expectRevoked(r1.body.token);
    expect((await refresh(r1.body.refresh_token)).status).toBe(401);
    expect((await me(other.token)).status).toBe(200);
  });
});

describe('other instances on the same database', () => {
  it('an AuthManager started after a logout rejects the logged-out access token', async () => {
    const u = await registerUser(t);
    const a = await login(u.username, u.password);
    const kept = await login(u.username, u.password);
    expect((await t.http.post('/api/v1/users/logout').send({ refresh_token: a.refresh_token })).status).toBe(200);

    const second = await extraInstance(t.schema, { jwtSecret: t.secret });
    try {
      const dead = await second.http.get('/me').set(bearer(a.token));
      expect(outcome(dead)).toEqual(REVOKED);
      // Control: the same instance accepts the login that was not logged out.
      expect((await second.http.get('/me').set(bearer(kept.token))).status).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('an AuthManager started after a refresh-token reuse rejects that login', async () => {
    const u = await registerUser(t);
    const r1 = await refresh(u.refresh_token);
    expect(r1.status).toBe(200);
    expect((await refresh(u.refresh_token)).status).toBe(401);

    const second = await extraInstance(t.schema, { jwtSecret: t.secret });
    try {
      expect(outcome(await second.http.get('/me').set(bearer(r1.body.token)))).toEqual(REVOKED);
    } finally {
      await second.close();
    }
  });

  it('an AuthManager started after logout-all / setActive / setRoles rejects the older tokens', async () => {
    const u1 = await registerUser(t);
    const u2 = await registerUser(t);
    const u3 = await registerUser(t);
    expect((await t.http.post('/api/v1/users/logout-all').set(bearer(u1.token)).send({})).status).toBe(200);
    await t.auth.users.setActive(u2.user.id, false);
    await t.auth.users.setRoles(u3.user.id, ['admin', 'user']);

    const second = await extraInstance(t.schema, { jwtSecret: t.secret });
    try {
      for (const token of [u1.token, u2.token, u3.token]) expect(outcome(await second.http.get('/me').set(bearer(token)))).toEqual(REVOKED);
    } finally {
      await second.close();
    }
  });

  it('an instance that was already running rejects tokens within 1 s of logout-all, setActive and setRoles on another instance', async () => {
    const second = await extraInstance(t.schema, { jwtSecret: t.secret });
    try {
      const u1 = await registerUser(t);
      const u2 = await registerUser(t);
      const u3 = await registerUser(t);
      // Warm the second instance's user cache first, so only a notification can make it change its mind.
      for (const u of [u1, u2, u3]) expect((await second.http.get('/me').set(bearer(u.token))).status).toBe(200);

      expect((await t.http.post('/api/v1/users/logout-all').set(bearer(u1.token)).send({})).status).toBe(200);
      await t.auth.users.setActive(u2.user.id, false);
      await t.auth.users.setRoles(u3.user.id, ['admin', 'user']);

      for (const u of [u1, u2, u3]) {
        await expect.poll(async () => outcome(await second.http.get('/me').set(bearer(u.token))), { timeout: 1000, interval: 50 }).toEqual(REVOKED);
      }
    } finally {
      await second.close();
    }
  });

  it('an instance that was already running when another instance logged a login out rejects its access token (contract 4: "on every instance, without waiting for exp")', async () => {
    const second = await extraInstance(t.schema, { jwtSecret: t.secret });
    try {
      const u = await registerUser(t);
      const a = await login(u.username, u.password);
      expect((await second.http.get('/me').set(bearer(a.token))).status).toBe(200);

      expect((await t.http.post('/api/v1/users/logout').send({ refresh_token: a.refresh_token })).status).toBe(200);
      await expectRevoked(a.token);
      // The other instance learns through LISTEN/NOTIFY; allow it the 1 s the contract grants.
      await expect.poll(async () => outcome(await second.http.get('/me').set(bearer(a.token))), { timeout: 1000, interval: 50 }).toEqual(REVOKED);
    } finally {
      await second.close();
    }
  });
});
