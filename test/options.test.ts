import { randomBytes } from 'node:crypto';
import express from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthManager, type AuthManagerOptions } from '../src/index.js';
import { PASSWORD } from './helpers/app.js';
import { databaseOptions, dropSchema, rawQuery, uniqueSchema } from './helpers/database.js';

const SECRET = randomBytes(48).toString('base64url');

/** Every manager a test starts, closed (and its schema dropped) at the end even when an assertion failed. */
const started: Array<{ auth: AuthManager; schema: string }> = [];
afterAll(async () => {
  for (const { auth, schema } of started) {
    await auth.close();
    await dropSchema(schema);
  }
});

async function baseOptions(extra: Partial<AuthManagerOptions> = {}): Promise<AuthManagerOptions> {
  return { ...(await databaseOptions()), dbSchema: uniqueSchema('opt'), jwtSecret: SECRET, bcryptRounds: 4, rateLimit: false, ...extra };
}

/** Constructs a manager that is expected to work; registered for close(). */
function build(app: express.Express | null, options: AuthManagerOptions): AuthManager {
  const auth = new AuthManager(app, options);
  started.push({ auth, schema: options.dbSchema! });
  return auth;
}

/**
 * Asserts that construction throws a TypeError synchronously naming `option`. Should it not throw,
 * the manager is closed so a failing test does not leave a pool open.
 */
function expectMisuse(options: unknown, option: RegExp): void {
  let auth: AuthManager | undefined;
  let caught: unknown;
  try {
    auth = new AuthManager(null, options as AuthManagerOptions);
  } catch (err) {
    caught = err;
  }
  if (auth) started.push({ auth, schema: (options as AuthManagerOptions).dbSchema ?? 'authlib_never_created' });
  expect(caught, 'constructor should have thrown').toBeInstanceOf(TypeError);
  expect((caught as TypeError).message).toMatch(option);
}

let n = 0;
async function registerAndLogin(http: ReturnType<typeof request>, base: string) {
  n += 1;
  const username = `opt${n}_${randomBytes(3).toString('hex')}`;
  const reg = await http.post(`${base}/register`).send({ username, password: PASSWORD, email: `${username}@example.com` });
  expect(reg.status).toBe(201);
  const login = await http.post(`${base}/login`).send({ username, password: PASSWORD });
  expect(login.status).toBe(200);
  return { username, reg: reg.body, login: login.body };
}

