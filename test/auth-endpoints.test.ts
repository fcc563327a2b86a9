import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { BASE, expectError, expectIsoUtc, expectUserObject, expectValidation, login, loginOk, meStatus, refresh, uniqueName } from './helpers/endpoints.js';

// One app (fresh schema, bcrypt cost 4, no rate limits) for everything that runs on the defaults.
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

function register(body: Record<string, unknown>) {
  return t.http.post(`${BASE}/register`).send(body);
}

function newUserBody(overrides: Record<string, unknown> = {}) {
  const username = uniqueName('reg');
  return { username, email: `${username}@example.com`, password: PASSWORD, ...overrides };
}

describe('POST /register', () => {
  it('answers 201 {user, token, refresh_token} with Cache-Control: no-store and the default roles', async () => {
    const body = newUserBody({ real_name: 'Reggie Example', profile: { theme: 'dark', langs: ['en'] } });
    const res = await register(body);
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['refresh_token', 'token', 'user']);
    expect(res.headers['cache-control']).toMatch(/no-store/);
    expect(typeof res.body.token).toBe('string');
    expect(typeof res.body.refresh_token).toBe('string');
    expect(res.body.token).not.toBe(res.body.refresh_token);
    expectUserObject(res.body.user);
    expect(res.body.user).toMatchObject({
      username: body.username,
      email: body.email,
      roles: ['user'],
      email_verified: false,
      is_active: true,
      real_name: 'Reggie Example',
      profile: { theme: 'dark', langs: ['en'] },
    });
    // The token it hands out is a working access token for that very user.
    const me = await t.http.get('/me').set(bearer(res.body.token));
    expect(me.status).toBe(200);
    expect(me.body.username).toBe(body.username);
    // ... and the refresh token a working refresh token.
    expect((await refresh(t, res.body.refresh_token)).status).toBe(200);
  });

  it('never returns secrets: the user object holds exactly the contract fields', async () => {
    const res = await register(newUserBody());
    expect(res.status).toBe(201);
    expectUserObject(res.body.user);
    expect(res.text).not.toContain(PASSWORD);
    for (const key of ['password', 'password_hash', 'token_version', 'username_key', 'email_key', 'updated_at']) {
      expect(res.body.user).not.toHaveProperty(key);
    }
  });

  it('ignores server-owned fields in the body (roles, id, is_active, email_verified, ...)', async () => {
    const forgedId = '00000000-0000-4000-8000-000000000001';
    const body = newUserBody({
      roles: ['admin'],
      id: forgedId,
      is_active: false,
      email_verified: true,
      token_version: 99,
      password_hash: '$2b$04$abcdefghijklmnopqrstuuJ7QG0Xw8tOQyI9c4R0a1a1a1a1a1a1a',
      created_at: '2000-01-01T00:00:00.000Z',
      last_login: '2000-01-01T00:00:00.000Z',
      user_id: forgedId,
    });
    const res = await register(body);
    expect(res.status).toBe(201);
    expect(res.body.user.roles).toEqual(['user']);
    expect(res.body.user.id).not.toBe(forgedId);
    expect(res.body.user.is_active).toBe(true);
    expect(res.body.user.email_verified).toBe(false);
    expect(res.body.user.created_at).not.toBe('2000-01-01T00:00:00.000Z');
    expect(res.body.user.last_login).not.toBe('2000-01-01T00:00:00.000Z');

    // What is stored agrees, and the forged admin role grants nothing.
    const stored = await t.auth.users.findById(res.body.user.id);
    expect(stored).toMatchObject({ roles: ['user'], is_active: true, email_verified: false });
    expect(await t.auth.users.findById(forgedId)).toBeUndefined();
    const admin = await t.http.get('/admin').set(bearer(res.body.token));
    expectError(admin, 403, 'forbidden');
    // The password in the body (not the forged hash) is the one that works.
    expect((await login(t, body.username, PASSWORD)).status).toBe(200);
  });

  describe('uniqueness of usernames and emails', () => {
    beforeAll(async () => {
      const res = await register({ username: 'alice', email: 'alice@example.com', password: PASSWORD });
      expect(res.status).toBe(201);
    });

    it.each([
      ['the same username', 'alice'],
      ['a different case', 'Alice'],
      ['all capitals', 'ALICE'],
      ['surrounding whitespace', '  alice  '],
      ['fullwidth (NFKC-equivalent) letters', 'Ａｌｉｃｅ'],
      ['fullwidth capitals', 'ＡＬＩＣＥ'],
    ])('409 conflict for %s (%j)', async (_label, username) => {
      const res = await register({ username, email: `${uniqueName('other')}@example.com`, password: PASSWORD });
      expectError(res, 409, 'conflict');
    });

    it.each([
      ['the same email', 'alice@example.com'],
      ['a different case', 'ALICE@Example.COM'],
      ['surrounding whitespace', ' alice@example.com '],
      ['fullwidth (NFKC-equivalent) local part', 'ａｌｉｃｅ@example.com'],
    ])('409 conflict for %s (%j)', async (_label, email) => {
      const res = await register({ username: uniqueName('other'), email, password: PASSWORD });
      expectError(res, 409, 'conflict');
    });

    it('a rejected duplicate leaves the original account intact', async () => {
      const res = await login(t, 'alice');
      expect(res.status).toBe(200);
      expect(res.body.user.username).toBe('alice');
      expect(res.body.user.email).toBe('alice@example.com');
    });

    it('stores the username in the case the user chose, and either case logs in', async () => {
      const username = `Mixed${uniqueName('Case')}`;
      const res = await register({ username, email: `${username.toLowerCase()}@example.com`, password: PASSWORD });
      expect(res.status).toBe(201);
      expect(res.body.user.username).toBe(username);
      const lower = await login(t, username.toLowerCase());
      expect(lower.status).toBe(200);
      expect(lower.body.user.username).toBe(username);
      expect(lower.body.user.id).toBe(res.body.user.id);
    });
  });

  describe('validation', () => {
    it.each([
      ['missing username', { username: undefined }, 'username'],
      ['missing password', { password: undefined }, 'password'],
      ['missing email', { email: undefined }, 'email'],
      ['bad email', { email: 'not-an-email' }, 'email'],
      ['email without domain', { email: 'someone@' }, 'email'],
      ['password of 7 characters', { password: 'seven77' }, 'password'],
      ['empty password', { password: '' }, 'password'],
      ['password of 1025 characters', { password: 'p'.repeat(1025) }, 'password'],
      ['username with @', { username: 'bob@home' }, 'username'],
      ['username with a space', { username: 'bob smith' }, 'username'],
      ['username of 2 characters', { username: 'bo' }, 'username'],
      ['empty username', { username: '' }, 'username'],
    ])('400 validation_error for %s', async (_label, overrides, field) => {
      const body: Record<string, unknown> = newUserBody(overrides);
      for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
      const res = await register(body);
      expectValidation(res, field);
      // Nothing was created.
      if (typeof body.username === 'string' && field !== 'username') {
        expect(await t.auth.users.findByIdentifier(body.username)).toBeUndefined();
      }
    });

    it('accepts the boundaries: an 8-character and a 1024-character password', async () => {
      const short = newUserBody({ password: 'eiGht8#x' });
      expect((await register(short)).status).toBe(201);
      expect((await login(t, short.username, 'eiGht8#x')).status).toBe(200);
      const long = newUserBody({ password: 'L'.repeat(1024) });
      expect((await register(long)).status).toBe(201);
      expect((await login(t, long.username, 'L'.repeat(1024))).status).toBe(200);
    });
  });
});

