import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';

const SHAPE = /^api_[0-9A-Za-z]{8}[0-9A-Za-z]{32,}$/;
const BASE = '/api/v1/users';

let clock = new Date();
let t: TestApp;
type U = Awaited<ReturnType<typeof registerUser>>;
let alice: U;
let bob: U;

beforeAll(async () => {
  t = await createTestApp({ now: () => clock });
  alice = await registerUser(t);
  bob = await registerUser(t);
});
afterAll(() => t?.close());

type Res = { status: number; body: Record<string, unknown> };
const outcome = (r: Res) => ({ status: r.status, code: r.body?.code });

function create(token: string, body: Record<string, unknown>, user = 'me') {
  return t.http.post(`${BASE}/${user}/api-tokens`).set(bearer(token)).send(body);
}
function list(token: string, user = 'me') {
  return t.http.get(`${BASE}/${user}/api-tokens`).set(bearer(token));
}
function remove(token: string, id: string, user = 'me') {
  return t.http.delete(`${BASE}/${user}/api-tokens/${id}`).set(bearer(token));
}

async function created(token: string, body: Record<string, unknown>, user = 'me') {
  const res = await create(token, body, user);
  expect(res.status).toBe(201);
  return res.body as { id: string; name: string; token: string; scopes: string[]; created_at: string; expires_at: string | null };
}

describe('creating', () => {
  it('answers 201 with exactly {id, name, token, scopes, created_at, expires_at} and Cache-Control: no-store', async () => {
    const res = await create(alice.token, { name: 'ci', scopes: ['reports:read'] });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['created_at', 'expires_at', 'id', 'name', 'scopes', 'token']);
    expect(res.headers['cache-control']).toContain('no-store');
    expect(res.body.token).toMatch(SHAPE);
    expect(res.body.name).toBe('ci');
    expect(res.body.scopes).toEqual(['reports:read']);
    expect(res.body.expires_at).toBeNull();
    expect(new Date(res.body.created_at as string).toISOString()).toBe(res.body.created_at);
    expect(typeof res.body.id).toBe('string');
  });

  it('gives every token a different id and secret', async () => {
    const a = await created(alice.token, { name: 'one' });
    const b = await created(alice.token, { name: 'two' });
    expect(a.id).not.toBe(b.id);
    expect(a.token).not.toBe(b.token);
    expect(a.token.slice(12)).not.toBe(b.token.slice(12));
    expect(a.scopes).toEqual([]);
  });

  it('expires_in_days sets expires_at that many days after the (injected) clock', async () => {
    const res = await created(alice.token, { name: 'week', expires_in_days: 7 });
    expect(new Date(res.expires_at!).getTime()).toBe(clock.getTime() + 7 * 86_400_000);
  });

  it.each([
    ['name missing', { scopes: ['a'] }],
    ['name empty', { name: '' }],
    ['name not a string', { name: 42 }],
    ['scopes not an array', { name: 'x', scopes: 'reports:read' }],
    ['scopes with a non-string', { name: 'x', scopes: [1] }],
    ['expires_in_days 0', { name: 'x', expires_in_days: 0 }],
    ['expires_in_days negative', { name: 'x', expires_in_days: -1 }],
    ["expires_in_days 'x'", { name: 'x', expires_in_days: 'x' }],
    ["expires_in_days '5' (string)", { name: 'x', expires_in_days: '5' }],
    ['expires_in_days 99999', { name: 'x', expires_in_days: 99999 }],
    ['expires_in_days 1.5', { name: 'x', expires_in_days: 1.5 }],
  ])('%s -> 400 validation_error', async (_label, body) => {
    const res = await create(alice.token, body);
    expect(outcome(res)).toEqual({ status: 400, code: 'validation_error' });
    expect(typeof res.body.fields).toBe('object');
  });

  it('a rejected request creates nothing', async () => {
    const before = ((await list(alice.token)).body as unknown as unknown[]).length;
    await create(alice.token, { name: 'x', expires_in_days: 0 });
    await create(alice.token, { scopes: ['x'] });
    expect(((await list(alice.token)).body as unknown as unknown[]).length).toBe(before);
  });

  it('needs authentication', async () => {
    const res = await t.http.post(`${BASE}/me/api-tokens`).send({ name: 'x' });
    expect(outcome(res)).toEqual({ status: 401, code: 'unauthorized' });
  });
});

