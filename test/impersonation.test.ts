import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { adminApi, registerAdmin } from './helpers/admin.js';
import { auditRows } from './helpers/audit.js';
import { BASE, expectError, expectUserObject, expectValidation, meStatus } from './helpers/endpoints.js';
import { decodeJwt, forge } from './helpers/tokens.js';

let t: TestApp;
let admin: Awaited<ReturnType<typeof registerAdmin>>;
let api: ReturnType<typeof adminApi>;

beforeAll(async () => {
  // A short tokenExpiry: impersonation tokens may still live up to an hour.
  t = await createTestApp({ tokenExpiry: 300 });
  admin = await registerAdmin(t);
  api = adminApi(t, admin.token);
});
afterAll(() => t?.close());

async function impersonated(userId: string, body: Record<string, unknown> = {}) {
  const res = await api.impersonate(userId, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { token: string; user: { id: string }; expires_at: string };
}

describe('POST /{user}/impersonate', () => {
  it('gives the admin {token, user, expires_at}: an access token for the user with imp, 900 s, no refresh token, no-store', async () => {
    const u = await registerUser(t);
    const res = await api.impersonate(u.user.id);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['expires_at', 'token', 'user']);
    expect(res.headers['cache-control']).toContain('no-store');
    expectUserObject(res.body.user);
    expect(res.body.user.id).toBe(u.user.id);
    const { header, payload } = decodeJwt(res.body.token);
    expect(header.typ).toBe('at+jwt');
    // The admin as RFC 8693 has it (what outside verifiers read), besides the library's own `imp`.
    expect(payload).toMatchObject({ sub: u.user.id, imp: admin.user.id, act: { sub: admin.user.id } });
    expect(payload.sid).toBeUndefined();
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);
    expect(new Date(res.body.expires_at).getTime()).toBe((payload.exp as number) * 1000);
    // It acts as the user, and requireAuth says who is behind it.
    expect(await meStatus(t, res.body.token)).toBe(200);
    const seen = await t.auth.verifyToken(res.body.token);
    expect(seen).toMatchObject({ user: { id: u.user.id }, method: 'jwt', impersonator_id: admin.user.id });
    const profile = await t.http.get(`${BASE}/login/profile`).set(bearer(res.body.token));
    expect(profile.body.user.id).toBe(u.user.id);
    const [event] = await auditRows(t.schema, { type: 'impersonation_start', userId: u.user.id });
    expect(event).toMatchObject({ actor_id: admin.user.id, data: { impersonator_id: admin.user.id, duration: 900 } });
  });

  it('duration is 1-3600 seconds, even beyond tokenExpiry; anything else is 400', async () => {
    const u = await registerUser(t);
    const long = await impersonated(u.user.id, { duration: 3600 });
    const { payload } = decodeJwt(long.token);
    expect((payload.exp as number) - (payload.iat as number)).toBe(3600);
    expect(await meStatus(t, long.token)).toBe(200);
    for (const duration of [0, 3601, -5, 1.5, '900', null]) expectValidation(await api.impersonate(u.user.id, { duration }), 'duration');
  });

  it('a token without imp that lives longer than tokenExpiry is still refused', async () => {
    const u = await registerUser(t);
    const now = Math.floor(Date.now() / 1000);
    const version = decodeJwt((await impersonated(u.user.id)).token).payload.ver;
    const claims = {
      sub: u.user.id,
      roles: ['user'],
      ver: version,
      jti: randomUUID(),
      iat: now,
      exp: now + 3600,
      iss: 'express-authlib',
      aud: 'express-authlib',
    };
    const kid = decodeJwt(admin.token).header.kid;
    expect(await meStatus(t, forge({ alg: 'HS256', typ: 'at+jwt', kid }, claims, { key: t.secret }))).toBe(401);
    const adminVersion = decodeJwt(admin.token).payload.ver;
    expect(await meStatus(t, forge({ alg: 'HS256', typ: 'at+jwt', kid }, { ...claims, imp: admin.user.id, imp_ver: adminVersion }, { key: t.secret }))).toBe(
      200,
    );
  });

  it('`act` must name the admin of `imp`: another actor, an act without imp or of another shape is refused', async () => {
    const u = await registerUser(t);
    const { payload } = decodeJwt((await impersonated(u.user.id)).token);
    const kid = decodeJwt(admin.token).header.kid;
    const sign = (claims: Record<string, unknown>) => forge({ alg: 'HS256', typ: 'at+jwt', kid }, { ...claims, jti: randomUUID() }, { key: t.secret });
    const other = await registerUser(t);
    expect(await meStatus(t, sign(payload))).toBe(200);
    // The same claims as the user's own token (tokenExpiry here is 300 s) pass; with `act` they do not.
    const { imp: _imp, imp_ver: _ver, imp_sid: _sid, act: _act, ...own } = payload;
    const plain = { ...own, exp: (own.iat as number) + 300 };
    expect(await meStatus(t, sign(plain))).toBe(200);
    const refused: Array<[string, Record<string, unknown>]> = [
      ['another actor', { ...payload, act: { sub: other.user.id } }],
      ['act without imp', { ...plain, act: { sub: admin.user.id } }],
      ['act as a string', { ...payload, act: admin.user.id }],
      ['act null', { ...payload, act: null }],
      ['act without sub', { ...payload, act: {} }],
    ];
    for (const [name, claims] of refused) expect({ name, status: await meStatus(t, sign(claims)) }).toEqual({ name, status: 401 });
  });

  it('refuses another admin (403), the admin themself (403), a disabled user (403 account_disabled), no user (404)', async () => {
    const other = await registerAdmin(t);
    expectError(await api.impersonate(other.user.id), 403, 'forbidden');
    expectError(await api.impersonate('me'), 403, 'forbidden');
    expectError(await api.impersonate(admin.user.id), 403, 'forbidden');
    const off = await registerUser(t);
    await t.auth.users.setActive(off.user.id, false);
    expectError(await api.impersonate(off.user.id), 403, 'account_disabled');
    expectError(await api.impersonate(randomUUID()), 404, 'not_found');
    expectError(await api.impersonate('not-a-uuid'), 404, 'not_found');
    expect(await auditRows(t.schema, { type: 'impersonation_start', userId: other.user.id })).toEqual([]);
  });

  it("an admin's API token impersonates only with the scope admin", async () => {
    const u = await registerUser(t);
    const scoped = await t.auth.apiTokens.create(admin.user.id, { name: 'imp', scopes: ['admin'] });
    const plain = await t.auth.apiTokens.create(admin.user.id, { name: 'noimp', scopes: ['reports:read'] });
    expect((await adminApi(t, scoped.token).impersonate(u.user.id)).status).toBe(200);
    expectError(await adminApi(t, plain.token).impersonate(u.user.id), 403, 'forbidden');
  });
});

