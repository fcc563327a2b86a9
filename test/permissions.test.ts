import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager, type AuthManagerOptions, type RequireAuthOptions } from '../src/index.js';
import { bearer, createTestApp, PASSWORD, type TestApp } from './helpers/app.js';

// admin -> editor -> author -> user: three levels of implication below admin.
const OPTIONS = {
  roles: ['admin', 'editor', 'author', 'user', 'auditor', 'superadmin'],
  roleImplications: { admin: ['editor'], editor: ['author'], author: ['user'], superadmin: ['admin'] },
  permissions: { 'reports:read': ['author'], 'reports:write': ['editor'], 'audit:read': ['auditor'] },
} satisfies Partial<AuthManagerOptions>;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp(OPTIONS);
  t.app.get('/whoami', t.auth.requireAuth(), (req, res) => res.json({ roles: req.auth!.roles, user_roles: req.auth!.user.roles }));
  t.app.get('/authors', t.auth.requireAuth({ roles: ['author'] }), (_req, res) => res.json({ ok: true }));
  t.app.get('/reports/read', t.auth.requireAuth({ permission: 'reports:read' }), (_req, res) => res.json({ ok: true }));
  t.app.get('/reports/write', t.auth.requireAuth({ permission: 'reports:write' }), (_req, res) => res.json({ ok: true }));
  // Every part given must pass: an editor's role, and a role that grants the permission.
  t.app.get('/audit', t.auth.requireAuth({ roles: ['editor'], permission: 'audit:read' }), (_req, res) => res.json({ ok: true }));
});
afterAll(() => t.close());

let n = 0;
/** A user holding `roles`, with an access token and the login response's user object. */
async function userWith(roles: string[]) {
  n += 1;
  const username = `perm${n}_${randomBytes(3).toString('hex')}`;
  const user = await t.auth.users.create({ username, email: `${username}@example.com`, password: PASSWORD, roles });
  const login = await t.http.post('/api/v1/users/login').send({ username, password: PASSWORD });
  expect(login.status).toBe(200);
  return { id: user.id, user, token: login.body.token as string, loginUser: login.body.user as { roles: string[] } };
}

const apiToken = async (userId: string, scopes: string[]) => (await t.auth.apiTokens.create(userId, { name: `t${++n}`, scopes })).token;
const status = async (path: string, token: string) => (await t.http.get(path).set(bearer(token))).status;

