import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager, generateSigningKey } from '../src/index.js';
import { bearer, closedAfterEach, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { databaseOptions, rawQuery } from './helpers/database.js';
import { BASE, expectError } from './helpers/endpoints.js';
import { groupApi } from './helpers/groups.js';

// Contract 5.8, RFC 7662: a service that cannot see a revocation asks. Only introspection clients
// may (HTTP Basic from the `introspection` option, or a service key with the scope `introspect`);
// a token is active exactly when requireAuth would take it now, on any instance, and an inactive
// answer never says why.

const CLIENT = { id: 'gateway', secret: 'gateway-secret-that-is-long-enough-0123456789' };
const basic = (id: string, secret: string) => ({ Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
const GATEWAY = basic(CLIENT.id, CLIENT.secret);
const ACTIVE_KEYS = ['active', 'aud', 'exp', 'iat', 'iss', 'roles', 'scope', 'sub', 'token_type', 'username'];

/** The clock the apps read: tests move it forward to let tokens expire. */
let offsetMs = 0;
const now = () => new Date(Date.now() + offsetMs);

describe('POST /introspect', () => {
  let t: TestApp;
  const introspect = (token: unknown, headers: Record<string, string> = GATEWAY) => t.http.post(`${BASE}/introspect`).set(headers).send({ token });

  beforeAll(async () => {
    t = await createTestApp({ introspection: { clients: [CLIENT] }, now });
  });
  afterAll(() => t?.close());

  it('an active access token: who, what, until when; no-store', async () => {
    const u = await registerUser(t);
    const res = await introspect(u.token);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(Object.keys(res.body).sort()).toEqual(ACTIVE_KEYS);
    const claims = JSON.parse(Buffer.from(u.token.split('.')[1]!, 'base64url').toString());
    expect(res.body).toEqual({
      active: true,
      sub: u.user.id,
      username: u.username,
      scope: '*',
      roles: ['user'],
      exp: claims.exp,
      iat: claims.iat,
      iss: 'express-authlib',
      aud: 'express-authlib',
      token_type: 'access_token',
    });
    expect(await t.auth.introspect(u.token)).toEqual(res.body);
  });

  it('takes a form body, as RFC 7662 has it, and JSON', async () => {
    const u = await registerUser(t);
    const form = await t.http.post(`${BASE}/introspect`).set(GATEWAY).type('form').send({ token: u.token, token_type_hint: 'access_token' });
    expect(form.status).toBe(200);
    expect(form.body).toMatchObject({ active: true, sub: u.user.id });
    expectError(await t.http.post(`${BASE}/introspect`).set(GATEWAY).set('Content-Type', 'text/plain').send(u.token), 415, 'unsupported_media_type');
    expectError(await t.http.post(`${BASE}/introspect`).set(GATEWAY).send({}), 400, 'validation_error');
  });

  it('callers that are not introspection clients get 401, whatever they hold', async () => {
    const u = await registerUser(t);
    const apiToken = await t.http
      .post(`${BASE}/me/api-tokens`)
      .set(bearer(u.token))
      .send({ name: 'x', scopes: ['introspect', '*'] });
    const callers: Array<[string, Record<string, string>]> = [
      ['nobody', {}],
      ['a wrong secret', basic(CLIENT.id, `${CLIENT.secret}x`)],
      ['a secret one character short', basic(CLIENT.id, CLIENT.secret.slice(0, -1))],
      ['an unknown client', basic('other', CLIENT.secret)],
      ['no colon', { Authorization: `Basic ${Buffer.from(CLIENT.id + CLIENT.secret).toString('base64')}` }],
      ["a user's access token", bearer(u.token)],
      ["a user's API token with the scope introspect", { 'X-API-Token': apiToken.body.token }],
    ];
    for (const [name, headers] of callers) {
      const res = await introspect(u.token, headers);
      expect({ name, status: res.status, code: res.body.code }).toEqual({ name, status: 401, code: 'unauthorized' });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      // Nothing about the token, and never the secret.
      expect(res.text).not.toContain(u.user.id);
      expect(res.text).not.toContain(CLIENT.secret);
    }
    // Credentials in the URL-encoded form RFC 6749 asks for work too.
    expect((await introspect(u.token, basic(encodeURIComponent(CLIENT.id), encodeURIComponent(CLIENT.secret)))).status).toBe(200);
  });

  it('a service key with the scope introspect, minted by a site admin or trusted code, may call it; one without may not', async () => {
    const owner = await registerAdmin(t);
    const api = groupApi(t, owner.token);
    const group = await api.create({ name: `Gateway ${Date.now()}` });
    const withScope = await api.createKey(group.body.group.id, { name: 'gw', scopes: ['introspect'] });
    const without = await api.createKey(group.body.group.id, { name: 'other', scopes: ['reports:read'] });
    expect(withScope.status).toBe(201);
    const u = await registerUser(t);
    const ok = await introspect(u.token, bearer(withScope.body.token));
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ active: true, sub: u.user.id });
    expectError(await introspect(u.token, { 'X-API-Token': without.body.token }), 401, 'unauthorized');
    // A service key is itself a token a gateway may see.
    const self = await introspect(without.body.token);
    expect(self.body).toMatchObject({ active: true, token_type: 'service_key', scope: 'reports:read', roles: [], group: { id: group.body.group.id } });
    expect(self.body.sub).toBeUndefined();
    // Deleted: no longer a client, and no longer active.
    expect((await api.deleteKey(group.body.group.id, withScope.body.id)).status).toBe(200);
    expectError(await introspect(u.token, bearer(withScope.body.token)), 401, 'unauthorized');
    expect((await introspect(withScope.body.token)).body).toEqual({ active: false });
    // Trusted code (no actor: the CLI, the app itself) may mint one too.
    const trusted = await t.auth.groups.serviceKeys.create(group.body.group.id, { name: 'trusted', scopes: ['introspect'] });
    expect((await introspect(u.token, bearer(trusted.token))).body).toMatchObject({ active: true, sub: u.user.id });
  });

  it('the scope introspect is a site-level right: a group admin cannot mint it (403), and a key a group admin minted before is no client', async () => {
    const owner = await registerUser(t);
    const api = groupApi(t, owner.token);
    const group = (await api.create({ name: `Own ${Date.now()}` })).body.group as { id: string };
    for (const scopes of [['introspect'], ['reader', 'introspect']]) expectError(await api.createKey(group.id, { name: 'gw', scopes }), 403, 'forbidden');
    await expect(t.auth.groups.serviceKeys.create(group.id, { name: 'gw', scopes: ['introspect'] }, { actor: owner.user.id })).rejects.toMatchObject({
      status: 403,
      code: 'forbidden',
    });
    expect((await api.listKeys(group.id)).body).toEqual([]);
    // Other scopes are still the group admin's to grant.
    expect((await api.createKey(group.id, { name: 'reader', scopes: ['reader'] })).status).toBe(201);

    // A key minted with the scope by the group admin before minting it was refused: the same row.
    const earlier = await t.auth.groups.serviceKeys.create(group.id, { name: 'earlier', scopes: ['introspect'] });
    await rawQuery(`UPDATE "${t.schema}".api_tokens SET created_by = $1 WHERE id = $2`, [owner.user.id, earlier.id]);
    const u = await registerUser(t);
    expectError(await introspect(u.token, bearer(earlier.token)), 401, 'unauthorized');
    expectError(await introspect(u.token, { 'X-API-Token': earlier.token }), 401, 'unauthorized');
    // It still acts for its group; it only reads no one's tokens.
    expect((await introspect(earlier.token)).body).toMatchObject({ active: true, token_type: 'service_key', group: { id: group.id } });
  });

  it("a site admin's key stops being a client once the admin loses the role, on the next use", async () => {
    await registerAdmin(t); // not the last admin
    const admin = await registerAdmin(t);
    const api = groupApi(t, admin.token);
    const group = (await api.create({ name: `Site ${Date.now()}` })).body.group as { id: string };
    const key = await api.createKey(group.id, { name: 'gw', scopes: ['introspect', 'reader'] });
    expect(key.status).toBe(201);
    const u = await registerUser(t);
    expect((await introspect(u.token, bearer(key.body.token))).status).toBe(200);
    await t.auth.users.setRoles(admin.user.id, ['user']);
    // Still the group's admin (they created it), so the key lives; but it is no introspection client.
    expect((await introspect(key.body.token)).body).toMatchObject({ active: true, token_type: 'service_key' });
    expectError(await introspect(u.token, bearer(key.body.token)), 401, 'unauthorized');
  });

  it('inactive, never saying why: a refresh token, garbage, an expired token', async () => {
    const u = await registerUser(t);
    for (const token of [u.refresh_token, 'not-a-token', `${u.token}x`, 'api_nope', 'x'.repeat(5000)]) {
      const res = await introspect(token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
    }
    offsetMs = 3601 * 1000;
    try {
      expect((await introspect(u.token)).body).toEqual({ active: false });
    } finally {
      offsetMs = 0;
    }
    expect((await introspect(u.token)).body.active).toBe(true);
  });

  it('a disabled user, a role change and a logout make the token inactive at once', async () => {
    const disabled = await registerUser(t);
    await t.auth.users.setActive(disabled.user.id, false);
    expect((await introspect(disabled.token)).body).toEqual({ active: false });

    const promoted = await registerUser(t);
    await t.auth.users.setRoles(promoted.user.id, ['user', 'admin']);
    expect((await introspect(promoted.token)).body).toEqual({ active: false });

    const out = await registerUser(t);
    expect((await t.http.post(`${BASE}/logout`).send({ refresh_token: out.refresh_token })).status).toBe(200);
    expect((await introspect(out.token)).body).toEqual({ active: false });
  });

  it('an impersonation token is active with the admin as actor, until the admin logs out everywhere', async () => {
    const admin = await registerAdmin(t);
    const u = await registerUser(t);
    const imp = await t.http.post(`${BASE}/${u.user.id}/impersonate`).set(bearer(admin.token)).send({});
    const res = await introspect(imp.body.token);
    expect(res.body).toMatchObject({ active: true, sub: u.user.id, act: { sub: admin.user.id }, token_type: 'access_token' });
    expect((await t.http.post(`${BASE}/logout-all`).set(bearer(admin.token))).status).toBe(200);
    expect((await introspect(imp.body.token)).body).toEqual({ active: false });
  });

  it("a user's API token: its scopes, its expiry; inactive once revoked", async () => {
    const u = await registerUser(t);
    const created = await t.http
      .post(`${BASE}/me/api-tokens`)
      .set(bearer(u.token))
      .send({ name: 'ci', scopes: ['reports:read', 'reports:write'], expires_in_days: 7 });
    const res = await introspect(created.body.token);
    expect(res.body).toMatchObject({ active: true, sub: u.user.id, username: u.username, scope: 'reports:read reports:write', token_type: 'api_token' });
    expect(res.body.exp).toBe(Math.floor(Date.parse(created.body.expires_at) / 1000));
    expect((await t.http.delete(`${BASE}/me/api-tokens/${created.body.id}`).set(bearer(u.token))).status).toBe(200);
    expect((await introspect(created.body.token)).body).toEqual({ active: false });
  });
});

describe('introspection across instances, and with signing keys', () => {
  const { app, track } = closedAfterEach();

  it('a login ended on another instance is inactive here within 1 s', async () => {
    const a = await app({ introspection: { clients: [CLIENT] } });
    const e = express();
    const b = new AuthManager(e, { ...(await databaseOptions()), dbSchema: a.schema, jwtSecret: a.secret, bcryptRounds: 4, rateLimit: false, logger: false });
    track(() => b.close());
    await b.ready;
    const onB = request(e);
    const u = await registerUser(a);
    const login = await onB.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
    const ask = () => a.http.post(`${BASE}/introspect`).set(GATEWAY).send({ token: login.body.token });
    expect((await ask()).body.active).toBe(true);
    const started = performance.now();
    expect((await onB.post(`${BASE}/logout`).send({ refresh_token: login.body.refresh_token })).status).toBe(200);
    let elapsed = Infinity;
    while (performance.now() - started < 3000) {
      if ((await ask()).body.active === false) {
        elapsed = performance.now() - started;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    console.log(`introspection saw a logout on another instance after ${elapsed.toFixed(0)} ms`);
    expect(elapsed).toBeLessThan(1000);
  });

  it('tokens signed with signingKeys introspect alike; a client secret shorter than 32 bytes is a TypeError', async () => {
    const t = await app({ introspection: { clients: [CLIENT] }, signingKeys: generateSigningKey('EdDSA') });
    const u = await registerUser(t);
    const res = await t.http.post(`${BASE}/introspect`).set(GATEWAY).send({ token: u.token });
    expect(res.body).toMatchObject({ active: true, sub: u.user.id });
    expect(
      () => new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(48), introspection: { clients: [{ id: 'a', secret: 'short' }] } }),
    ).toThrow(/introspection\.clients\[0\]\.secret/);
    expect(
      () => new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(48), introspection: { clients: [{ id: 'a:b', secret: CLIENT.secret }] } }),
    ).toThrow(/introspection\.clients\[0\]\.id/);
  });

  it('failed client credentials are limited per address like failed tokens (429 with Retry-After)', async () => {
    const t = await app({ introspection: { clients: [CLIENT] }, rateLimit: { token: { limit: 3, windowSeconds: 60 } } });
    const wrong = basic(CLIENT.id, 'wrong-secret-wrong-secret-wrong-secret');
    for (let i = 0; i < 3; i++) expect((await t.http.post(`${BASE}/introspect`).set(wrong).send({ token: 'x' })).status).toBe(401);
    // The count is written after the answer: wait for it to land.
    const ask = () => t.http.post(`${BASE}/introspect`).set(GATEWAY).send({ token: 'x' });
    let limited = await ask();
    for (let i = 0; i < 50 && limited.status !== 429; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      limited = await ask();
    }
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });
});