describe('what an impersonation token may not do (403 forbidden, each refusal audited)', () => {
  it('impersonate, use admin endpoints, change password, end logins, create or delete API tokens, unlink identities', async () => {
    const u = await registerUser(t);
    const { token } = await impersonated(u.user.id);
    const auth = bearer(token);
    const victim = await registerUser(t);
    const apiToken = await t.auth.apiTokens.create(u.user.id, { name: 'own' });
    const refusals = [
      await t.http.post(`${BASE}/${victim.user.id}/impersonate`).set(auth).send({}),
      await t.http.get(`${BASE}/admin/users`).set(auth),
      await t.http.get(`${BASE}/admin/events`).set(auth),
      await t.http.post(`${BASE}/change-password`).set(auth).send({ current_password: PASSWORD, password: 'another long passphrase' }),
      await t.http.post(`${BASE}/logout-all`).set(auth),
      await t.http.post(`${BASE}/me/api-tokens`).set(auth).send({ name: 'minted' }),
      await t.http.delete(`${BASE}/me/api-tokens/${apiToken.id}`).set(auth),
      await t.http.delete(`${BASE}/me/identities/github`).set(auth),
    ];
    for (const res of refusals) expectError(res, 403, 'forbidden');
    const events = await auditRows(t.schema, { type: 'impersonation_refused', userId: u.user.id });
    expect(events).toHaveLength(refusals.length);
    for (const e of events) expect(e.actor_id).toBe(admin.user.id);
    expect(events.map((e) => `${e.data.method as string} ${e.data.path as string}`)).toEqual(
      expect.arrayContaining(['POST /change-password', 'POST /me/api-tokens', 'GET /admin/users']),
    );
    // Nothing happened: the password, the tokens and the logins are as they were.
    expect(await meStatus(t, u.token)).toBe(200);
    expect(await meStatus(t, apiToken.token)).toBe(200);
    expect((await t.auth.apiTokens.list(u.user.id)).map((x) => x.name)).toEqual(['own']);
    // Reading the account is allowed.
    expect((await t.http.get(`${BASE}/me/api-tokens`).set(auth)).status).toBe(200);
    expect((await t.http.get(`${BASE}/me/identities`).set(auth)).status).toBe(200);
  });

  it('dies once the user is given the admin role (an admin is never impersonated)', async () => {
    const u = await registerUser(t);
    const { token } = await impersonated(u.user.id);
    await t.auth.users.setRoles(u.user.id, ['admin', 'user']);
    expect(await meStatus(t, token)).toBe(401);
    await t.auth.users.setRoles(u.user.id, ['user']);
  });
});

