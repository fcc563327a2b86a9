import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError } from '../src/index.js';
import { bearer, createTestApp, PASSWORD, type TestApp } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

let n = 0;
function fresh(prefix = 'prog') {
  n += 1;
  const username = `${prefix}${n}_${randomBytes(3).toString('hex')}`;
  return { username, email: `${username}@example.com`, password: PASSWORD };
}

/** Runs `fn` and returns the AuthError it rejected with; fails the test when it resolves or throws something else. */
async function authErrorOf(fn: () => Promise<unknown>): Promise<AuthError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected the call to reject').toBeDefined();
  expect(caught).toBeInstanceOf(AuthError);
  return caught as AuthError;
}

const MISSING_ID = '00000000-0000-4000-8000-000000000000';

describe('auth.users', () => {
  it('create returns a public user with default roles and no secrets', async () => {
    const input = fresh();
    const user = await t.auth.users.create(input);
    expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(user.username).toBe(input.username);
    expect(user.email).toBe(input.email);
    expect(user.roles).toEqual(['user']);
    expect(user.is_active).toBe(true);
    expect(JSON.stringify(user)).not.toContain('password');
    expect(JSON.stringify(user)).not.toContain('$2');
  });

  it('create accepts explicit roles', async () => {
    const user = await t.auth.users.create({ ...fresh(), roles: ['admin', 'user'] });
    expect([...user.roles].sort()).toEqual(['admin', 'user']);
  });

  it('create with an unknown role fails with validation_error', async () => {
    const err = await authErrorOf(() => t.auth.users.create({ ...fresh(), roles: ['no-such-role'] }));
    expect(err.code).toBe('validation_error');
    expect(err.status).toBe(400);
  });

  it('create with a duplicate username or email fails with conflict (case-insensitively)', async () => {
    const input = fresh();
    await t.auth.users.create(input);
    const sameName = await authErrorOf(() => t.auth.users.create({ ...fresh(), username: input.username.toUpperCase() }));
    expect(sameName.code).toBe('conflict');
    expect(sameName.status).toBe(409);
    const sameEmail = await authErrorOf(() => t.auth.users.create({ ...fresh(), email: input.email.toUpperCase() }));
    expect(sameEmail.code).toBe('conflict');
  });

  it('findById finds a user and returns undefined for unknown or malformed ids', async () => {
    const user = await t.auth.users.create(fresh());
    const found = await t.auth.users.findById(user.id);
    expect(found?.id).toBe(user.id);
    expect(found?.username).toBe(user.username);
    expect(await t.auth.users.findById(MISSING_ID)).toBeUndefined();
    expect(await t.auth.users.findById('not-a-uuid')).toBeUndefined();
  });

  it('findByIdentifier finds by username or email, case-insensitively', async () => {
    const input = fresh('Mixed');
    const user = await t.auth.users.create(input);
    expect((await t.auth.users.findByIdentifier(input.username))?.id).toBe(user.id);
    expect((await t.auth.users.findByIdentifier(input.username.toLowerCase()))?.id).toBe(user.id);
    expect((await t.auth.users.findByIdentifier(input.username.toUpperCase()))?.id).toBe(user.id);
    expect((await t.auth.users.findByIdentifier(input.email))?.id).toBe(user.id);
    expect((await t.auth.users.findByIdentifier(input.email.toUpperCase()))?.id).toBe(user.id);
    expect(await t.auth.users.findByIdentifier(`nobody_${randomBytes(4).toString('hex')}`)).toBeUndefined();
  });

  it('setRoles replaces roles; an unknown role is validation_error; unknown or malformed ids are not_found', async () => {
    const user = await t.auth.users.create(fresh());
    const updated = await t.auth.users.setRoles(user.id, ['admin']);
    expect(updated.roles).toEqual(['admin']);
    expect((await t.auth.users.findById(user.id))?.roles).toEqual(['admin']);

    const badRole = await authErrorOf(() => t.auth.users.setRoles(user.id, ['no-such-role']));
    expect(badRole.code).toBe('validation_error');
    expect((await t.auth.users.findById(user.id))?.roles).toEqual(['admin']);

    const missing = await authErrorOf(() => t.auth.users.setRoles(MISSING_ID, ['user']));
    expect(missing.code).toBe('not_found');
    expect(missing.status).toBe(404);
    const malformed = await authErrorOf(() => t.auth.users.setRoles('not-a-uuid', ['user']));
    expect(malformed.code).toBe('not_found');
  });

  it("setRoles stops the user's older access tokens from working", async () => {
    const user = await t.auth.users.create(fresh());
    const { token } = await t.auth.issueTokens(user.id);
    expect((await t.auth.verifyToken(token)).roles).toEqual(['user']);
    await t.auth.users.setRoles(user.id, ['admin', 'user']);
    const err = await authErrorOf(() => t.auth.verifyToken(token));
    expect(err.code).toBe('invalid_token');
    const again = await t.auth.issueTokens(user.id);
    expect([...(await t.auth.verifyToken(again.token)).roles].sort()).toEqual(['admin', 'user']);
  });

  it('setActive(false) disables login and tokens; setActive(true) re-enables login', async () => {
    const input = fresh();
    const user = await t.auth.users.create(input);
    const { token } = await t.auth.issueTokens(user.id);
    const disabled = await t.auth.users.setActive(user.id, false);
    expect(disabled.is_active).toBe(false);
    expect((await t.auth.users.findById(user.id))?.is_active).toBe(false);

    const login = await t.http.post('/api/v1/users/login').send({ username: input.username, password: input.password });
    expect(login.status).toBe(403);
    expect(login.body.code).toBe('account_disabled');
    expect((await t.http.get('/me').set(bearer(token))).status).not.toBe(200);
    const issue = await authErrorOf(() => t.auth.issueTokens(user.id));
    expect(issue.code).toBe('account_disabled');

    const enabled = await t.auth.users.setActive(user.id, true);
    expect(enabled.is_active).toBe(true);
    const relogin = await t.http.post('/api/v1/users/login').send({ username: input.username, password: input.password });
    expect(relogin.status).toBe(200);

    const missing = await authErrorOf(() => t.auth.users.setActive(MISSING_ID, false));
    expect(missing.code).toBe('not_found');
    const malformed = await authErrorOf(() => t.auth.users.setActive('not-a-uuid', true));
    expect(malformed.code).toBe('not_found');
  });
});