describe('listing', () => {
  it('never shows the token or its hash; last_used_at is null until the token is used, then set', async () => {
    const u = await registerUser(t);
    const tok = await created(u.token, { name: 'listed', scopes: ['a:b'] });

    const first = await list(u.token);
    expect(first.status).toBe(200);
    const rows = first.body as unknown as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0]!).sort()).toEqual(['created_at', 'expires_at', 'id', 'last_used_at', 'name', 'scopes']);
    expect(rows[0]).toMatchObject({ id: tok.id, name: 'listed', scopes: ['a:b'], last_used_at: null });
    const hash = (await rawQuery<{ token_hash: string }>(`select token_hash from "${t.schema}".api_tokens where id = $1`, [tok.id]))[0]!.token_hash;
    expect(typeof hash).toBe('string');
    expect(first.text).not.toContain(tok.token);
    expect(first.text).not.toContain(tok.token.slice(12));
    expect(first.text).not.toContain(hash);

    expect((await t.http.get('/me').set(bearer(tok.token))).status).toBe(200);
    // Recorded before the guarded request goes on.
    const lastUsed = ((await list(u.token)).body as unknown as Record<string, unknown>[])[0]!.last_used_at;
    expect(typeof lastUsed).toBe('string');
    expect(new Date(lastUsed as string).getTime()).toBe(clock.getTime());
  });

  it('a user with no tokens gets []', async () => {
    const u = await registerUser(t);
    const res = await list(u.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });
});

