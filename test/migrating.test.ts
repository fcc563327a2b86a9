import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { memoryAdapter } from 'better-auth/adapters/memory';
import { getMigrations } from 'better-auth/db/migration';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthManager, AuthManagerOptions } from 'express-authlib';
import * as betterAuthAfter from '../examples/migrating/better-auth/after.js';
import * as betterAuthBefore from '../examples/migrating/better-auth/before.js';
import { importUsers as importBetterAuthUsers } from '../examples/migrating/better-auth/import-users.js';
import * as expressJwtAfter from '../examples/migrating/express-jwt/after.js';
import * as expressJwtBefore from '../examples/migrating/express-jwt/before.js';
import { importUsers, type Db } from '../examples/migrating/import-bcrypt-users.js';
import * as passportAfter from '../examples/migrating/passport/after.js';
import * as passportBefore from '../examples/migrating/passport/before.js';
import { TEST_DSN, databaseOptions, dropSchema, rawQuery, sharedPGlite, uniqueSchema } from './helpers/database.js';

// docs/migrating/*.md: each guide's app before (passport, express-jwt, better-auth) and after
// (express-authlib), driven through the same HTTP scenario; what the guides say differs is asserted
// here as it differs.

const PASSWORD = 'correct horse battery';
const cleanups: (() => Promise<void>)[] = [];
// The embedded database starts before the first test, as other files start theirs in a hook.
beforeAll(async () => {
  if (!TEST_DSN) await sharedPGlite();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The old app's database in a schema of its own: a pg.Pool whose search_path is that schema, or the shared PGlite with it set per statement. */
async function oldAppDatabase(): Promise<Db> {
  const schema = uniqueSchema('old');
  await rawQuery(`CREATE SCHEMA "${schema}"`);
  cleanups.push(() => dropSchema(schema));
  if (TEST_DSN) {
    const pool = new pg.Pool({ connectionString: TEST_DSN, options: `-c search_path=${schema}` });
    cleanups.push(() => pool.end());
    return pool;
  }
  const lite = await sharedPGlite();
  return {
    query: (text, params) =>
      lite.transaction(async (tx) => {
        await tx.exec(`SET LOCAL search_path TO "${schema}"`);
        return tx.query(text, params);
      }),
  };
}

/** An express-authlib app ("after") in a schema of its own. */
async function started<T extends { auth: AuthManager }>(createApp: (options: AuthManagerOptions) => T, extra: Partial<AuthManagerOptions> = {}) {
  const schema = uniqueSchema('new');
  const made = createApp({
    ...(await databaseOptions()),
    dbSchema: schema,
    jwtSecret: randomBytes(32),
    bcryptRounds: 4,
    rateLimit: false,
    logger: false,
    ...extra,
  });
  await made.auth.ready;
  cleanups.push(async () => {
    await made.auth.close();
    await dropSchema(schema);
  });
  return { ...made, schema };
}

/** better-auth's database: its memory adapter on PGlite runs; PostgreSQL in a schema of its own (tables made by its migrator) with AUTHLIB_TEST_DSN. */
async function betterAuthApp() {
  if (!TEST_DSN) return betterAuthBefore.createApp(memoryAdapter({ user: [], session: [], account: [], verification: [] }), randomBytes(32).toString('hex'));
  const schema = uniqueSchema('ba');
  await rawQuery(`CREATE SCHEMA "${schema}"`);
  const pool = new pg.Pool({ connectionString: TEST_DSN, options: `-c search_path=${schema}` });
  cleanups.push(async () => {
    await pool.end();
    await dropSchema(schema);
  });
  const made = betterAuthBefore.createApp(pool, randomBytes(32).toString('hex'));
  await (await getMigrations(made.auth.options)).runMigrations();
  return made;
}

/** How a test drives one app: the same steps, each app's own URLs and credentials. */
interface Driver {
  http: ReturnType<typeof request>;
  register(name: string): Promise<request.Response>;
  login(name: string, password?: string): Promise<{ res: request.Response; credentials: Record<string, string> }>;
  /** Grants or takes away the admin role the way each app's operator does it. */
  setAdmin(name: string, admin: boolean): Promise<void>;
}

const bearer = (res: request.Response) => ({ Authorization: `Bearer ${res.body.token}` });

/** The old passport or express-jwt app: its own users table, role column set in SQL. */
function tableDriver(app: Parameters<typeof request>[0], db: Db): Driver {
  const http = request(app);
  return {
    http,
    register: (name) => http.post('/auth/register').send({ username: name, email: `${name}@example.com`, password: PASSWORD }),
    login: async (name, password = PASSWORD) => {
      const res = await http.post('/auth/login').send({ username: name, password });
      return { res, credentials: bearer(res) };
    },
    setAdmin: async (name, admin) => {
      await db.query('UPDATE users SET role = $1 WHERE username = $2', [admin ? 'admin' : 'user', name]);
    },
  };
}

/** An express-authlib app: same request shapes whatever the basePath; roles through auth.users.setRoles. */
function libraryDriver({ app, auth }: { app: Parameters<typeof request>[0]; auth: AuthManager }, basePath: string, loginBy: 'username' | 'email'): Driver {
  const http = request(app);
  return {
    http,
    register: (name) => http.post(`${basePath}/register`).send({ username: name, email: `${name}@example.com`, password: PASSWORD }),
    login: async (name, password = PASSWORD) => {
      const res = await http.post(`${basePath}/login`).send({ username: loginBy === 'email' ? `${name}@example.com` : name, password });
      return { res, credentials: bearer(res) };
    },
    setAdmin: async (name, admin) => {
      const user = (await auth.users.findByIdentifier(name))!;
      await auth.users.setRoles(user.id, admin ? ['admin', 'user'] : ['user']);
    },
  };
}

/** The scenario every guide walks through, the same for every app; returns each step's answer. */
async function scenario(app: Driver) {
  const publicRoute = await app.http.get('/public');
  expect(publicRoute.status).toBe(200);
  expect(publicRoute.body).toEqual({ hello: 'anyone' });

  const registered = await app.register('alice');
  await app.register('root');
  // The operator's own admin account, there from the start (the library never lets the last admin go).
  await app.register('ops');
  await app.setAdmin('ops', true);
  const duplicate = await app.register('alice');
  const wrongPassword = (await app.login('alice', 'not the password')).res;
  expect(wrongPassword.status).toBe(401);
  const alice = await app.login('alice');
  expect(alice.res.status).toBe(200);
  await app.setAdmin('root', true);
  const root = await app.login('root');
  expect(root.res.status).toBe(200);

  const anonymous = await app.http.get('/admin');
  expect(anonymous.status).toBe(401);
  const wrongRole = await app.http.get('/admin').set(alice.credentials);
  expect(wrongRole.status).toBe(403);
  const admin = await app.http.get('/admin').set(root.credentials);
  expect(admin.status).toBe(200);

  // The role is taken away; root's credentials from before are presented again.
  await app.setAdmin('root', false);
  const demoted = await app.http.get('/admin').set(root.credentials);
  return { registered, duplicate, wrongPassword, login: alice.res, aliceCredentials: alice.credentials, anonymous, wrongRole, admin, demoted };
}

/** What the two library apps answer, whatever they replaced. */
function expectLibraryAnswers(after: Awaited<ReturnType<typeof scenario>>) {
  expect(after.registered.status).toBe(201);
  expect(Object.keys(after.registered.body).sort()).toEqual(['refresh_token', 'token', 'user']);
  expect(after.registered.body.user).toMatchObject({ username: 'alice', email: 'alice@example.com', roles: ['user'] });
  expect(after.duplicate.status).toBe(409);
  expect(after.duplicate.body).toMatchObject({ code: 'conflict', status_code: 409 });
  expect(after.wrongPassword.body).toEqual({ error: expect.any(String), code: 'invalid_credentials', status_code: 401 });
  expect(Object.keys(after.login.body).sort()).toEqual(['refresh_token', 'token', 'user']);
  expect(after.anonymous.body).toEqual({ error: expect.any(String), code: 'unauthorized', status_code: 401 });
  expect(after.anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
  expect(after.wrongRole.body).toEqual({ error: expect.any(String), code: 'forbidden', status_code: 403 });
  expect(after.admin.body).toEqual({ hello: 'root' });
  // A role change ends the user's tokens at once: no stale role claim.
  expect(after.demoted.status).toBe(401);
  expect(after.demoted.body.code).toBe('invalid_token');
}

/** The last admin keeps the role: the library refuses to take it (409), where the old apps had no such rule. */
async function expectLastAdminKept(auth: AuthManager) {
  const ops = (await auth.users.findByIdentifier('ops'))!;
  await expect(auth.users.setRoles(ops.id, ['user'])).rejects.toMatchObject({ code: 'conflict', status: 409 });
}

/** Logout ends the access token too (the old apps had no logout: a JWT lived until its exp). */
async function expectLogoutEndsAccess(app: Driver, basePath: string, login: request.Response, credentials: Record<string, string>) {
  expect((await app.http.get('/public').set(credentials)).status).toBe(200);
  expect((await app.http.post(`${basePath}/logout`).send({ refresh_token: login.body.refresh_token })).status).toBe(200);
  const after = await app.http.get(`${basePath}/login/profile`).set(credentials);
  expect(after.status).toBe(401);
  expect(after.body.code).toBe('invalid_token');
}

describe('docs/migrating/passport.md', () => {
  it('before: passport-local + passport-jwt, hand-written register and login', async () => {
    const db = await oldAppDatabase();
    const before = await scenario(tableDriver(await passportBefore.createApp(db, randomBytes(32).toString('hex')), db));
    expect(before.registered.status).toBe(201);
    expect(before.registered.body).toEqual({ id: expect.any(Number), username: 'alice' });
    expect(before.duplicate.status).toBe(409);
    // passport answers a failed strategy with a bare text 401, not JSON.
    expect(before.wrongPassword.text).toBe('Unauthorized');
    expect(before.login.body).toEqual({ token: expect.any(String) });
    expect(jwt.decode(before.login.body.token)).toMatchObject({ sub: expect.any(String), username: 'alice', role: 'user' });
    expect(before.anonymous.text).toBe('Unauthorized');
    expect(before.wrongRole.body).toEqual({ error: 'forbidden' });
    expect(before.admin.body).toEqual({ hello: 'root' });
    // The role sits in the JWT: a demoted admin stays admin until the token expires.
    expect(before.demoted.status).toBe(200);
  });

  it('after: express-authlib, same paths (basePath /auth), JSON errors, roles and logout that take effect at once', async () => {
    const jwtSecret = randomBytes(32).toString('hex');
    const made = await started(passportAfter.createApp, { jwtSecret });
    const driver = libraryDriver(made, '/auth', 'username');
    const after = await scenario(driver);
    expectLibraryAnswers(after);
    await expectLastAdminKept(made.auth);
    await expectLogoutEndsAccess(driver, '/auth', after.login, after.aliceCredentials);
    // A token as the old app signed it, even with the same secret, is not one of the library's.
    const ops = (await made.auth.users.findByIdentifier('ops'))!;
    const old = jwt.sign({ username: 'ops', role: 'admin' }, jwtSecret, { subject: ops.id, expiresIn: '1h', algorithm: 'HS256' });
    const refused = await driver.http.get('/admin').set('Authorization', `Bearer ${old}`);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('invalid_token');
  });
});

describe('docs/migrating/express-jwt.md', () => {
  it('before: express-jwt guarding, hand-written register and login', async () => {
    const db = await oldAppDatabase();
    const app = await expressJwtBefore.createApp(db, randomBytes(32).toString('hex'));
    const before = await scenario(tableDriver(app, db));
    expect(before.registered.body).toEqual({ id: expect.any(Number), username: 'alice' });
    expect(before.wrongPassword.body).toEqual({ error: 'invalid username or password' });
    expect(before.login.body).toEqual({ token: expect.any(String) });
    // express-jwt's UnauthorizedError, as the app's error handler writes it.
    expect(before.anonymous.body).toEqual({ error: 'No authorization token was found', code: 'credentials_required' });
    expect(before.wrongRole.body).toEqual({ error: 'forbidden' });
    expect(before.demoted.status).toBe(200);
    const forged = jwt.sign({ role: 'admin' }, 'a secret that is not the app secret', { expiresIn: 60 });
    const refused = await request(app).get('/admin').set('Authorization', `Bearer ${forged}`);
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: 'invalid signature', code: 'invalid_token' });
  });

  it('after: express-authlib; req.auth is now the library context, not the JWT payload', async () => {
    const made = await started(expressJwtAfter.createApp);
    const driver = libraryDriver(made, '/auth', 'username');
    const after = await scenario(driver);
    expectLibraryAnswers(after);
    await expectLastAdminKept(made.auth);
    await expectLogoutEndsAccess(driver, '/auth', after.login, after.aliceCredentials);
    // The access token is a JWT another service can still verify with the secret, but it says more than the old one.
    const claims = jwt.decode(after.login.body.token, { complete: true })!;
    expect(claims.header).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    expect(claims.payload).toMatchObject({ sub: after.login.body.user.id, roles: ['user'], iss: 'express-authlib', aud: 'express-authlib' });
    expect(Object.keys(claims.payload).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'roles', 'sid', 'sub', 'ver']);
  });
});