describe('misuse throws TypeError synchronously at construction, naming the option', () => {
  it('missing jwtSecret', async () => {
    const { jwtSecret: _unused, ...rest } = await baseOptions();
    expectMisuse(rest, /jwtSecret/);
  });

  it('a 31-byte jwtSecret', async () => {
    expectMisuse(await baseOptions({ jwtSecret: 'x'.repeat(31) }), /jwtSecret/);
  });

  it('a 31-byte Buffer jwtSecret, and a short key inside an array', async () => {
    expectMisuse(await baseOptions({ jwtSecret: randomBytes(31) }), /jwtSecret/);
    expectMisuse(await baseOptions({ jwtSecret: [SECRET, 'short'] }), /jwtSecret/);
    expectMisuse(await baseOptions({ jwtSecret: [] }), /jwtSecret/);
  });

  it('a 31-byte secret made of multi-byte characters counts bytes, and 32 bytes pass', async () => {
    // 'é' is 2 bytes in UTF-8: 15 of them + 1 = 31 bytes (16 characters).
    expectMisuse(await baseOptions({ jwtSecret: 'é'.repeat(15) + 'x' }), /jwtSecret/);
  });

  it('an unknown option name', async () => {
    expectMisuse({ ...(await baseOptions()), jwtSecrett: SECRET }, /jwtSecrett/);
  });

  it('a DSN with an unsupported scheme', async () => {
    const { db: _db, dbDsn: _dsn, ...rest } = (await baseOptions()) as AuthManagerOptions & { db?: unknown };
    expectMisuse({ ...rest, dbDsn: 'mysql://x' }, /dbDsn/);
  });

  it('neither dbDsn nor db', async () => {
    const { db: _db, dbDsn: _dsn, ...rest } = (await baseOptions()) as AuthManagerOptions & { db?: unknown };
    expectMisuse(rest, /dbDsn/);
  });

  it('dbDsn and db together', async () => {
    const { db: _db, dbDsn: _dsn, ...rest } = (await baseOptions()) as AuthManagerOptions & { db?: unknown };
    const db = (await databaseOptions()) as { db?: unknown };
    // A db handle of any kind plus a DSN: the check is on the combination, not on the handle.
    expectMisuse({ ...rest, db: db.db ?? {}, dbDsn: 'pglite://memory' }, /\bdbDsn\b|`db`/);
  });

  it('defaultRoles naming a role that is not in roles', async () => {
    expectMisuse(await baseOptions({ roles: ['admin', 'user'], defaultRoles: ['editor'] }), /defaultRoles/);
  });

  it('bcryptRounds 3', async () => {
    expectMisuse(await baseOptions({ bcryptRounds: 3 }), /bcryptRounds/);
  });

  it('tokenExpiry 0', async () => {
    expectMisuse(await baseOptions({ tokenExpiry: 0 }), /tokenExpiry/);
  });

  it('oauthConfig with a provider but no publicUrl', async () => {
    expectMisuse(await baseOptions({ oauthConfig: { github: { clientId: 'id', clientSecret: 'secret' } } }), /publicUrl/);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an issuer that is not a URL', { corp: { issuer: 'not a url', clientId: 'c', clientSecret: 's' } }, /oauthConfig\.corp\.issuer/],
    [
      'a plain-http issuer that is not this machine',
      { corp: { issuer: 'http://id.example.com', clientId: 'c', clientSecret: 's' } },
      /oauthConfig\.corp\.issuer/,
    ],
    ['an issuer with a query', { corp: { issuer: 'https://id.example.com/?tenant=x', clientId: 'c', clientSecret: 's' } }, /oauthConfig\.corp\.issuer/],
    ['an issuer without clientSecret', { corp: { issuer: 'https://id.example.com', clientId: 'c' } }, /oauthConfig\.corp\.clientSecret/],
    ['google without clientId', { google: { clientSecret: 's' } }, /oauthConfig\.google\.clientId/],
    ['an unknown name without issuer or strategy', { gitlab: { clientId: 'c', clientSecret: 's' } }, /oauthConfig\.gitlab/],
    ['a strategy that is not one', { acme: { strategy: {} } }, /oauthConfig\.acme\.strategy/],
    ['both issuer and strategy', { acme: { issuer: 'https://id.example.com', strategy: { authenticate() {} } } }, /oauthConfig\.acme/],
    [
      'a scope that is a string',
      { corp: { issuer: 'https://id.example.com', clientId: 'c', clientSecret: 's', scope: 'openid email' } },
      /oauthConfig\.corp\.scope/,
    ],
    ['an entry that is not an object', { corp: 'https://id.example.com' }, /oauthConfig\.corp/],
    ['a provider name with a slash', { 'a/b': { issuer: 'https://id.example.com', clientId: 'c', clientSecret: 's' } }, /oauthConfig\.a\/b/],
  ])('oauthConfig with %s: TypeError naming the option', async (_label, oauthConfig, option) => {
    expectMisuse(await baseOptions({ publicUrl: 'https://app.example', oauthConfig: oauthConfig as AuthManagerOptions['oauthConfig'] }), option);
  });

  it('options that are not an object', () => {
    let caught: unknown;
    try {
      new AuthManager(null, undefined as unknown as AuthManagerOptions);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TypeError);
  });
});

