import { randomBytes } from 'node:crypto';
import express from 'express';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthManager, type AuthManagerOptions } from '../src/index.js';
import { PGliteDialect } from '../src/db/pglite-dialect.js';
import { bearer, PASSWORD } from './helpers/app.js';
import { dropSchema, sharedPGlite, TEST_DSN, uniqueSchema } from './helpers/database.js';

// Two instances of one deployment, each handed the app's own database handle instead of a DSN.
// A logout on one must reach the other: through LISTEN on a pool connection for a pg.Pool, and
// by polling the revocation log for a Kysely instance, which has no connection to LISTEN on.

/** What the contract allows for "at once"; the poll interval is 500 ms. */
const MAX_MS = 2000;

type Handle = () => Promise<NonNullable<AuthManagerOptions['db']>>;

const opened: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of opened.reverse()) await close();
});

async function kyselyHandle(): Promise<Kysely<any>> {
  if (TEST_DSN) {
    const pool = new pg.Pool({ connectionString: TEST_DSN, max: 4 });
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    opened.push(() => db.destroy());
    return db;
  }
  // An app on embedded PGlite that wraps it in Kysely itself.
  return new Kysely<any>({ dialect: new PGliteDialect(await sharedPGlite()) });
}

async function poolHandle(): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: TEST_DSN, max: 4 });
  opened.push(() => pool.end());
  return pool;
}

async function pair(handle: Handle) {
  const schema = uniqueSchema('rh');
  const jwtSecret = randomBytes(48).toString('base64url');
  const start = async () => {
    const app = express();
    const auth = new AuthManager(app, { db: await handle(), dbSchema: schema, jwtSecret, bcryptRounds: 4, rateLimit: false });
    await auth.ready;
    app.get('/me', auth.requireAuth(), (req, res) => res.json({ id: req.auth!.user.id }));
    opened.push(() => auth.close());
    return request(app);
  };
  const a = await start();
  const b = await start();
  opened.push(() => dropSchema(schema));
  return { a, b };
}

/** Milliseconds until `check` turns true, polling every 10 ms; fails past `limit`. */
async function timeUntil(check: () => Promise<boolean>, limit = 5000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limit) {
    if (await check()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`not within ${limit} ms`);
}

async function logoutReaches(handle: Handle, how: 'logout-all' | 'logout') {
  const { a, b } = await pair(handle);
  const username = `h${randomBytes(4).toString('hex')}`;
  const reg = await a.post('/api/v1/users/register').send({ username, password: PASSWORD, email: `${username}@example.com` });
  expect(reg.status).toBe(201);
  expect((await b.get('/me').set(bearer(reg.body.token))).status).toBe(200);
  const done =
    how === 'logout-all'
      ? await a.post('/api/v1/users/logout-all').set(bearer(reg.body.token))
      : await a.post('/api/v1/users/logout').send({ refresh_token: reg.body.refresh_token });
  expect(done.status).toBe(200);
  const ms = await timeUntil(async () => (await b.get('/me').set(bearer(reg.body.token))).status === 401);
  // The other instance's refresh endpoint agrees at once: the database says so.
  expect((await b.post('/api/v1/users/token-refresh').send({ refresh_token: reg.body.refresh_token })).status).toBe(401);
  return ms;
}

describe('db: a Kysely instance, no listenDsn (polling the revocation log)', () => {
  it.each(['logout-all', 'logout'] as const)(`%s on one instance is refused on the other within ${MAX_MS} ms`, async (how) => {
    const ms = await logoutReaches(kyselyHandle, how);
    console.log(`revocation reached the other instance (Kysely handle, ${how}) in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(MAX_MS);
  });
});

describe('API tokens are cached, and a deletion reaches every instance', () => {
  it.each([['a Kysely handle (polling)', kyselyHandle], ...(TEST_DSN ? [['a pg.Pool (LISTEN)', poolHandle] as const] : [])] as Array<[string, Handle]>)(
    `with %s: a token deleted on one instance is refused on the other within ${MAX_MS} ms`,
    async (_name, handle) => {
      const { a, b } = await pair(handle);
      const username = `k${randomBytes(4).toString('hex')}`;
      const reg = await a.post('/api/v1/users/register').send({ username, password: PASSWORD, email: `${username}@example.com` });
      const created = await a.post('/api/v1/users/me/api-tokens').set(bearer(reg.body.token)).send({ name: 'cached' });
      expect(created.status).toBe(201);
      // Used on both, so both hold it in memory.
      for (const http of [a, b]) expect((await http.get('/me').set('X-API-Token', created.body.token)).status).toBe(200);
      expect((await a.delete(`/api/v1/users/me/api-tokens/${created.body.id}`).set(bearer(reg.body.token))).status).toBe(200);
      expect((await a.get('/me').set('X-API-Token', created.body.token)).status).toBe(401);
      const ms = await timeUntil(async () => (await b.get('/me').set('X-API-Token', created.body.token)).status === 401);
      console.log(`API token deletion reached the other instance in ${ms.toFixed(0)} ms`);
      expect(ms).toBeLessThan(MAX_MS);
    },
  );
});

describe.runIf(TEST_DSN)('db: a pg.Pool, no listenDsn (LISTEN on a pool connection)', () => {
  it.each(['logout-all', 'logout'] as const)(`%s on one instance is refused on the other within ${MAX_MS} ms`, async (how) => {
    const ms = await logoutReaches(poolHandle, how);
    console.log(`revocation reached the other instance (pg.Pool handle, ${how}) in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(MAX_MS);
  });
});