describe('POST /login', () => {
  let user: Awaited<ReturnType<typeof registerUser>>;
  let email: string;
  beforeAll(async () => {
    const username = uniqueName('Login');
    email = `${username}@Example.com`;
    user = await registerUser(t, { username, email });
  });

  it('logs in by username: 200 {token, refresh_token, user} with Cache-Control: no-store', async () => {
    const res = await login(t, user.username);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['refresh_token', 'token', 'user']);
    expect(res.headers['cache-control']).toMatch(/no-store/);
    expectUserObject(res.body.user);
    expect(res.body.user.id).toBe(user.user.id);
    expect(await meStatus(t, res.body.token)).toBe(200);
  });

  it.each([
    ['username in capitals', () => user.username.toUpperCase()],
    ['username in lower case', () => user.username.toLowerCase()],
    ['email', () => email],
    ['email in capitals', () => email.toUpperCase()],
    ['email in lower case', () => email.toLowerCase()],
  ])('logs in by %s', async (_label, identifier) => {
    const res = await login(t, identifier());
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(user.user.id);
  });

  it('sets last_login', async () => {
    const before = Date.now();
    const res = await login(t, user.username);
    expect(res.status).toBe(200);
    expectIsoUtc(res.body.user.last_login);
    const at = Date.parse(res.body.user.last_login);
    expect(at).toBeGreaterThanOrEqual(before - 5_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 5_000);
    const stored = await t.auth.users.findById(user.user.id);
    expect(stored?.last_login).toBe(res.body.user.last_login);
  });

  it('GET /login/profile right after a login shows that login in last_login', async () => {
    const fresh = await registerUser(t);
    // The caller's profile is read once before the login...
    const before = await t.http.get(`${BASE}/login/profile`).set(bearer(fresh.token));
    expect(before.status).toBe(200);
    const session = await loginOk(t, fresh.username);
    expect(session.user.last_login).not.toBeNull();
    // ... and again after it: it must not be a stale copy.
    const after = await t.http.get(`${BASE}/login/profile`).set(bearer(session.token));
    expect(after.status).toBe(200);
    expect(after.body.user.last_login).toBe(session.user.last_login);
  });

  it('401 invalid_credentials with one identical body for unknown user, wrong password and password-less account', async () => {
    const passwordless = uniqueName('nopw');
    await t.auth.users.create({ username: passwordless, email: `${passwordless}@example.com` });

    const unknown = await login(t, uniqueName('ghost'), PASSWORD);
    const wrong = await login(t, user.username, `${PASSWORD}!`);
    const wrongByEmail = await login(t, email, 'not the password');
    const noPassword = await login(t, passwordless, PASSWORD);
    const noPasswordByEmail = await login(t, `${passwordless}@example.com`, PASSWORD);

    for (const res of [unknown, wrong, wrongByEmail, noPassword, noPasswordByEmail]) {
      expectError(res, 401, 'invalid_credentials');
      expect(res.body).toEqual(unknown.body);
      expect(res.headers['www-authenticate']).toBe(unknown.headers['www-authenticate']);
      expect(res.body).not.toHaveProperty('token');
    }
  });

  it('403 account_disabled for a disabled user with the right password', async () => {
    const victim = await registerUser(t);
    await t.auth.users.setActive(victim.user.id, false);
    const res = await login(t, victim.username, victim.password);
    expectError(res, 403, 'account_disabled');
    expect(res.body).not.toHaveProperty('token');
    // Re-enabled, the same password works again.
    await t.auth.users.setActive(victim.user.id, true);
    expect((await login(t, victim.username, victim.password)).status).toBe(200);
  });

  it('400 validation_error for a missing username or password', async () => {
    expectValidation(await t.http.post(`${BASE}/login`).send({ password: PASSWORD }), 'username');
    expectValidation(await t.http.post(`${BASE}/login`).send({ username: user.username }), 'password');
    expectValidation(await t.http.post(`${BASE}/login`).send({ username: user.username, password: '' }), 'password');
  });
});