describe('using', () => {
  let reader: string;
  let plain: string;
  beforeAll(async () => {
    reader = (await created(alice.token, { name: 'reader', scopes: ['reports:read'] })).token;
    plain = (await created(alice.token, { name: 'plain', scopes: ['reports:write', 'other'] })).token;
  });

  it('works as Authorization: Bearer api_... and as X-API-Token', async () => {
    const viaBearer = await t.http.get('/me').set(bearer(reader));
    expect(viaBearer.status).toBe(200);
    expect(viaBearer.body).toEqual({ username: alice.username, method: 'api_token' });
    const viaHeader = await t.http.get('/me').set('X-API-Token', reader);
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.body).toEqual({ username: alice.username, method: 'api_token' });
  });

  it("requireAuth({scopes:['reports:read']}) passes only an API token carrying that scope; an access JWT passes", async () => {
    expect((await t.http.get('/reports').set('X-API-Token', reader)).status).toBe(200);
    expect(outcome(await t.http.get('/reports').set('X-API-Token', plain))).toEqual({ status: 403, code: 'forbidden' });
    expect(outcome(await t.http.get('/reports').set(bearer(plain)))).toEqual({ status: 403, code: 'forbidden' });
    const noScopes = await created(alice.token, { name: 'none' });
    expect(outcome(await t.http.get('/reports').set('X-API-Token', noScopes.token))).toEqual({ status: 403, code: 'forbidden' });
    expect((await t.http.get('/reports').set(bearer(alice.token))).status).toBe(200);
  });

  it("acts with the owner's current roles", async () => {
    // Another admin, so that taking the role back below does not remove the last one (409).
    await t.auth.users.setRoles((await registerUser(t)).user.id, ['admin']);
    const u = await registerUser(t);
    const tok = await created(u.token, { name: 'roles' });
    expect(outcome(await t.http.get('/admin').set('X-API-Token', tok.token))).toEqual({ status: 403, code: 'forbidden' });
    await t.auth.users.setRoles(u.user.id, ['admin', 'user']);
    expect((await t.http.get('/admin').set('X-API-Token', tok.token)).status).toBe(200);
    await t.auth.users.setRoles(u.user.id, ['user']);
    expect(outcome(await t.http.get('/admin').set('X-API-Token', tok.token))).toEqual({ status: 403, code: 'forbidden' });
  });

  it('an expired token (expires_in_days: 1, clock + 2 days) is 401 token_expired', async () => {
    const tok = await created(alice.token, { name: 'short', expires_in_days: 1 });
    expect((await t.http.get('/me').set('X-API-Token', tok.token)).status).toBe(200);
    const start = clock;
    try {
      clock = new Date(start.getTime() + 2 * 86_400_000);
      const res = await t.http.get('/me').set('X-API-Token', tok.token);
      expect(outcome(res)).toEqual({ status: 401, code: 'token_expired' });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
      expect(outcome(await t.http.get('/me').set(bearer(tok.token)))).toEqual({ status: 401, code: 'token_expired' });
      // A token without expiry still works at the same instant.
      expect((await t.http.get('/me').set('X-API-Token', reader)).status).toBe(200);
    } finally {
      clock = start;
    }
  });

  it('a deleted token is 401 invalid_token immediately', async () => {
    const tok = await created(alice.token, { name: 'doomed' });
    expect((await t.http.get('/me').set('X-API-Token', tok.token)).status).toBe(200);
    const del = await remove(alice.token, tok.id);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ success: true });
    expect(outcome(await t.http.get('/me').set('X-API-Token', tok.token))).toEqual({ status: 401, code: 'invalid_token' });
    expect(outcome(await t.http.get('/me').set(bearer(tok.token)))).toEqual({ status: 401, code: 'invalid_token' });
    expect(outcome(await remove(alice.token, tok.id))).toEqual({ status: 404, code: 'not_found' });
  });

  it('the right id with a wrong secret is 401 invalid_token', async () => {
    const id = reader.slice(4, 12);
    const secret = reader.slice(12);
    const swapped = secret.split('').reverse().join('');
    const variants = [
      `api_${id}${swapped}`,
      `api_${id}${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`,
      `api_${id}${secret.slice(0, 32)}`,
      `api_${id}${secret}0`,
      `api_${id.toLowerCase() === id ? id.toUpperCase() : id.toLowerCase()}${secret}`,
    ];
    for (const v of variants.filter((x) => x !== reader)) {
      const res = await t.http.get('/me').set('X-API-Token', v);
      expect(outcome(res)).toEqual({ status: 401, code: 'invalid_token' });
      expect(res.text).not.toContain(v);
    }
    expect((await t.http.get('/me').set('X-API-Token', reader)).status).toBe(200);
  });
});

