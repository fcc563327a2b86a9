import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import express from 'express';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestAuth, type TestAuth } from '../src/testing/index.js';
import { TEST_DSN } from './helpers/database.js';

// express-authlib/testing always runs on its own in-memory PGlite, whatever database the suite
// uses, so the PostgreSQL run of the suite has nothing more to check here.
const EXIT_MAIN = fileURLToPath(new URL('./helpers/testing-exit-main.ts', import.meta.url));

/** A host app as a user would write it: its own routes, guarded by the instance's requireAuth. */
function hostApp(build: (app: express.Express) => Promise<TestAuth>) {
  const app = express();
  const ready = build(app).then((auth) => {
    app.get('/admin', auth.requireAuth({ roles: ['admin'] }), (req, res) => res.json({ hello: req.auth!.user.username }));
    app.get('/reports', auth.requireAuth({ scopes: ['reports:read'] }), (_req, res) => res.json({ reports: [] }));
    return auth;
  });
  return { app, ready, http: request(app) };
}

describe.skipIf(TEST_DSN)('express-authlib/testing', () => {
  const host = hostApp((app) => createTestAuth(app, { tokenExpiry: 600 }));
  let auth: TestAuth;

  beforeAll(async () => {
    auth = await host.ready;
  });
  afterEach(() => auth.reset());
  afterAll(() => auth.close());

  it('loginAs({ roles }) passes requireAuth({ roles }), a user without the role gets 403, no token 401', async () => {
    const admin = await auth.loginAs({ roles: ['admin'] });
    const res = await host.http.get('/admin').set(admin.headers);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ hello: admin.user.username });
    expect(admin.user.roles).toEqual(['admin']);

    const plain = await auth.loginAs();
    expect(plain.user.roles).toEqual(['user']);
    expect((await host.http.get('/admin').set(plain.headers)).body.code).toBe('forbidden');
    expect((await host.http.get('/admin')).status).toBe(401);
  });

  it('loginAs signs in an existing user, by object or id, with tokens the endpoints accept', async () => {
    const created = await auth.users.create({ username: 'alice', email: 'alice@example.com', roles: ['admin', 'user'] });
    const byObject = await auth.loginAs(created);
    const byId = await auth.loginAs(created.id);
    expect(byObject.user.id).toBe(created.id);
    expect(byId.user.username).toBe('alice');
    expect(byId.token).not.toBe(byObject.token);
    expect((await host.http.get('/admin').set(byId.headers)).status).toBe(200);
    // Real tokens: the library's own endpoints take them, and the refresh token rotates.
    const profile = await host.http.get('/api/v1/users/login/profile').set(byObject.headers);
    expect(profile.body.user.id).toBe(created.id);
    const refreshed = await host.http.post('/api/v1/users/token-refresh').send({ refresh_token: byObject.refresh_token });
    expect(refreshed.status).toBe(200);
  });

  it('a spec with a password makes an account that can also log in over HTTP; names are unique', async () => {
    const a = await auth.loginAs({ password: 'correct horse battery staple', real_name: 'Ann' });
    const b = await auth.loginAs({});
    expect(a.user.username).not.toBe(b.user.username);
    expect(a.user.email_verified).toBe(true);
    const login = await host.http.post('/api/v1/users/login').send({ username: a.user.username, password: 'correct horse battery staple' });
    expect(login.status).toBe(200);
    const wrong = await host.http.post('/api/v1/users/login').send({ username: a.user.username, password: 'not the password at all' });
    expect(wrong.body.code).toBe('invalid_credentials');
  });

  it('a role that does not exist yet is created for the user; reset() removes it again', async () => {
    const editor = await auth.loginAs({ roles: ['editor'] });
    expect(editor.user.roles).toEqual(['editor']);
    expect((await auth.roles.list()).map((r) => r.name)).toContain('editor');
    await auth.reset();
    expect((await auth.roles.list()).map((r) => r.name).sort()).toEqual(['admin', 'user']);
  });

  it('groups in a spec: the group is created when missing, and the user joins it with the roles given', async () => {
    const owner = await auth.loginAs({ groups: [{ group: 'acme', roles: ['admin'] }] });
    const member = await auth.loginAs({ groups: ['acme'] });
    expect(await auth.groups.membershipsOf(owner.user.id)).toMatchObject([{ slug: 'acme', roles: ['admin'] }]);
    expect(await auth.groups.membershipsOf(member.user.id)).toMatchObject([{ slug: 'acme', roles: [] }]);
    // Real memberships: the group endpoints show them to the member's token.
    const res = await host.http.get('/api/v1/users/groups').set(member.headers);
    expect(res.body.groups.map((g: { slug: string }) => g.slug)).toEqual(['acme']);
  });

  it('apiTokenFor(user, { scopes }) passes requireAuth({ scopes }); without the scope 403', async () => {
    const reader = await auth.apiTokenFor({ roles: ['user'] }, { scopes: ['reports:read'] });
    expect(reader.token).toMatch(/^api_/);
    expect((await host.http.get('/reports').set(reader.headers)).status).toBe(200);
    const other = await auth.apiTokenFor(reader.user, { scopes: ['other'] });
    expect(other.user.id).toBe(reader.user.id);
    expect((await host.http.get('/reports').set(other.headers)).body.code).toBe('forbidden');
  });

  it('clock.advance past tokenExpiry expires the access token (401 token_expired); clock.reset() brings it back', async () => {
    const admin = await auth.loginAs({ roles: ['admin'] });
    expect((await host.http.get('/admin').set(admin.headers)).status).toBe(200);
    auth.clock.advance(599);
    expect((await host.http.get('/admin').set(admin.headers)).status).toBe(200);
    auth.clock.advance(2);
    const expired = await host.http.get('/admin').set(admin.headers);
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe('token_expired');
    auth.clock.reset();
    expect((await host.http.get('/admin').set(admin.headers)).status).toBe(200);
  });

  it('clock.set moves "now" to a date: tokens are issued at that time', async () => {
    auth.clock.set('2030-01-01T00:00:00Z');
    expect(Math.abs(auth.clock.now().getTime() - Date.parse('2030-01-01T00:00:00Z'))).toBeLessThan(1000);
    const admin = await auth.loginAs({ roles: ['admin'] });
    const claims = JSON.parse(Buffer.from(admin.token.split('.')[1]!, 'base64url').toString()) as { iat: number; exp: number };
    expect(claims.iat).toBeGreaterThanOrEqual(Date.parse('2030-01-01T00:00:00Z') / 1000);
    expect(claims.exp - claims.iat).toBe(600);
    // Issued in 2030: back in real time, "iat in the future" makes it invalid.
    auth.clock.reset();
    expect((await host.http.get('/admin').set(admin.headers)).body.code).toBe('invalid_token');
  });

  it('reset() removes users, and tokens issued before it stop working at once, though their user was cached', async () => {
    const admin = await auth.loginAs({ roles: ['admin'] });
    const api = await auth.apiTokenFor(admin.user, { scopes: ['reports:read'] });
    // Both are now in the instance's caches (user and API-token row).
    expect((await host.http.get('/admin').set(admin.headers)).status).toBe(200);
    expect((await host.http.get('/reports').set(api.headers)).status).toBe(200);

    await auth.reset();
    expect(await auth.users.findById(admin.user.id)).toBeUndefined();
    expect((await auth.users.list({})).total).toBe(0);
    expect((await auth.events.list({})).length).toBe(0);
    const afterJwt = await host.http.get('/admin').set(admin.headers);
    expect(afterJwt.status).toBe(401);
    expect(afterJwt.body.code).toBe('invalid_token');
    expect((await host.http.get('/reports').set(api.headers)).body.code).toBe('invalid_token');
    // And the instance works as new.
    expect((await host.http.get('/admin').set((await auth.loginAs({ roles: ['admin'] })).headers)).status).toBe(200);
  });

  it('reset() waits for work a request left running: the mail of a password reset goes out before the rows go', async () => {
    const sent: string[] = [];
    const slow = await createTestAuth(null, {
      mailer: {
        send: async (message) => {
          await new Promise((resolve) => setTimeout(resolve, 200));
          sent.push(message.kind);
        },
      },
    });
    try {
      const app = express();
      app.use('/api/v1/users', slow.router);
      const { user } = await slow.loginAs({ email: 'dana@example.com' });
      const res = await request(app).post('/api/v1/users/request-password-reset').send({ email: user.email });
      expect(res.status).toBe(202);
      expect(sent).toEqual([]);
      await slow.reset();
      expect(sent).toEqual(['password_reset']);
      expect((await slow.users.list({})).total).toBe(0);
      expect(await slow.events.list({})).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  it('misuse is a TypeError naming the fix', async () => {
    await expect(createTestAuth(null, { dbDsn: 'pglite://memory' } as never)).rejects.toThrow(TypeError);
    await expect(createTestAuth(null, { now: () => new Date() } as never)).rejects.toThrow(/clock\.advance/);
    await expect(createTestAuth(null, { jwtSecret: 'short' })).rejects.toThrow(/jwtSecret/);
    await expect(createTestAuth({} as never)).rejects.toThrow(/use\(\)/);
    await expect(auth.loginAs('00000000-0000-4000-8000-000000000000')).rejects.toThrow(/no user has id/);
    await expect(auth.loginAs(42 as never)).rejects.toThrow(TypeError);
    expect(() => auth.clock.advance(Number.NaN)).toThrow(TypeError);
    expect(() => auth.clock.set('not a date')).toThrow(TypeError);
  });
});

describe.skipIf(TEST_DSN)('express-authlib/testing: instances', () => {
  it('two instances in parallel do not see each other’s users or accept each other’s tokens', async () => {
    const [a, b] = await Promise.all([createTestAuth(null), createTestAuth(null)]);
    try {
      expect(a.schema).not.toBe(b.schema);
      const [la, lb] = await Promise.all([a.loginAs({ username: 'same' }), b.loginAs({ username: 'same' })]);
      expect(la.user.id).not.toBe(lb.user.id);
      expect((await a.users.list({})).users.map((u) => u.id)).toEqual([la.user.id]);
      expect((await b.users.list({})).users.map((u) => u.id)).toEqual([lb.user.id]);
      // Same process secret, but the user behind the token does not exist in the other schema.
      await expect(b.verifyToken(la.token)).rejects.toMatchObject({ code: 'invalid_token' });
      await expect(a.verifyToken(la.token)).resolves.toMatchObject({ method: 'jwt' });
      // Resetting one leaves the other alone.
      await a.reset();
      await expect(b.verifyToken(lb.token)).resolves.toMatchObject({ method: 'jwt' });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a closed instance gives its schema, emptied, to the next one; loginAs after close is a TypeError', async () => {
    const keep = await createTestAuth(null); // keeps the shared PGlite open
    try {
      const first = await createTestAuth(null, { roles: ['admin', 'user', 'editor'] });
      await first.loginAs({ roles: ['editor'] });
      await first.close();
      await expect(first.loginAs()).rejects.toThrow(/after close/);
      const next = await createTestAuth(null);
      try {
        expect(next.schema).toBe(first.schema);
        expect((await next.users.list({})).total).toBe(0);
        expect((await next.roles.list()).map((r) => r.name).sort()).toEqual(['admin', 'user']);
      } finally {
        await next.close();
      }
    } finally {
      await keep.close();
    }
  });

  it('per-test cost: reset() plus a loginAs stays in milliseconds', async () => {
    const auth = await createTestAuth(null);
    try {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const start = performance.now();
        await auth.reset();
        await auth.loginAs({ roles: ['admin'] });
        times.push(performance.now() - start);
      }
      times.sort((x, y) => x - y);
      // Generous for a shared machine; bench/testing.ts has the figures.
      expect(times[10]!).toBeLessThan(100);
    } finally {
      await auth.close();
    }
  });

  it('a process that used it exits by itself after close()', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', EXIT_MAIN], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      child.on('exit', (c) => {
        clearTimeout(killer);
        resolve(c);
      });
    });
    expect(output).toContain('closed');
    expect(code, output).toBe(0);
  }, 60_000);
});