describe('effective roles', () => {
  it('implications reach req.auth.roles transitively, three levels down, held roles first', async () => {
    const admin = await userWith(['admin']);
    const res = await t.http.get('/whoami').set(bearer(admin.token));
    expect(res.status).toBe(200);
    expect(res.body.roles).toEqual(['admin', 'editor', 'author', 'user']);
    expect(await status('/authors', admin.token)).toBe(200);
  });

  it('the user object keeps the held roles, on req.auth.user, at login, in the profile and programmatically', async () => {
    const admin = await userWith(['admin']);
    expect((await t.http.get('/whoami').set(bearer(admin.token))).body.user_roles).toEqual(['admin']);
    expect(admin.user.roles).toEqual(['admin']);
    expect(admin.loginUser.roles).toEqual(['admin']);
    const profile = await t.http.get('/api/v1/users/login/profile').set(bearer(admin.token));
    expect(profile.status).toBe(200);
    expect(JSON.stringify(profile.body)).not.toContain('editor');
    expect((await t.auth.users.findById(admin.id))?.roles).toEqual(['admin']);
    const ctx = await t.auth.verifyToken(admin.token);
    expect(ctx.roles).toEqual(['admin', 'editor', 'author', 'user']);
    expect(ctx.user.roles).toEqual(['admin']);
  });

  it('a role implies nothing upwards: an author is not an editor', async () => {
    const author = await userWith(['author']);
    expect((await t.http.get('/whoami').set(bearer(author.token))).body.roles).toEqual(['author', 'user']);
    const plain = await userWith(['user']);
    expect((await t.http.get('/whoami').set(bearer(plain.token))).body.roles).toEqual(['user']);
    expect(await status('/authors', plain.token)).toBe(403);
  });

  it('several held roles merge without duplicates (held roles come sorted by name)', async () => {
    const both = await userWith(['editor', 'author', 'auditor']);
    expect((await t.http.get('/whoami').set(bearer(both.token))).body.roles).toEqual(['auditor', 'author', 'editor', 'user']);
  });

  it('API tokens act with the effective roles of their owner', async () => {
    const editor = await userWith(['editor']);
    const token = await apiToken(editor.id, []);
    const res = await t.http.get('/whoami').set('X-API-Token', token);
    expect(res.body).toEqual({ roles: ['editor', 'author', 'user'], user_roles: ['editor'] });
  });

  it('a role change takes effect on the next request, with the effective set recomputed', async () => {
    const someone = await userWith(['user']);
    const token = await apiToken(someone.id, ['reports:write']); // an API token outlives role changes
    expect(await status('/reports/write', token)).toBe(403);
    await t.auth.users.setRoles(someone.id, ['editor']);
    expect(await status('/reports/write', token)).toBe(200);
    expect((await t.http.get('/whoami').set('X-API-Token', token)).body.roles).toEqual(['editor', 'author', 'user']);
    await t.auth.users.setRoles(someone.id, ['author']);
    expect(await status('/reports/write', token)).toBe(403);
    expect(await status('/reports/read', token)).toBe(403); // the token carries reports:write only

    // An access token issued after the change carries the new effective set.
    const { token: jwt } = await t.auth.issueTokens(someone.id);
    expect((await t.http.get('/whoami').set(bearer(jwt))).body.roles).toEqual(['author', 'user']);
    await t.auth.users.setRoles(someone.id, ['admin', 'user']);
    const { token: again } = await t.auth.issueTokens(someone.id);
    expect((await t.http.get('/whoami').set(bearer(again))).body.roles).toEqual(['admin', 'user', 'editor', 'author']);
  });
});