describe('ownership', () => {
  let aliceTok: { id: string; token: string };
  beforeAll(async () => {
    aliceTok = await created(alice.token, { name: 'alice-owned' });
  });

  it("another user's token list answers 404 not_found exactly like a user that does not exist", async () => {
    const theirs = await list(bob.token, alice.user.id);
    const nobody = await list(bob.token, randomUUID());
    expect(outcome(theirs)).toEqual({ status: 404, code: 'not_found' });
    expect(theirs.body).toEqual(nobody.body);
    expect(theirs.text).not.toContain(aliceTok.id);
  });

  it("deleting another user's token answers 404 not_found exactly like a token that does not exist, and deletes nothing", async () => {
    const viaMe = await remove(bob.token, aliceTok.id);
    const missing = await remove(bob.token, 'ZZZZZZZZ');
    expect(outcome(viaMe)).toEqual({ status: 404, code: 'not_found' });
    expect(viaMe.body).toEqual(missing.body);
    const viaOwner = await remove(bob.token, aliceTok.id, alice.user.id);
    const viaNobody = await remove(bob.token, aliceTok.id, randomUUID());
    expect(outcome(viaOwner)).toEqual({ status: 404, code: 'not_found' });
    expect(viaOwner.body).toEqual(viaNobody.body);
    expect((await t.http.get('/me').set('X-API-Token', aliceTok.token)).status).toBe(200);
  });

  it('creating a token for another user answers 404 and creates nothing', async () => {
    const before = ((await list(alice.token)).body as unknown as unknown[]).length;
    const res = await create(bob.token, { name: 'sneaky' }, alice.user.id);
    expect(outcome(res)).toEqual({ status: 404, code: 'not_found' });
    expect(((await list(alice.token)).body as unknown as unknown[]).length).toBe(before);
  });

  it('an admin (setRoles then a new login) can list, create and delete tokens of another user by id', async () => {
    const admin = await registerUser(t);
    await t.auth.users.setRoles(admin.user.id, ['admin', 'user']);
    const login = await t.http.post(`${BASE}/login`).send({ username: admin.username, password: admin.password });
    expect(login.status).toBe(200);
    const adminToken = login.body.token as string;

    const listed = await list(adminToken, alice.user.id);
    expect(listed.status).toBe(200);
    expect((listed.body as unknown as { id: string }[]).map((r) => r.id)).toContain(aliceTok.id);

    const made = await created(adminToken, { name: 'by-admin', scopes: ['reports:read'] }, alice.user.id);
    const asAlice = await t.http.get('/me').set('X-API-Token', made.token);
    expect(asAlice.body).toEqual({ username: alice.username, method: 'api_token' });
    expect(((await list(alice.token)).body as unknown as { id: string }[]).map((r) => r.id)).toContain(made.id);

    expect((await remove(adminToken, made.id, alice.user.id)).status).toBe(200);
    expect(outcome(await t.http.get('/me').set('X-API-Token', made.token))).toEqual({ status: 401, code: 'invalid_token' });
    // An admin addressing a user that does not exist still gets 404.
    expect(outcome(await list(adminToken, randomUUID()))).toEqual({ status: 404, code: 'not_found' });
  });

  it('an API-token caller cannot manage API tokens (403 forbidden), even with an admin owner', async () => {
    const u = await registerUser(t);
    await t.auth.users.setRoles(u.user.id, ['admin', 'user']);
    const login = await t.http.post(`${BASE}/login`).send({ username: u.username, password: u.password });
    const tok = await created(login.body.token, { name: 'leaky', scopes: ['*'] });
    for (const header of [{ 'X-API-Token': tok.token }, bearer(tok.token)]) {
      expect(outcome(await t.http.get(`${BASE}/me/api-tokens`).set(header))).toEqual({ status: 403, code: 'forbidden' });
      expect(outcome(await t.http.post(`${BASE}/me/api-tokens`).set(header).send({ name: 'more' }))).toEqual({ status: 403, code: 'forbidden' });
      expect(outcome(await t.http.delete(`${BASE}/me/api-tokens/${tok.id}`).set(header))).toEqual({ status: 403, code: 'forbidden' });
      expect(outcome(await t.http.get(`${BASE}/${alice.user.id}/api-tokens`).set(header))).toEqual({ status: 403, code: 'forbidden' });
    }
    const rows = (await list(login.body.token)).body as unknown as unknown[];
    expect(rows).toHaveLength(1);
  });
});

describe('storage', () => {
  it('api_tokens rows never contain the token or its secret part', async () => {
    const u = await registerUser(t);
    const tokens = [await created(u.token, { name: 'at-rest-1' }), await created(u.token, { name: 'at-rest-2', scopes: ['x'] })];
    const rows = await rawQuery<Record<string, unknown>>(`select * from "${t.schema}".api_tokens`);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const dump = JSON.stringify(rows);
    for (const tok of tokens) {
      expect(dump).not.toContain(tok.token);
      expect(dump).not.toContain(tok.token.slice(12));
      const row = rows.find((r) => r.id === tok.id);
      expect(row).toBeDefined();
      expect(typeof row!.token_hash).toBe('string');
      expect(row!.token_hash).not.toContain(tok.token.slice(12));
      expect(row!.token_hash).not.toContain(tok.token.slice(12, 28));
    }
  });
});