describe('bcrypt users of the passport and express-jwt apps, imported', () => {
  it.each([
    ['passport', passportBefore.createApp],
    ['express-jwt', expressJwtBefore.createApp],
  ])(
    '%s: users keep their passwords and roles; names that fold together are refused, not merged',
    async (_peer, createBefore) => {
      const db = await oldAppDatabase();
      const old = tableDriver(await createBefore(db, randomBytes(32).toString('hex')), db);
      for (const name of ['carol', 'dave', 'Erin', 'erin']) expect((await old.register(name)).status).toBe(201);
      await old.setAdmin('dave', true);

      const made = await started(passportAfter.createApp);
      const { ids, refused } = await importUsers(made.auth, db, made.schema);
      expect(ids.size).toBe(3);
      expect(refused).toEqual([{ id: expect.any(Number), username: 'erin', code: 'conflict' }]);
      const [stored] = await rawQuery<{ password_hash: string }>(`SELECT password_hash FROM "${made.schema}".users WHERE username = 'carol'`);
      expect(stored!.password_hash).toMatch(/^\$2b\$10\$/);

      const after = libraryDriver(made, '/auth', 'username');
      expect((await after.login('carol')).res.status).toBe(200);
      expect((await after.login('carol', 'not the password')).res.status).toBe(401);
      // Names are case-insensitive now: Erin signs in as erin too.
      expect((await after.login('ERIN')).res.body.user.username).toBe('Erin');
      const dave = await after.login('dave');
      expect(dave.res.body.user.roles).toEqual(['admin', 'user']);
      expect((await after.http.get('/admin').set(dave.credentials)).status).toBe(200);
      // A password changed in the new app is the library's own hash from then on.
      const change = await after.http
        .post('/auth/change-password')
        .set(dave.credentials)
        .send({ current_password: PASSWORD, password: 'a new password for dave' });
      expect(change.status).toBe(200);
      const [changed] = await rawQuery<{ password_hash: string }>(`SELECT password_hash FROM "${made.schema}".users WHERE username = 'dave'`);
      expect(changed!.password_hash).toMatch(/^\$authlib-hmac-sha256\$2/);
    },
    60_000,
  );
});