describe('values the database refuses as data', () => {
  // U+0000 and lone surrogates pass JavaScript's strings but not PostgreSQL's text or jsonb. The
  // HTTP routes answered 400 for them; through the API the database's own error came out, naming the
  // statement (on embedded PGlite, with its text).
  it('are a 400 validation_error, whichever call brings them, and the error says nothing of SQL', async () => {
    const user = await t.auth.users.create(fresh());
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['users.findByIdentifier', () => t.auth.users.findByIdentifier('a\u0000b')],
      ['users.list search', () => t.auth.users.list({ search: 'x\u0000' })],
      ['users.update', () => t.auth.users.update(user.id, { real_name: 'x\u0000' })],
      ['users.create profile NUL', () => t.auth.users.create({ ...fresh(), profile: { note: 'x\u0000' } })],
      ['users.create profile lone surrogate', () => t.auth.users.create({ ...fresh(), profile: { note: '\ud800' } })],
      ['groups.create', () => t.auth.groups.create({ name: 'x\u0000' })],
    ];
    for (const [name, call] of calls) {
      const err = await authErrorOf(call);
      expect({ name, code: err.code, status: err.status }).toEqual({ name, code: 'validation_error', status: 400 });
      expect(JSON.stringify({ ...err, message: err.message }), name).not.toMatch(/select|insert|update .* set|\$1/i);
    }
    // Nothing of them was stored.
    expect((await t.auth.users.findById(user.id))?.real_name ?? '').not.toContain('\u0000');
  });
});