describe('password length and truncation', () => {
  it('two 100-character passwords sharing the first 80 characters do not verify each other', async () => {
    const shared = 'x'.repeat(80);
    const password = `${shared}${'A'.repeat(20)}`;
    const other = `${shared}${'B'.repeat(20)}`;
    const u = await registerUser(t, { password });
    expectError(await login(t, u.username, other), 401, 'invalid_credentials');
    expectError(await login(t, u.username, shared), 401, 'invalid_credentials');
    expect((await login(t, u.username, password)).status).toBe(200);
  });

  it('a 64-character non-ASCII password registers and logs in, and one differing past byte 72 does not', async () => {
    const password = '密'.repeat(64); // 192 UTF-8 bytes
    const u = await registerUser(t, { password });
    expect((await login(t, u.username, password)).status).toBe(200);
    expectError(await login(t, u.username, `${'密'.repeat(63)}码`), 401, 'invalid_credentials');
    expectError(await login(t, u.username, '密'.repeat(24)), 401, 'invalid_credentials');
  });

  it('a 1025-character password at /login is 400 validation_error, answered quickly', async () => {
    const u = await registerUser(t, { password: 'q'.repeat(1024) });
    const started = performance.now();
    const res = await login(t, u.username, 'q'.repeat(1025));
    const elapsed = performance.now() - started;
    expectValidation(res, 'password');
    expect(elapsed).toBeLessThan(1000);
    // Not silently truncated to the 1024 characters that are the real password either.
    expect(res.body).not.toHaveProperty('token');
    expect((await login(t, u.username, 'q'.repeat(1024))).status).toBe(200);
  });
});