describe('docs/migrating/better-auth.md', () => {
  it('before: better-auth mounted with toNodeHandler, email and password, admin plugin roles', async () => {
    const { app, auth } = await betterAuthApp();
    const http = request(app);
    const ids = new Map<string, string>();
    const driver: Driver = {
      http,
      register: async (name) => {
        const res = await http.post('/api/auth/sign-up/email').send({ name, email: `${name}@example.com`, password: PASSWORD });
        if (res.status === 200) ids.set(name, res.body.user.id);
        return res;
      },
      login: async (name, password = PASSWORD) => {
        const res = await http.post('/api/auth/sign-in/email').send({ email: `${name}@example.com`, password });
        return { res, credentials: { Cookie: (res.headers['set-cookie'] as unknown as string[] | undefined)?.map((c) => c.split(';')[0]).join('; ') ?? '' } };
      },
      setAdmin: async (name, admin) => {
        await (await auth.$context).internalAdapter.updateUser(ids.get(name)!, { role: admin ? 'admin' : 'user' });
      },
    };
    const before = await scenario(driver);
    // A session cookie, not a JWT; sign-up answers 200 and signs in.
    expect(before.registered.status).toBe(200);
    expect(before.registered.body).toMatchObject({ token: expect.any(String), user: { email: 'alice@example.com', role: 'user' } });
    expect(before.registered.headers['set-cookie']?.[0]).toMatch(/^better-auth\.session_token=/);
    expect(before.duplicate.status).toBe(422);
    expect(before.duplicate.body.code).toBe('USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL');
    expect(before.wrongPassword.body).toEqual({ message: 'Invalid email or password', code: 'INVALID_EMAIL_OR_PASSWORD' });
    expect(before.login.body).toMatchObject({ redirect: false, token: expect.any(String), user: { email: 'alice@example.com' } });
    expect(before.wrongRole.body).toEqual({ error: 'forbidden' });
    expect(before.admin.body).toEqual({ hello: 'root' });
    // Server-side sessions read the user on every request: the role change applies at once, the session survives.
    expect(before.demoted.status).toBe(403);
  });

  it('after: express-authlib under /api/auth, bearer tokens, better-auth password hashes kept', async () => {
    const made = await started(betterAuthAfter.createApp);
    const driver = libraryDriver(made, '/api/auth', 'email');
    const after = await scenario(driver);
    expectLibraryAnswers(after);
    await expectLastAdminKept(made.auth);
    await expectLogoutEndsAccess(driver, '/api/auth', after.login, after.aliceCredentials);
    // New passwords get better-auth's format too.
    const [stored] = await rawQuery<{ password_hash: string }>(`SELECT password_hash FROM "${made.schema}".users WHERE username = 'alice'`);
    expect(stored!.password_hash).toMatch(/^[0-9a-f]{32}:[0-9a-f]{128}$/);
  }, 60_000);

  it("import: better-auth's users keep their passwords, names, verified flags, roles and bans", async () => {
    const { app, auth } = await betterAuthApp();
    const http = request(app);
    const signUp = async (name: string, email: string) => {
      const res = await http.post('/api/auth/sign-up/email').send({ name, email, password: PASSWORD });
      expect(res.status).toBe(200);
      return res.body.user.id as string;
    };
    const ctx = await auth.$context;
    await signUp('Carol Jones', 'carol@example.com');
    await ctx.internalAdapter.updateUser(await signUp('Dave', 'dave@example.com'), { role: 'admin', emailVerified: true });
    await signUp('Dave Other', 'dave@example.org');
    await ctx.internalAdapter.updateUser(await signUp('Mallory', 'mallory@example.com'), { banned: true });

    const made = await started(betterAuthAfter.createApp);
    const db: Db = TEST_DSN ? { query: (text, params) => rawQuery(text, params).then((rows) => ({ rows })) } : await sharedPGlite();
    const { ids, refused } = await importBetterAuthUsers(auth, made.auth, db, made.schema);
    expect(refused).toEqual([]);
    expect(ids.size).toBe(4);

    const login = (username: string, password = PASSWORD) => request(made.app).post('/api/auth/login').send({ username, password });
    const carol = await login('carol@example.com');
    expect(carol.status).toBe(200);
    expect(carol.body.user).toMatchObject({ username: 'carol', real_name: 'Carol Jones', email_verified: false, roles: ['user'] });
    expect((await login('carol@example.com', 'not the password')).status).toBe(401);
    const dave = await login('dave@example.com');
    expect(dave.body.user).toMatchObject({ username: 'dave', email_verified: true, roles: ['admin', 'user'] });
    expect((await request(made.app).get('/admin').set(bearer(dave))).body).toEqual({ hello: 'Dave' });
    // The second "dave" gets the name with a piece of its old id; both sign in by address as before.
    const other = await login('dave@example.org');
    expect(other.body.user.username).toMatch(/^dave-[0-9a-z]{8}$/);
    expect((await login('mallory@example.com')).body.code).toBe('account_disabled');
  }, 60_000);
});

