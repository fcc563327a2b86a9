import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { closedAfterEach, createTestApp, type TestApp } from './helpers/app.js';
import { rawQuery, TEST_DSN } from './helpers/database.js';

// Migration 0008 backs the admin search with trigram indexes where pg_trgm can be created, and
// does not fail where it cannot: search then scans, with the same results.

const { track } = closedAfterEach();

const trigramIndexes = (schema: string) =>
  rawQuery<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE '%trgm%' ORDER BY indexname`, [schema]).then(
    (rows) => rows.map((r) => r.indexname),
  );

/** Creates three users and searches for the one with `50%` in its email, as the admin API does. */
async function searchWorks(auth: AuthManager): Promise<void> {
  await auth.users.create({ username: 'alpha_one', email: 'alpha@example.com' });
  await auth.users.create({ username: 'alphaxone', email: 'other@example.com' });
  await auth.users.create({ username: 'beta', email: 'beta@example.com' });
  expect((await auth.users.list({ search: 'ALPHA_' })).users.map((u) => u.username)).toEqual(['alpha_one']);
  expect((await auth.users.list({ search: 'a@example' })).total).toBe(2);
}

describe('the trigram indexes of the admin search', () => {
  let t: TestApp | undefined;
  afterAll(() => t?.close());

  it('exist where pg_trgm can be created, and serve a LIKE with escaped metacharacters', async () => {
    t = await createTestApp();
    expect(await trigramIndexes(t.schema)).toEqual(['users_email_trgm_idx', 'users_username_trgm_idx']);
    // With sequential scans off, the planner shows the search can use them (at a few rows it would not bother).
    const pattern = '%50\\%off\\_x%';
    const sql = `SET enable_seqscan = off; EXPLAIN SELECT id FROM "${t.schema}".users WHERE username_key LIKE '${pattern}' OR email_key LIKE '${pattern}'`;
    let plan: string;
    if (TEST_DSN) {
      const client = new pg.Client({ connectionString: TEST_DSN });
      await client.connect();
      try {
        const results = (await client.query(sql)) as unknown as Array<{ rows: Array<Record<string, string>> }>;
        plan = results[1]!.rows.map((r) => r['QUERY PLAN']).join('\n');
      } finally {
        await client.end();
      }
    } else {
      const { sharedPGlite } = await import('./helpers/database.js');
      const db = await sharedPGlite();
      const results = await db.exec(sql);
      await db.exec('RESET enable_seqscan');
      plan = results[1]!.rows.map((r) => (r as Record<string, string>)['QUERY PLAN']).join('\n');
    }
    expect(plan).toMatch(/users_username_trgm_idx/);
    expect(plan).toMatch(/users_email_trgm_idx/);
  });

  it.skipIf(TEST_DSN)('an embedded database without pg_trgm: the migration passes, search scans and finds the same', async () => {
    const pglite = new PGlite();
    track(() => pglite.close());
    const auth = new AuthManager(null, { db: pglite, dbSchema: 'noext', jwtSecret: randomBytes(48), rateLimit: false, bcryptRounds: 4 });
    track(() => auth.close());
    await auth.ready;
    const { rows } = await pglite.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'noext' AND indexname LIKE '%trgm%'`);
    expect(rows).toEqual([]);
    await searchWorks(auth);
  });

  it.skipIf(!TEST_DSN)('PostgreSQL, a role that may not create extensions: the migration passes, search scans', async () => {
    const suffix = randomBytes(4).toString('hex');
    const database = `authlib_noext_${suffix}`;
    const role = `authlib_noext_${suffix}`;
    await rawQuery(`CREATE DATABASE ${database}`);
    track(async () => {
      await rawQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await rawQuery(`DROP ROLE IF EXISTS ${role}`);
    });
    await rawQuery(`CREATE ROLE ${role} LOGIN`);
    const admin = new pg.Client({ connectionString: databaseUrl(database, 'postgres') });
    await admin.connect();
    try {
      // The role owns its schema, and has no CREATE on the database (which trusted extensions need) nor on public.
      await admin.query(`CREATE SCHEMA app AUTHORIZATION ${role}; REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
    } finally {
      await admin.end();
    }
    const auth = new AuthManager(null, { dbDsn: databaseUrl(database, role), dbSchema: 'app', jwtSecret: randomBytes(48), rateLimit: false, bcryptRounds: 4 });
    track(() => auth.close());
    await auth.ready;
    const check = new pg.Client({ connectionString: databaseUrl(database, 'postgres') });
    await check.connect();
    try {
      expect((await check.query(`SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'`)).rows).toEqual([]);
      expect((await check.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'app' AND indexname LIKE '%trgm%'`)).rows).toEqual([]);
      expect((await check.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'app' AND indexname = 'users_created_idx'`)).rows).toHaveLength(1);
    } finally {
      await check.end();
    }
    await searchWorks(auth);
  });
});

/** TEST_DSN pointed at another database and user. */
function databaseUrl(database: string, user: string): string {
  const url = new URL(TEST_DSN!);
  url.pathname = `/${database}`;
  url.username = user;
  url.password = '';
  return url.toString();
}