describe('POST /token-refresh', () => {
  it('returns a new pair, both different from the old one; the old access token keeps working', async () => {
    const u = await registerUser(t);
    const first = await loginOk(t, u.username);
    const res = await refresh(t, first.refresh_token);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['refresh_token', 'token']);
    expect(res.headers['cache-control']).toMatch(/no-store/);
    expect(res.body.token).not.toBe(first.token);
    expect(res.body.refresh_token).not.toBe(first.refresh_token);
    expect(await meStatus(t, res.body.token)).toBe(200);
    // Rotation rotates the refresh token only: the login's earlier access token is not revoked.
    expect(await meStatus(t, first.token)).toBe(200);
    // The new refresh token rotates again.
    const again = await refresh(t, res.body.refresh_token);
    expect(again.status).toBe(200);
    expect(again.body.refresh_token).not.toBe(res.body.refresh_token);
  });

  it.each([
    ['missing', {}],
    ['empty', { refresh_token: '' }],
    ['a number', { refresh_token: 12345 }],
    ['null', { refresh_token: null }],
    ['an array', { refresh_token: ['a.b.c'] }],
    ['an object', { refresh_token: { token: 'a.b.c' } }],
    ['a boolean', { refresh_token: true }],
  ])('400 validation_error when refresh_token is %s', async (_label, body) => {
    expectValidation(await t.http.post(`${BASE}/token-refresh`).send(body), 'refresh_token');
  });

  it('401 invalid_token for garbage, and for an access token', async () => {
    expectError(await refresh(t, 'garbage'), 401, 'invalid_token', ['garbage']);
    expectError(await refresh(t, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'), 401, 'invalid_token');
    const u = await registerUser(t);
    expectError(await refresh(t, u.token), 401, 'invalid_token', [u.token]);
    // ...and a refresh token is no access token.
    const me = await t.http.get('/me').set(bearer(u.refresh_token));
    expectError(me, 401, 'invalid_token', [u.refresh_token]);
    // The rejected attempts did not burn the real refresh token.
    expect((await refresh(t, u.refresh_token)).status).toBe(200);
  });

  it('reuse of a rotated refresh token answers 401 refresh_token_reused and revokes the whole login', async () => {
    const u = await registerUser(t);
    const other = await loginOk(t, u.username); // a second, independent login of the same user
    const first = await loginOk(t, u.username);
    const second = (await refresh(t, first.refresh_token)).body;
    const third = (await refresh(t, second.refresh_token)).body;
    expect(third.refresh_token).toBeTruthy();

    expectError(await refresh(t, first.refresh_token), 401, 'refresh_token_reused', [first.refresh_token]);

    // The newest refresh token of that family is dead too.
    // Revoked with its family, not itself reused: the plain refusal.
    expectError(await refresh(t, third.refresh_token), 401, 'invalid_token');
    // And so is every access token of the family.
    for (const token of [first.token, second.token, third.token]) {
      expectError(await t.http.get('/me').set(bearer(token)), 401, 'invalid_token', [token]);
    }
    // The other login of the same user is untouched.
    expect(await meStatus(t, other.token)).toBe(200);
    expect((await refresh(t, other.refresh_token)).status).toBe(200);
  });
});

describe('POST /logout', () => {
  it('revokes that login (refresh and access token) and no other', async () => {
    const u = await registerUser(t);
    const one = await loginOk(t, u.username);
    const two = await loginOk(t, u.username);
    const res = await t.http.post(`${BASE}/logout`).send({ refresh_token: one.refresh_token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });

    expect((await refresh(t, one.refresh_token)).status).toBe(401);
    expectError(await t.http.get('/me').set(bearer(one.token)), 401, 'invalid_token');
    expectError(await t.http.get(`${BASE}/login/profile`).set(bearer(one.token)), 401, 'invalid_token');

    expect(await meStatus(t, two.token)).toBe(200);
    expect((await refresh(t, two.refresh_token)).status).toBe(200);
  });

  it('with the newest refresh token of a rotated login also kills the access tokens issued before the rotation', async () => {
    const u = await registerUser(t);
    const first = await loginOk(t, u.username);
    const second = (await refresh(t, first.refresh_token)).body;
    expect((await t.http.post(`${BASE}/logout`).send({ refresh_token: second.refresh_token })).status).toBe(200);
    expect(await meStatus(t, first.token)).toBe(401);
    expect(await meStatus(t, second.token)).toBe(401);
    expect((await refresh(t, second.refresh_token)).status).toBe(401);
  });

  it('400 validation_error without a refresh_token, 401 invalid_token for garbage or an access token', async () => {
    expectValidation(await t.http.post(`${BASE}/logout`).send({}), 'refresh_token');
    expectError(await t.http.post(`${BASE}/logout`).send({ refresh_token: 'garbage' }), 401, 'invalid_token');
    const u = await registerUser(t);
    expectError(await t.http.post(`${BASE}/logout`).send({ refresh_token: u.token }), 401, 'invalid_token');
    expect(await meStatus(t, u.token)).toBe(200);
  });
});

describe('POST /logout-all', () => {
  it('kills every access and refresh token of the caller, and nobody else’s', async () => {
    const a = await registerUser(t);
    const b = await registerUser(t);
    const a1 = await loginOk(t, a.username);
    const a2 = await loginOk(t, a.username);
    const a2rotated = (await refresh(t, a2.refresh_token)).body;
    const b1 = await loginOk(t, b.username);

    const res = await t.http.post(`${BASE}/logout-all`).set(bearer(a1.token)).send({});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });

    for (const token of [a.token, a1.token, a2.token, a2rotated.token]) {
      expectError(await t.http.get('/me').set(bearer(token)), 401, 'invalid_token');
    }
    for (const rt of [a.refresh_token, a1.refresh_token, a2rotated.refresh_token]) {
      expect((await refresh(t, rt)).status).toBe(401);
    }
    expect(await meStatus(t, b.token)).toBe(200);
    expect(await meStatus(t, b1.token)).toBe(200);
    expect((await refresh(t, b1.refresh_token)).status).toBe(200);

    // The user can simply log in again.
    const again = await loginOk(t, a.username);
    expect(await meStatus(t, again.token)).toBe(200);
  });

  it('401 unauthorized without credentials, 401 invalid_token with a garbage token', async () => {
    expectError(await t.http.post(`${BASE}/logout-all`).send({}), 401, 'unauthorized');
    expectError(await t.http.post(`${BASE}/logout-all`).set(bearer('garbage')).send({}), 401, 'invalid_token');
  });

  it('needs no body: a bare POST (Content-Length: 0, no Content-Type, as fetch() sends it) works', async () => {
    const u = await registerUser(t);
    // The endpoint takes no input, so the natural call has no body at all.
    expectError(await t.http.post(`${BASE}/logout-all`), 401, 'unauthorized');
    const res = await t.http.post(`${BASE}/logout-all`).set(bearer(u.token));
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { success: true } });
    expect(await meStatus(t, u.token)).toBe(401);
  });
});