describe('an impersonation ends', () => {
  it("with the user's logins (admin logout-all), and when the user is disabled", async () => {
    const u = await registerUser(t);
    const first = await impersonated(u.user.id);
    await api.logoutAll(u.user.id);
    expect(await meStatus(t, first.token)).toBe(401);
    const second = await impersonated(u.user.id);
    await api.patchUser(u.user.id, { is_active: false });
    expect(await meStatus(t, second.token)).toBe(401);
  });

  it('when the admin loses the role, is disabled or is deleted', async () => {
    const u = await registerUser(t);
    for (const end of ['demote', 'disable', 'delete'] as const) {
      const other = await registerAdmin(t);
      const res = await adminApi(t, other.token).impersonate(u.user.id);
      expect(await meStatus(t, res.body.token)).toBe(200);
      if (end === 'demote') await api.patchUser(other.user.id, { roles: ['user'] });
      if (end === 'disable') await api.patchUser(other.user.id, { is_active: false });
      if (end === 'delete') await api.deleteUser(other.user.id);
      expect(await meStatus(t, res.body.token)).toBe(401);
    }
  });
});

describe('auth.users.impersonate', () => {
  it('follows the same rules and shapes', async () => {
    const u = await registerUser(t);
    const result = await t.auth.users.impersonate(admin.user.id, u.user.id, { duration: 60 });
    expect(Object.keys(result).sort()).toEqual(['expires_at', 'token', 'user']);
    const { payload } = decodeJwt(result.token);
    // The admin as RFC 8693 has it (what outside verifiers read), besides the library's own `imp`.
    expect(payload).toMatchObject({ sub: u.user.id, imp: admin.user.id, act: { sub: admin.user.id } });
    expect((payload.exp as number) - (payload.iat as number)).toBe(60);
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
    expect(await code(t.auth.users.impersonate(u.user.id, admin.user.id))).toBe('forbidden');
    const plain = await registerUser(t);
    expect(await code(t.auth.users.impersonate(plain.user.id, u.user.id))).toBe('forbidden');
    expect(await code(t.auth.users.impersonate(admin.user.id, (await registerAdmin(t)).user.id))).toBe('forbidden');
    expect(await code(t.auth.users.impersonate(admin.user.id, u.user.id, { duration: 7200 }))).toBe('validation_error');
    expect(await code(t.auth.users.impersonate(admin.user.id, randomUUID()))).toBe('not_found');
    const [event] = await auditRows(t.schema, { type: 'impersonation_start', userId: u.user.id });
    expect(event!.actor_id).toBe(admin.user.id);
  });
});