describe('password storage', () => {
  it('stores a pre-hashed bcrypt hash, never the password', async () => {
    const input = { ...fresh(), password: `S3cret-${randomBytes(6).toString('hex')}` };
    const user = await t.auth.users.create(input);
    const rows = await rawQuery<{ password_hash: string | null }>(`SELECT password_hash FROM "${t.schema}".users WHERE id = $1`, [user.id]);
    expect(rows).toHaveLength(1);
    const hash = rows[0]!.password_hash!;
    expect(typeof hash).toBe('string');
    expect(hash).not.toContain(input.password);
    expect(hash.startsWith('$authlib-hmac-sha256$2')).toBe(true);
    // And it is a hash of that password: login works over HTTP.
    const login = await t.http.post('/api/v1/users/login').send({ username: input.username, password: input.password });
    expect(login.status).toBe(200);
  });

  it('a plain bcrypt hash imported with SQL still logs in', async () => {
    const input = fresh();
    const user = await t.auth.users.create(input);
    const imported = `Imported-${randomBytes(6).toString('hex')}`;
    const plain = bcrypt.hashSync(imported, 4);
    expect(plain).toMatch(/^\$2[aby]\$04\$/);
    await rawQuery(`UPDATE "${t.schema}".users SET password_hash = $1 WHERE id = $2`, [plain, user.id]);

    const ok = await t.http.post('/api/v1/users/login').send({ username: input.username, password: imported });
    expect(ok.status).toBe(200);
    expect(ok.body.user.id).toBe(user.id);
    const wrong = await t.http.post('/api/v1/users/login').send({ username: input.username, password: input.password });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('invalid_credentials');
  });

  it('a user created without a password cannot log in with any password', async () => {
    const input = fresh();
    const { password: _unused, ...noPassword } = input;
    await t.auth.users.create(noPassword);
    const login = await t.http.post('/api/v1/users/login').send({ username: input.username, password: input.password });
    expect(login.status).toBe(401);
    expect(login.body.code).toBe('invalid_credentials');
  });
});

describe('auth.apiTokens', () => {
  it('create returns the token once; list shows it without the secret; it authenticates over HTTP', async () => {
    const user = await t.auth.users.create(fresh());
    const created = await t.auth.apiTokens.create(user.id, { name: 'ci', scopes: ['reports:read'], expiresInDays: 7 });
    expect(created.token).toMatch(/^api_[A-Za-z0-9]{8}[A-Za-z0-9]{32,}$/);
    expect(created.name).toBe('ci');
    expect(created.scopes).toEqual(['reports:read']);
    const expiresIn = new Date(created.expires_at!).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(6.9 * 86_400_000);
    expect(expiresIn).toBeLessThan(7.1 * 86_400_000);

    const list = await t.auth.apiTokens.list(user.id);
    expect(list).toHaveLength(1);
    expect(list[0]!.id).toBe(created.id);
    expect(list[0]!.name).toBe('ci');
    expect(list[0]!.scopes).toEqual(['reports:read']);
    expect(JSON.stringify(list)).not.toContain(created.token);

    const rep = await t.http.get('/reports').set('X-API-Token', created.token);
    expect(rep.status).toBe(200);
    const me = await t.http.get('/me').set(bearer(created.token));
    expect(me.status).toBe(200);
    expect(me.body.method).toBe('api_token');
  });

  it('a token without an expiry has expires_at null', async () => {
    const user = await t.auth.users.create(fresh());
    const created = await t.auth.apiTokens.create(user.id, { name: 'forever' });
    expect(created.expires_at).toBeNull();
    expect(created.scopes).toEqual([]);
  });

  it('create for an unknown user is not_found', async () => {
    const err = await authErrorOf(() => t.auth.apiTokens.create(MISSING_ID, { name: 'x' }));
    expect(err.code).toBe('not_found');
  });

  it("revoke removes the token and it stops working; revoking again or another user's token is not_found", async () => {
    const owner = await t.auth.users.create(fresh());
    const other = await t.auth.users.create(fresh());
    const created = await t.auth.apiTokens.create(owner.id, { name: 'temp', scopes: ['reports:read'] });
    expect((await t.http.get('/reports').set('X-API-Token', created.token)).status).toBe(200);

    const foreign = await authErrorOf(() => t.auth.apiTokens.revoke(other.id, created.id));
    expect(foreign.code).toBe('not_found');
    expect((await t.http.get('/reports').set('X-API-Token', created.token)).status).toBe(200);

    await t.auth.apiTokens.revoke(owner.id, created.id);
    expect(await t.auth.apiTokens.list(owner.id)).toEqual([]);
    const after = await t.http.get('/reports').set('X-API-Token', created.token);
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('invalid_token');

    const again = await authErrorOf(() => t.auth.apiTokens.revoke(owner.id, created.id));
    expect(again.code).toBe('not_found');
  });
});