describe('POST /change-password', () => {
  const NEW_PASSWORD = 'a brand new passphrase';

  it('401 invalid_credentials for a wrong current password, and nothing changes', async () => {
    const u = await registerUser(t);
    const res = await t.http.post(`${BASE}/change-password`).set(bearer(u.token)).send({ current_password: 'wrong password', password: NEW_PASSWORD });
    expectError(res, 401, 'invalid_credentials');
    expect(await meStatus(t, u.token)).toBe(200);
    expect((await login(t, u.username, PASSWORD)).status).toBe(200);
    expect((await login(t, u.username, NEW_PASSWORD)).status).toBe(401);
  });

  it('400 validation_error for a too short new password or a missing current password', async () => {
    const u = await registerUser(t);
    expectValidation(await t.http.post(`${BASE}/change-password`).set(bearer(u.token)).send({ current_password: PASSWORD, password: 'short' }), 'password');
    expectValidation(await t.http.post(`${BASE}/change-password`).set(bearer(u.token)).send({ password: NEW_PASSWORD }), 'current_password');
    expect((await login(t, u.username, PASSWORD)).status).toBe(200);
  });

  it('401 unauthorized without credentials', async () => {
    expectError(await t.http.post(`${BASE}/change-password`).send({ current_password: PASSWORD, password: NEW_PASSWORD }), 401, 'unauthorized');
  });

  it('succeeds with {success, token, refresh_token}; old tokens die, new ones work; only the new password logs in', async () => {
    const u = await registerUser(t);
    const other = await loginOk(t, u.username);
    const res = await t.http.post(`${BASE}/change-password`).set(bearer(u.token)).send({ current_password: PASSWORD, password: NEW_PASSWORD });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['refresh_token', 'success', 'token']);
    expect(res.body.success).toBe(true);
    expect(res.headers['cache-control']).toMatch(/no-store/);
    expect(res.text).not.toContain(NEW_PASSWORD);

    for (const token of [u.token, other.token]) expectError(await t.http.get('/me').set(bearer(token)), 401, 'invalid_token');
    for (const rt of [u.refresh_token, other.refresh_token]) expect((await refresh(t, rt)).status).toBe(401);

    expect(await meStatus(t, res.body.token)).toBe(200);
    const rotated = await refresh(t, res.body.refresh_token);
    expect(rotated.status).toBe(200);
    expect(await meStatus(t, rotated.body.token)).toBe(200);

    expect((await login(t, u.username, NEW_PASSWORD)).status).toBe(200);
    expectError(await login(t, u.username, PASSWORD), 401, 'invalid_credentials');
  });

  it('a password-less account cannot "change" to a password without knowing one', async () => {
    const name = uniqueName('nopw');
    const created = await t.auth.users.create({ username: name, email: `${name}@example.com` });
    const tokens = await t.auth.issueTokens(created.id);
    const res = await t.http.post(`${BASE}/change-password`).set(bearer(tokens.token)).send({ current_password: 'anything at all', password: NEW_PASSWORD });
    expectError(res, 401, 'invalid_credentials');
    expectError(await login(t, name, NEW_PASSWORD), 401, 'invalid_credentials');
  });
});