describe('requireAuth({ permission })', () => {
  it('via an access JWT: a role that grants it, held or implied', async () => {
    const editor = await userWith(['editor']);
    const author = await userWith(['author']);
    const admin = await userWith(['admin']);
    const plain = await userWith(['user']);
    expect(await status('/reports/write', editor.token)).toBe(200);
    expect(await status('/reports/read', editor.token)).toBe(200); // editor implies author
    expect(await status('/reports/read', admin.token)).toBe(200);
    expect(await status('/reports/read', author.token)).toBe(200);
    expect(await status('/reports/write', author.token)).toBe(403);
    const refused = await t.http.get('/reports/read').set(bearer(plain.token));
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden');
    expect((await t.http.get('/reports/read')).status).toBe(401);
  });

  it('via an API token: the operation or * among its scopes, and a role that grants it', async () => {
    const editor = await userWith(['editor']);
    const withScope = await apiToken(editor.id, ['reports:write']);
    const withStar = await apiToken(editor.id, ['*']);
    const withOther = await apiToken(editor.id, ['reports:read']);
    const withNone = await apiToken(editor.id, []);
    expect(await status('/reports/write', withScope)).toBe(200);
    expect(await status('/reports/write', withStar)).toBe(200);
    expect(await status('/reports/read', withStar)).toBe(200);
    const refused = await t.http.get('/reports/write').set('X-API-Token', withOther);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden');
    expect(await status('/reports/write', withNone)).toBe(403);
    expect(await status('/reports/read', withOther)).toBe(200);

    const plain = await userWith(['user']);
    expect(await status('/reports/write', await apiToken(plain.id, ['reports:write', '*']))).toBe(403);
  });

  it('combined with roles, both must pass', async () => {
    const auditor = await userWith(['auditor']);
    const editor = await userWith(['editor']);
    const both = await userWith(['editor', 'auditor']);
    expect(await status('/audit', auditor.token)).toBe(403);
    expect(await status('/audit', editor.token)).toBe(403);
    expect(await status('/audit', both.token)).toBe(200);
  });

  it.each([
    [{ permission: 'reports:delete' }, /no such operation; declare it in the `permissions` option/],
    [{ permission: '' }, /`permission` must be one operation name/],
    [{ permission: ['reports:read'] }, /`permission` must be one operation name, e.g. \{ permission: 'reports:read' \}/],
    [{ permission: 7 }, /`permission` must be one operation name/],
    [{ permissions: ['reports:read'] }, /unknown option `permissions`; did you mean `permission: '...'`/],
    [{ operation: 'reports:read' }, /unknown option `operation`; did you mean `permission/],
  ])('rejects %j at setup with a TypeError', (options, message) => {
    expect(() => t.auth.requireAuth(options as unknown as RequireAuthOptions)).toThrow(TypeError);
    expect(() => t.auth.requireAuth(options as unknown as RequireAuthOptions)).toThrow(message);
  });

  it('without a permissions option, any permission is unknown at setup', async () => {
    const plain = await createTestApp();
    try {
      expect(() => plain.auth.requireAuth({ permission: 'reports:read' })).toThrow(TypeError);
    } finally {
      await plain.close();
    }
  });
});

describe('auth.guard(token, { operation })', () => {
  it('answers is_authorized for access JWTs and API tokens', async () => {
    const editor = await userWith(['editor']);
    const plain = await userWith(['user']);
    const yes = await t.auth.guard(editor.token, { operation: 'reports:write' });
    expect(yes).toMatchObject({ is_authenticated: true, is_authorized: true, error: null });
    expect(yes.auth?.roles).toEqual(['editor', 'author', 'user']);
    const no = await t.auth.guard(plain.token, { operation: 'reports:write' });
    expect(no).toMatchObject({ is_authenticated: true, is_authorized: false });
    expect(no.error?.code).toBe('forbidden');

    expect((await t.auth.guard(await apiToken(editor.id, ['reports:write']), { operation: 'reports:write' })).is_authorized).toBe(true);
    expect((await t.auth.guard(await apiToken(editor.id, ['*']), { operation: 'reports:read' })).is_authorized).toBe(true);
    const scopeless = await t.auth.guard(await apiToken(editor.id, ['other']), { operation: 'reports:write' });
    expect(scopeless).toMatchObject({ is_authenticated: true, is_authorized: false });

    // With roles too: every part must pass.
    expect((await t.auth.guard(editor.token, { operation: 'reports:read', roles: ['auditor'] })).is_authorized).toBe(false);
    expect((await t.auth.guard(editor.token, { operation: 'reports:read', roles: ['author'] })).is_authorized).toBe(true);
  });

  it('an operation the permissions option does not declare is never authorized', async () => {
    const admin = await userWith(['admin']);
    for (const operation of ['reports:delete', '', '*']) {
      const result = await t.auth.guard(admin.token, { operation });
      expect(result).toMatchObject({ is_authenticated: true, is_authorized: false });
    }
  });

  it('never throws: garbage tokens, no token, malformed options', async () => {
    const admin = await userWith(['admin']);
    const cases: Array<[unknown, unknown]> = [
      ['garbage', { operation: 'reports:read' }],
      ['api_notarealtoken000000000000000000000000000000', { operation: 'reports:read' }],
      [undefined, { operation: 'reports:read' }],
      [`${admin.token}x`, { operation: 'reports:read' }],
      ['x'.repeat(10_000), { operation: 'reports:read' }],
      [admin.token, { operation: 42 }],
      [admin.token, { operation: { toString: () => 'reports:read' } }],
      [admin.token, null],
      [42, { operation: 'reports:read' }],
    ];
    for (const [token, need] of cases) {
      const result = await t.auth.guard(token as string, need as { operation?: string });
      expect(result.is_authorized).toBe(false);
      expect(result.error).not.toBeNull();
    }
    const garbage = await t.auth.guard('garbage', { operation: 'reports:read' });
    expect(garbage).toMatchObject({ is_authenticated: false, is_authorized: false, auth: null });
    expect(garbage.error?.code).toBe('invalid_token');
  });
});

describe('site admin goes by the held adminRole only', () => {
  it('a role that implies admin passes requireAuth(["admin"]) but not the admin endpoints', async () => {
    const root = await userWith(['admin']);
    const boss = await userWith(['superadmin']);
    const other = await userWith(['user']);
    expect((await t.http.get('/whoami').set(bearer(boss.token))).body.roles).toEqual(['superadmin', 'admin', 'editor', 'author', 'user']);
    expect(await status('/admin', boss.token)).toBe(200);

    expect(await status('/api/v1/users/admin/users', root.token)).toBe(200);
    const refused = await t.http.get('/api/v1/users/admin/users').set(bearer(boss.token));
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden');

    // Another user's resources: reachable for a held admin, 404 (as for anyone) otherwise.
    expect(await status(`/api/v1/users/${other.id}/api-tokens`, root.token)).toBe(200);
    expect(await status(`/api/v1/users/${other.id}/api-tokens`, boss.token)).toBe(404);
    expect((await t.http.post(`/api/v1/users/${other.id}/impersonate`).set(bearer(boss.token)).send({})).status).toBe(403);
  });
});

describe('misuse of roleImplications and permissions throws TypeError at construction', () => {
  /** Constructs with `extra`; closes the manager should it not throw, so a failing test leaves nothing open. */
  async function misuse(extra: Record<string, unknown>): Promise<TypeError> {
    let auth: AuthManager | undefined;
    let caught: unknown;
    try {
      auth = new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: randomBytes(48), logger: false, ...extra });
    } catch (err) {
      caught = err;
    }
    await auth?.close();
    expect(caught, 'constructor should have thrown').toBeInstanceOf(TypeError);
    return caught as TypeError;
  }

  it.each([
    [{ admin: ['admin'] }, 'admin -> admin'],
    [{ admin: ['editor'], editor: ['admin'] }, 'admin -> editor -> admin'],
    [{ a: ['b'], b: ['c'], c: ['a'] }, 'a -> b -> c -> a'],
    [{ user: [], admin: ['user', 'editor'], editor: ['author'], author: ['editor'] }, 'editor -> author -> editor'],
  ])('a cycle %j names it: %s', async (roleImplications, cycle) => {
    const err = await misuse({ roleImplications });
    expect(err.message).toContain('roleImplications');
    expect(err.message).toContain(cycle);
  });

  it.each([
    [['admin']],
    ['admin'],
    [{ admin: 'editor' }],
    [{ admin: [7] }],
    [{ admin: [''] }],
    [{ admin: undefined }],
    [{ admin: [null] }],
    [{ 'not a role': ['user'] }],
  ])('roleImplications %j', async (roleImplications) => {
    expect((await misuse({ roleImplications })).message).toMatch(/option `roleImplications/);
  });

  it.each([
    [{ 'reports:read': [] }],
    [{ 'reports:read': 'editor' }],
    [{ 'reports:read': [5] }],
    [{ 'reports:read': undefined }],
    [{ '': ['editor'] }],
    [{ '*': ['admin'] }],
    [{ 'reports read': ['editor'] }],
    [['reports:read']],
    ['reports:read'],
  ])('permissions %j', async (permissions) => {
    expect((await misuse({ permissions })).message).toMatch(/option `permissions/);
  });

  it('a diamond is not a cycle, and roles need not be in `roles`', async () => {
    const t2 = await createTestApp({
      roleImplications: { admin: ['left', 'right'], left: ['base'], right: ['base'], base: [] },
      permissions: { 'x:y': ['base'], 'a/b.c-d_e': ['nobody-holds-this'] },
    });
    try {
      const { token } = await t2.auth.issueTokens(
        (await t2.auth.users.create({ username: 'dia', email: 'dia@example.com', password: PASSWORD, roles: ['admin'] })).id,
      );
      const result = await t2.auth.guard(token, { operation: 'x:y' });
      expect(result.is_authorized).toBe(true);
      expect(result.auth?.roles).toEqual(['admin', 'left', 'right', 'base']);
      expect((await t2.auth.guard(token, { operation: 'a/b.c-d_e' })).is_authorized).toBe(false);
    } finally {
      await t2.close();
    }
  });
});