describe('auth.issueTokens', () => {
  it('issues tokens that work over HTTP (access and refresh)', async () => {
    const user = await t.auth.users.create(fresh());
    const pair = await t.auth.issueTokens(user.id);
    expect(typeof pair.token).toBe('string');
    expect(typeof pair.refresh_token).toBe('string');
    const me = await t.http.get('/me').set(bearer(pair.token));
    expect(me.status).toBe(200);
    expect(me.body.username).toBe(user.username);
    expect(me.body.method).toBe('jwt');
    const profile = await t.http.get('/api/v1/users/login/profile').set(bearer(pair.token));
    expect(profile.status).toBe(200);
    expect(profile.body.user.id).toBe(user.id);
    const refreshed = await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: pair.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.token).toEqual(expect.any(String));
  });

  it('for an unknown user is not_found', async () => {
    const err = await authErrorOf(() => t.auth.issueTokens(MISSING_ID));
    expect(err.code).toBe('not_found');
  });
});

describe('auth.verifyToken', () => {
  it('returns {user, roles, method, scopes} for an access JWT', async () => {
    const user = await t.auth.users.create(fresh());
    const { token } = await t.auth.issueTokens(user.id);
    const ctx = await t.auth.verifyToken(token);
    expect(ctx.user.id).toBe(user.id);
    expect(ctx.user.username).toBe(user.username);
    expect(ctx.roles).toEqual(['user']);
    expect(ctx.method).toBe('jwt');
    expect(Array.isArray(ctx.scopes)).toBe(true);
  });

  it('returns the API token scopes for an API token', async () => {
    const user = await t.auth.users.create(fresh());
    const created = await t.auth.apiTokens.create(user.id, { name: 'v', scopes: ['a:read', 'b:write'] });
    const ctx = await t.auth.verifyToken(created.token);
    expect(ctx.user.id).toBe(user.id);
    expect(ctx.method).toBe('api_token');
    expect([...ctx.scopes].sort()).toEqual(['a:read', 'b:write']);
    expect(ctx.roles).toEqual(['user']);
  });

  it('throws AuthError invalid_token for garbage, a tampered JWT, an unknown API token and a refresh token', async () => {
    const user = await t.auth.users.create(fresh());
    const pair = await t.auth.issueTokens(user.id);
    const created = await t.auth.apiTokens.create(user.id, { name: 'v' });
    const tampered = pair.token.slice(0, -2) + (pair.token.endsWith('AA') ? 'BB' : 'AA');
    const forgedApi = created.token.slice(0, 12) + 'x'.repeat(created.token.length - 12);
    for (const bad of ['garbage', 'a.b.c', tampered, forgedApi, 'api_deadbeef' + 'z'.repeat(40), pair.refresh_token]) {
      const err = await authErrorOf(() => t.auth.verifyToken(bad));
      expect(err.code, bad.slice(0, 20)).toBe('invalid_token');
      expect(err.status).toBe(401);
    }
  });

  it('throws token_expired for an expired API token', async () => {
    const user = await t.auth.users.create(fresh());
    const created = await t.auth.apiTokens.create(user.id, { name: 'short', expiresInDays: 1 });
    await rawQuery(`UPDATE "${t.schema}".api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1`, [created.id]);
    const err = await authErrorOf(() => t.auth.verifyToken(created.token));
    expect(err.code).toBe('token_expired');
  });
});

