import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';

// Attacks from the outside review that are not races: a narrow API token ending its owner's
// sessions, a deep profile blowing the stack, a registration left half done, and a body-less
// endpoint taking a form post.

const BASE = '/api/v1/users';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const outcome = (r: { status: number; body: { code?: unknown } }) => ({ status: r.status, code: r.body?.code });

async function userWithApiToken(scopes: string[] = ['reports:read']) {
  const u = await registerUser(t);
  const created = await t.http.post(`${BASE}/me/api-tokens`).set(bearer(u.token)).send({ name: 'narrow', scopes });
  expect(created.status).toBe(201);
  return { ...u, apiToken: created.body.token as string };
}

describe('an API token cannot reach account and session operations', () => {
  for (const [header, value] of [
    ['Authorization', (tok: string) => `Bearer ${tok}`],
    ['X-API-Token', (tok: string) => tok],
  ] as const) {
    it(`POST /logout-all with an API token (${header}) is 403 forbidden and ends nothing`, async () => {
      const u = await userWithApiToken(['*']);
      const res = await t.http.post(`${BASE}/logout-all`).set(header, value(u.apiToken));
      expect(outcome(res)).toEqual({ status: 403, code: 'forbidden' });
      expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(200);
      expect((await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: u.refresh_token })).status).toBe(200);
    });
  }

  it('POST /change-password with an API token is 403 even with the right password, and the password stays', async () => {
    const u = await userWithApiToken();
    const res = await t.http
      .post(`${BASE}/change-password`)
      .set('X-API-Token', u.apiToken)
      .send({ current_password: PASSWORD, password: 'a whole new password' });
    expect(outcome(res)).toEqual({ status: 403, code: 'forbidden' });
    expect((await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD })).status).toBe(200);
    expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(200);
  });

  it('guessing the password through /change-password with an API token learns nothing: every guess is the same 403', async () => {
    const u = await userWithApiToken();
    const guesses = await Promise.all(
      ['wrong one', PASSWORD, 'another wrong'].map((current_password) =>
        t.http.post(`${BASE}/change-password`).set('X-API-Token', u.apiToken).send({ current_password, password: 'a whole new password' }),
      ),
    );
    expect(guesses.map(outcome)).toEqual(Array(3).fill({ status: 403, code: 'forbidden' }));
  });

  it.each([
    ['GET', '/me/identities'],
    ['DELETE', '/me/identities/github'],
    ['GET', '/me/api-tokens'],
    ['POST', '/me/api-tokens'],
  ])('%s %s with an API token is 403 forbidden', async (method, path) => {
    const u = await userWithApiToken(['*']);
    const req = method === 'GET' ? t.http.get(BASE + path) : method === 'DELETE' ? t.http.delete(BASE + path) : t.http.post(BASE + path).send({ name: 'more' });
    expect(outcome(await req.set('X-API-Token', u.apiToken))).toEqual({ status: 403, code: 'forbidden' });
  });

  it('the same API token still works on the app routes it was made for', async () => {
    const u = await userWithApiToken();
    expect((await t.http.get('/reports').set('X-API-Token', u.apiToken)).status).toBe(200);
    expect((await t.http.get(`${BASE}/login/profile`).set('X-API-Token', u.apiToken)).status).toBe(200);
  });
});

/** `{"a":{"a":...{}}}` nested `depth` levels. */
const nested = (depth: number) => '{"a":'.repeat(depth) + '{}' + '}'.repeat(depth);