describe('GET /login/profile', () => {
  it('200 {user} for the caller', async () => {
    const u = await registerUser(t);
    const res = await t.http.get(`${BASE}/login/profile`).set(bearer(u.token));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['user']);
    expectUserObject(res.body.user);
    expect(res.body.user).toMatchObject({ id: u.user.id, username: u.username, roles: ['user'] });
  });

  it('401 unauthorized with WWW-Authenticate: Bearer without credentials', async () => {
    const res = await t.http.get(`${BASE}/login/profile`);
    expectError(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.headers['www-authenticate']).not.toContain('error=');
  });

  it('401 invalid_token with WWW-Authenticate error="invalid_token" for a garbage token', async () => {
    const garbage = 'not.a.jwt-at-all';
    const res = await t.http.get(`${BASE}/login/profile`).set(bearer(garbage));
    expectError(res, 401, 'invalid_token', [garbage]);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });
});

describe('GET /roles', () => {
  it('lists the default roles, sorted', async () => {
    const res = await t.http.get(`${BASE}/roles`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(['admin', 'user']);
  });
});

describe('requireAuth on app routes', () => {
  it('/me: any signed-in user; 401 without credentials', async () => {
    const u = await registerUser(t);
    const res = await t.http.get('/me').set(bearer(u.token));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ username: u.username, method: 'jwt' });
    expectError(await t.http.get('/me'), 401, 'unauthorized');
    expect((await t.http.get('/public')).status).toBe(200);
  });

  it('/admin: 403 forbidden for a user, 200 after a role change and a fresh login; the old token dies', async () => {
    const u = await registerUser(t);
    expectError(await t.http.get('/admin').set(bearer(u.token)), 403, 'forbidden');

    await t.auth.users.setRoles(u.user.id, ['admin', 'user']);
    // The token issued under the old roles no longer works at all.
    expectError(await t.http.get('/admin').set(bearer(u.token)), 401, 'invalid_token');
    expectError(await t.http.get('/me').set(bearer(u.token)), 401, 'invalid_token');

    const fresh = await loginOk(t, u.username);
    expect(fresh.user.roles).toEqual(['admin', 'user']);
    const admin = await t.http.get('/admin').set(bearer(fresh.token));
    expect(admin.status).toBe(200);
    expect(admin.body).toEqual({ admin: true });

    // And back: demotion kills the admin token as well (another admin stays: the last one is kept).
    await t.auth.users.create({ username: `keeper_${u.username}`, roles: ['admin'] });
    await t.auth.users.setRoles(u.user.id, ['user']);
    expectError(await t.http.get('/admin').set(bearer(fresh.token)), 401, 'invalid_token');
    const demoted = await loginOk(t, u.username);
    expectError(await t.http.get('/admin').set(bearer(demoted.token)), 403, 'forbidden');
  });

  it('a disabled user’s existing access token stops working', async () => {
    const u = await registerUser(t);
    expect(await meStatus(t, u.token)).toBe(200);
    await t.auth.users.setActive(u.user.id, false);
    // Disabling bumps the token version, so the token itself is dead (its API tokens get 403 account_disabled).
    expectError(await t.http.get('/me').set(bearer(u.token)), 401, 'invalid_token');
  });
});