describe('auth.guard', () => {
  let admin: { id: string };
  let plain: { id: string };
  let adminToken: string;
  let plainToken: string;
  beforeAll(async () => {
    admin = await t.auth.users.create({ ...fresh('gadmin'), roles: ['admin'] });
    plain = await t.auth.users.create(fresh('guser'));
    adminToken = (await t.auth.issueTokens(admin.id)).token;
    plainToken = (await t.auth.issueTokens(plain.id)).token;
  });

  it('valid token, no requirement: authenticated and authorized', async () => {
    const r = await t.auth.guard(plainToken);
    expect(r.is_authenticated).toBe(true);
    expect(r.is_authorized).toBe(true);
    expect(r.error).toBeNull();
    expect(r.auth?.user.id).toBe(plain.id);
  });

  it('valid token with the required role: authorized', async () => {
    const r = await t.auth.guard(adminToken, { roles: ['admin'] });
    expect(r.is_authenticated).toBe(true);
    expect(r.is_authorized).toBe(true);
    expect(r.error).toBeNull();
    expect(r.auth?.user.id).toBe(admin.id);
  });

  it('valid token lacking the role: authenticated, not authorized, forbidden', async () => {
    const r = await t.auth.guard(plainToken, { roles: ['admin'] });
    expect(r.is_authenticated).toBe(true);
    expect(r.is_authorized).toBe(false);
    expect(r.error).toBeInstanceOf(AuthError);
    expect(r.error?.code).toBe('forbidden');
  });

  it('API token lacking a scope: not authorized; with it: authorized', async () => {
    const tok = await t.auth.apiTokens.create(plain.id, { name: 'g', scopes: ['reports:read'] });
    const missing = await t.auth.guard(tok.token, { scopes: ['reports:write'] });
    expect(missing.is_authenticated).toBe(true);
    expect(missing.is_authorized).toBe(false);
    expect(missing.error?.code).toBe('forbidden');
    const has = await t.auth.guard(tok.token, { scopes: ['reports:read'] });
    expect(has.is_authorized).toBe(true);
    expect(has.auth?.method).toBe('api_token');
  });

  it('invalid token: not authenticated, invalid_token, no throw', async () => {
    const r = await t.auth.guard('not-a-token', { roles: ['admin'] });
    expect(r.is_authenticated).toBe(false);
    expect(r.is_authorized).toBe(false);
    expect(r.auth).toBeNull();
    expect(r.error).toBeInstanceOf(AuthError);
    expect(r.error?.code).toBe('invalid_token');
  });

  it('missing token: not authenticated, unauthorized, no throw', async () => {
    for (const missing of [undefined, '']) {
      const r = await t.auth.guard(missing);
      expect(r.is_authenticated).toBe(false);
      expect(r.is_authorized).toBe(false);
      expect(r.auth).toBeNull();
      expect(r.error).toBeInstanceOf(AuthError);
      expect(r.error?.code).toBe('unauthorized');
    }
  });

  it('a token of a disabled user: not authenticated, no throw', async () => {
    const u = await t.auth.users.create(fresh());
    const tok = await t.auth.apiTokens.create(u.id, { name: 'd' });
    await t.auth.users.setActive(u.id, false);
    const r = await t.auth.guard(tok.token);
    expect(r.is_authenticated).toBe(false);
    expect(r.is_authorized).toBe(false);
    expect(r.error?.code).toBe('account_disabled');
  });
});