describe('deeply nested profile', () => {
  it('5,000 levels inside 16 KiB: 400 validation_error on fields.profile, not 500', async () => {
    const body = `{"username":"deep_${Date.now()}","password":"${PASSWORD}","email":"deep${Date.now()}@example.com","profile":{"a":${'['.repeat(5000)}${']'.repeat(5000)}}}`;
    expect(body.length).toBeLessThan(16 * 1024);
    const res = await t.http.post(`${BASE}/register`).set('Content-Type', 'application/json').send(body);
    expect(outcome(res)).toEqual({ status: 400, code: 'validation_error' });
    expect(Object.keys(res.body.fields)).toEqual(['profile']);
  });

  it('the same through the programmatic API: a ValidationError, no RangeError', async () => {
    const profile = JSON.parse(nested(5000)) as Record<string, unknown>;
    await expect(t.auth.users.create({ username: `deep_api_${Date.now()}`, email: `deepapi${Date.now()}@example.com`, profile })).rejects.toMatchObject({
      code: 'validation_error',
    });
  });

  it('32 levels are accepted and come back as sent; 33 are refused', async () => {
    const ok = await t.http
      .post(`${BASE}/register`)
      .set('Content-Type', 'application/json')
      .send(`{"username":"depth32_${Date.now()}","password":"${PASSWORD}","email":"d32_${Date.now()}@example.com","profile":${nested(31)}}`);
    expect(ok.status).toBe(201);
    expect(JSON.stringify(ok.body.user.profile)).toBe(nested(31));
    const tooDeep = await t.http
      .post(`${BASE}/register`)
      .set('Content-Type', 'application/json')
      .send(`{"username":"depth33_${Date.now()}","password":"${PASSWORD}","email":"d33_${Date.now()}@example.com","profile":${nested(32)}}`);
    expect(outcome(tooDeep)).toEqual({ status: 400, code: 'validation_error' });
  });

  it('deep objects count too (2,500 levels)', async () => {
    const res = await t.http
      .post(`${BASE}/register`)
      .set('Content-Type', 'application/json')
      .send(`{"username":"deepobj_${Date.now()}","password":"${PASSWORD}","email":"do${Date.now()}@example.com","profile":${nested(2500)}}`);
    expect(outcome(res)).toEqual({ status: 400, code: 'validation_error' });
  });
});

describe('registration is one transaction', () => {
  it('a failure while issuing the tokens leaves no user behind, and the retry succeeds', async () => {
    const fn = `"${t.schema}".refuse_refresh_insert`;
    await rawQuery(`create function ${fn}() returns trigger language plpgsql as $$ begin raise exception 'refresh tokens unavailable'; end $$`);
    await rawQuery(`create trigger refuse_refresh before insert on "${t.schema}".refresh_tokens for each row execute function ${fn}()`);
    const fields = { username: `half_${Date.now()}`, password: PASSWORD, email: `half${Date.now()}@example.com` };
    try {
      const failed = await t.http.post(`${BASE}/register`).send(fields);
      expect(outcome(failed)).toEqual({ status: 500, code: 'internal_error' });
      const rows = await rawQuery<{ n: number }>(`select count(*)::int as n from "${t.schema}".users where username = $1`, [fields.username]);
      expect(rows[0]!.n).toBe(0);
    } finally {
      await rawQuery(`drop trigger refuse_refresh on "${t.schema}".refresh_tokens`);
      await rawQuery(`drop function ${fn}()`);
    }
    const retry = await t.http.post(`${BASE}/register`).send(fields);
    expect(retry.status).toBe(201);
    expect((await t.http.get('/me').set(bearer(retry.body.token))).status).toBe(200);
  });
});

describe('body-less endpoints follow the wire format', () => {
  it.each([
    ['text/plain', 'hello'],
    ['application/x-www-form-urlencoded', 'a=b'],
    ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n'],
  ])('POST /logout-all with a %s body is 415 unsupported_media_type', async (type, body) => {
    const u = await registerUser(t);
    const res = await t.http.post(`${BASE}/logout-all`).set(bearer(u.token)).set('Content-Type', type).send(body);
    expect(outcome(res)).toEqual({ status: 415, code: 'unsupported_media_type' });
    expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(200);
  });

  it('POST /logout-all with no body, or an empty JSON object, works', async () => {
    const u = await registerUser(t);
    expect((await t.http.post(`${BASE}/logout-all`).set(bearer(u.token)).set('Content-Type', 'application/json').send('{}')).status).toBe(200);
    const v = await registerUser(t);
    expect((await t.http.post(`${BASE}/logout-all`).set(bearer(v.token))).status).toBe(200);
  });
});