describe('the guides show the example files as they are', () => {
  const blocksOf = (guide: string) =>
    [...readFileSync(new URL(`../docs/migrating/${guide}`, import.meta.url), 'utf8').matchAll(/^(<!-- check: (\w+) -->\n)?```ts\n([\s\S]*?)^```$/gm)].map(
      (m) => ({
        marker: m[2],
        code: m[3],
      }),
    );
  const file = (path: string) => readFileSync(new URL(`../examples/migrating/${path}`, import.meta.url), 'utf8');

  it.each([
    ['passport.md', ['passport/before.ts', 'passport/after.ts', 'import-bcrypt-users.ts']],
    ['express-jwt.md', ['express-jwt/before.ts', 'express-jwt/after.ts', 'import-bcrypt-users.ts']],
    ['better-auth.md', ['better-auth/before.ts', 'better-auth/after.ts', 'better-auth/import-users.ts']],
  ])('%s: before, after and the import, verbatim; code that needs the other library is left to this test', (guide, files) => {
    const blocks = blocksOf(guide);
    expect(blocks.map((b) => b.code)).toEqual(files.map(file));
    expect(blocks.map((b) => b.marker)).toEqual(['skip', undefined, files[2] === 'better-auth/import-users.ts' ? 'skip' : undefined]);
  });
});