describe('accepted secrets', () => {
  it('a string of exactly 32 bytes works end to end', async () => {
    const secret = 'k'.repeat(32);
    const auth = build(null, await baseOptions({ jwtSecret: secret }));
    await auth.ready;
    const user = await auth.users.create({ username: `s32_${randomBytes(3).toString('hex')}`, email: `s32_${randomBytes(3).toString('hex')}@example.com` });
    const { token } = await auth.issueTokens(user.id);
    expect((await auth.verifyToken(token)).user.id).toBe(user.id);
    // Signed with the secret's own bytes (HS256), so any JWT library holding it can verify.
    const claims = jwt.verify(token, secret, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    expect(claims.sub).toBe(user.id);
  });

  it('a Buffer secret works', async () => {
    const secret = randomBytes(32);
    const auth = build(null, await baseOptions({ jwtSecret: secret }));
    await auth.ready;
    const user = await auth.users.create({ username: `sbuf_${randomBytes(3).toString('hex')}` });
    const { token } = await auth.issueTokens(user.id);
    expect((await auth.verifyToken(token)).user.id).toBe(user.id);
    expect((jwt.verify(token, secret, { algorithms: ['HS256'] }) as jwt.JwtPayload).sub).toBe(user.id);
  });

  it('an array of secrets: the first signs, every one verifies', async () => {
    const oldSecret = randomBytes(40).toString('hex');
    const newSecret = randomBytes(40).toString('hex');
    const opts = await baseOptions({ jwtSecret: [oldSecret] });
    const before = build(null, opts);
    await before.ready;
    const user = await before.users.create({ username: `rot_${randomBytes(3).toString('hex')}` });
    const oldToken = (await before.issueTokens(user.id)).token;

    const after = build(null, { ...opts, jwtSecret: [newSecret, oldSecret] });
    await after.ready;
    expect((await after.verifyToken(oldToken)).user.id).toBe(user.id);
    const newToken = (await after.issueTokens(user.id)).token;
    expect(() => jwt.verify(newToken, newSecret, { algorithms: ['HS256'] })).not.toThrow();
    expect(() => jwt.verify(newToken, oldSecret, { algorithms: ['HS256'] })).toThrow();
    // The old-only instance does not know the new key.
    await expect(before.verifyToken(newToken)).rejects.toMatchObject({ code: 'invalid_token' });
  });
});

describe('mounting', () => {
  it('with a null app nothing is mounted; auth.router mounts under any path', async () => {
    const app = express();
    const auth = build(null, await baseOptions());
    await auth.ready;
    app.use('/custom/auth', auth.router);
    app.get('/protected', auth.requireAuth(), (req, res) => res.json({ id: req.auth!.user.id }));
    const http = request(app);

    const { login } = await registerAndLogin(http, '/custom/auth');
    const prot = await http.get('/protected').set('Authorization', `Bearer ${login.token}`);
    expect(prot.status).toBe(200);
    expect(prot.body.id).toBe(login.user.id);
    const roles = await http.get('/custom/auth/roles');
    expect(roles.status).toBe(200);
    // Not mounted at the default path.
    expect((await http.get('/api/v1/users/roles')).status).toBe(404);
  });

  it('with an app, the router is mounted at /api/v1/users by default', async () => {
    const app = express();
    const auth = build(app, await baseOptions());
    await auth.ready;
    const http = request(app);
    const roles = await http.get('/api/v1/users/roles');
    expect(roles.status).toBe(200);
    expect([...roles.body].sort()).toEqual(['admin', 'user']);
    await registerAndLogin(http, '/api/v1/users');
  });

  it("basePath '/auth' mounts there and not at the default", async () => {
    const app = express();
    const auth = build(app, await baseOptions({ basePath: '/auth' }));
    await auth.ready;
    const http = request(app);
    expect((await http.get('/auth/roles')).status).toBe(200);
    expect((await http.get('/api/v1/users/roles')).status).toBe(404);
    await registerAndLogin(http, '/auth');
  });
});

describe('defaults', () => {
  it('tokens carry the default issuer and audience and live tokenExpiry (3600) seconds; users get defaultRoles', async () => {
    const app = express();
    const secret = randomBytes(32).toString('hex');
    const auth = build(app, await baseOptions({ jwtSecret: secret }));
    await auth.ready;
    const { login } = await registerAndLogin(request(app), '/api/v1/users');
    expect(login.user.roles).toEqual(['user']);
    const claims = jwt.verify(login.token, secret, { algorithms: ['HS256'], issuer: 'express-authlib', audience: 'express-authlib' }) as jwt.JwtPayload;
    expect(claims.exp! - claims.iat!).toBe(3600);
  });

  it('custom roles, defaultRoles, tokenExpiry, issuer and audience are honoured', async () => {
    const app = express();
    const secret = randomBytes(32).toString('hex');
    const auth = build(
      app,
      await baseOptions({ jwtSecret: secret, roles: ['admin', 'user', 'editor'], defaultRoles: ['editor'], tokenExpiry: 120, issuer: 'me', audience: 'you' }),
    );
    await auth.ready;
    const http = request(app);
    expect([...(await http.get('/api/v1/users/roles')).body].sort()).toEqual(['admin', 'editor', 'user']);
    const { login } = await registerAndLogin(http, '/api/v1/users');
    expect(login.user.roles).toEqual(['editor']);
    const claims = jwt.verify(login.token, secret, { algorithms: ['HS256'], issuer: 'me', audience: 'you' }) as jwt.JwtPayload;
    expect(claims.exp! - claims.iat!).toBe(120);
  });

  it('bcryptRounds defaults to 12', async () => {
    const { bcryptRounds: _unused, ...opts } = await baseOptions();
    const auth = build(null, opts);
    await auth.ready;
    const user = await auth.users.create({ username: `cost_${randomBytes(3).toString('hex')}`, password: PASSWORD });
    const rows = await rawQuery<{ password_hash: string }>(`SELECT password_hash FROM "${opts.dbSchema}".users WHERE id = $1`, [user.id]);
    expect(rows[0]!.password_hash).toMatch(/\$2[aby]\$12\$/);
  });

  it('allowRegistration: false closes POST /register with 403', async () => {
    const app = express();
    const auth = build(app, await baseOptions({ allowRegistration: false }));
    await auth.ready;
    const res = await request(app).post('/api/v1/users/register').send({ username: 'closed_reg', password: PASSWORD, email: 'closed@example.com' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden');
  });
});