describe('options: allowRegistration: false and custom roles', () => {
  let closed: TestApp;
  beforeAll(async () => {
    closed = await createTestApp({ allowRegistration: false, roles: ['admin', 'user', 'editor', 'auditor'] });
  });
  afterAll(() => closed?.close());

  it('POST /register answers 403 forbidden and creates nobody', async () => {
    const username = uniqueName('closed');
    const res = await closed.http.post(`${BASE}/register`).send({ username, email: `${username}@example.com`, password: PASSWORD });
    expectError(res, 403, 'forbidden');
    expect(await closed.auth.users.findByIdentifier(username)).toBeUndefined();
  });

  it('users created programmatically still log in', async () => {
    const username = uniqueName('made');
    await closed.auth.users.create({ username, email: `${username}@example.com`, password: PASSWORD, roles: ['editor'] });
    const res = await closed.http.post(`${BASE}/login`).send({ username, password: PASSWORD });
    expect(res.status).toBe(200);
    expect(res.body.user.roles).toEqual(['editor']);
  });

  it('an access token from another AuthManager (another secret) is invalid_token in both directions', async () => {
    const username = uniqueName('made');
    const created = await closed.auth.users.create({ username, email: `${username}@example.com`, password: PASSWORD });
    const foreign = await closed.auth.issueTokens(created.id);
    expect((await closed.http.get('/me').set(bearer(foreign.token))).status).toBe(200);
    expectError(await t.http.get('/me').set(bearer(foreign.token)), 401, 'invalid_token');
    expectError(await refresh(t, foreign.refresh_token), 401, 'invalid_token');
    const local = await registerUser(t);
    expectError(await closed.http.get('/me').set(bearer(local.token)), 401, 'invalid_token');
  });

  it('GET /roles includes the configured roles, sorted', async () => {
    const res = await closed.http.get(`${BASE}/roles`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(['admin', 'auditor', 'editor', 'user']);
  });
});

describe('login does the same work whatever is wrong', () => {
  // Timing itself is measured by `npm run bench` (bench/login.ts); here the work is counted: a
  // hasher that records each call, wrapped around real bcrypt.
  const calls: string[] = [];
  let counted: TestApp;
  beforeAll(async () => {
    counted = await createTestApp({
      hasher: {
        hash: (password) => {
          calls.push('hash');
          return bcrypt.hash(password, 4);
        },
        verify: (password, stored) => {
          calls.push('verify');
          return bcrypt.compare(password, stored).catch(() => false);
        },
      },
    });
  });
  afterAll(() => counted?.close());

  async function work(username: string, password: string): Promise<string[]> {
    calls.length = 0;
    const res = await counted.http.post(`${BASE}/login`).send({ username, password });
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'invalid_credentials' });
    return [...calls];
  }

  it('unknown user, wrong password and password-less account: exactly one bcrypt compare each', async () => {
    const u = await registerUser(counted);
    const nopw = uniqueName('nopw');
    await counted.auth.users.create({ username: nopw, email: `${nopw}@example.com` });
    await work(uniqueName('ghost'), PASSWORD); // creates the decoy hash once
    expect(await work(uniqueName('ghost'), PASSWORD)).toEqual(['verify']);
    expect(await work(u.username, 'wrong password!')).toEqual(['verify']);
    expect(await work(nopw, PASSWORD)).toEqual(['verify']);
  });

  it('a 1025-character password is refused before any hashing: 400 validation_error', async () => {
    const u = await registerUser(counted, { password: 'q'.repeat(1024) });
    calls.length = 0;
    expectValidation(await login(counted, u.username, 'q'.repeat(1025)), 'password');
    expect(calls).toEqual([]);
    // Not silently truncated to the 1024 characters that are the real password either.
    expect((await login(counted, u.username, 'q'.repeat(1024))).status).toBe(200);
  });
});
