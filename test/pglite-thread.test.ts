import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { PGLITE_SETTINGS } from '../src/db/pglite-settings.js';
import { pgliteWorkerFile, startPGliteThread } from '../src/db/pglite-thread.js';
import { isDatabaseUnavailable } from '../src/db/unavailable.js';
import { TEST_DSN } from './helpers/database.js';

// A database opened from a pglite:// DSN runs in a thread of its own (src/db/pglite-worker.ts, built
// to dist/). What crosses between the threads: queries and their parameters, rows, PostgreSQL's
// errors with their SQLSTATE (the library's 409s and race handling read it), notifications, and
// the end of the thread.
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'authlib-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const thread = () => {
  const file = pgliteWorkerFile();
  if (!file) throw new Error('dist/pglite-worker.js is missing: run `npm run build` first (npm test does)');
  return startPGliteThread(file, { dataDir: undefined, settings: PGLITE_SETTINGS, clusterTar: undefined });
};

describe.skipIf(TEST_DSN)('the embedded database in a thread of its own', () => {
  it('values cross both ways as they are: text, numbers, booleans, null, dates, bytes, JSON, arrays; the settings apply', async () => {
    const db = await thread();
    try {
      const at = new Date('2026-12-07T05:00:00.123Z');
      const bytes = new Uint8Array([0, 1, 254, 255]);
      const { rows } = await db.query<Record<string, unknown>>(
        'SELECT $1::text AS t, $2::int AS i, $3::bool AS b, $4::text AS n, $5::timestamptz AS at, $6::bytea AS bytes, $7::jsonb AS doc, $8::text[] AS list',
        ['ünïcödé ✓', 42, true, null, at, bytes, JSON.stringify({ a: [1, 'two'] }), ['x', 'y']],
      );
      expect(rows).toEqual([{ t: 'ünïcödé ✓', i: 42, b: true, n: null, at, bytes, doc: { a: [1, 'two'] }, list: ['x', 'y'] }]);
      expect((await db.query<{ shared_buffers: string }>('SHOW shared_buffers')).rows).toEqual([{ shared_buffers: '16MB' }]);
      // Several statements at once (migrations) through exec, with each result and its row count.
      const results = await db.exec('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2); SELECT count(*)::int AS n FROM t');
      expect(results.map((r) => r.rows)).toEqual([[], [], [{ n: 2 }]]);
      expect(results[1]!.affectedRows).toBe(2);
      // A parameter that cannot be copied to the thread fails that call alone.
      await expect(db.query('SELECT $1::text AS t', [() => 'a function'])).rejects.toThrow(/could not be cloned/);
      expect((await db.query<{ t: string }>('SELECT $1::text AS t', ['after'])).rows).toEqual([{ t: 'after' }]);
    } finally {
      await db.close();
    }
  });

  it('PostgreSQL’s errors arrive as Errors with their SQLSTATE and fields; after close() every call fails as an unavailable database', async () => {
    const db = await thread();
    await db.exec('CREATE TABLE u (name text CONSTRAINT u_name UNIQUE)');
    await db.query('INSERT INTO u VALUES ($1)', ['ann']);
    const duplicate = (await db.query('INSERT INTO u VALUES ($1)', ['ann']).catch((e: unknown) => e)) as Error & Record<string, unknown>;
    expect(duplicate).toBeInstanceOf(Error);
    expect(duplicate).toMatchObject({ code: '23505', constraint: 'u_name', table: 'u' });
    expect(duplicate.message).toMatch(/duplicate key value violates unique constraint "u_name"/);
    const syntax = (await db.query('SELEC 1').catch((e: unknown) => e)) as Error & { code?: string };
    expect(syntax.code).toBe('42601');
    expect(isDatabaseUnavailable(syntax)).toBe(false);
    // A failed statement leaves the session usable.
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM u')).rows).toEqual([{ n: 1 }]);

    await db.close();
    const after = await db.query('SELECT 1').catch((e: unknown) => e);
    expect(after).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(after)).toBe(true);
    await db.close(); // a second close is a no-op
  });

  it('notifications reach the listener on this thread until it stops listening', async () => {
    const db = await thread();
    try {
      const heard: string[] = [];
      const stop = await db.listen('authlib_test', (payload) => heard.push(payload));
      await db.query("SELECT pg_notify('authlib_test', 'one')");
      await db.query("SELECT pg_notify('other_channel', 'not for us')");
      await db.query("SELECT pg_notify('authlib_test', 'two')");
      await expect.poll(() => heard).toEqual(['one', 'two']);
      await stop();
      await db.query("SELECT pg_notify('authlib_test', 'three')");
      await db.query('SELECT 1'); // the thread answers in order: a stray notification would have arrived by now
      expect(heard).toEqual(['one', 'two']);
    } finally {
      await db.close();
    }
  });

  it('through HTTP on a directory: a duplicate is a 409, racing registrations of one name make one account, and the data is there after a restart', async () => {
    const dsn = `pglite://${join(dir, 'db')}`;
    const start = () => {
      const app = express();
      const auth = new AuthManager(app, { dbDsn: dsn, jwtSecret: 't'.repeat(32), logger: false, rateLimit: false, bcryptRounds: 4 });
      return { app, auth };
    };
    const first = start();
    await first.auth.ready;
    const body = (username: string) => ({ username, password: 'correct horse battery', email: `${username}@example.com` });
    const statuses = await Promise.all(
      Array.from({ length: 8 }, () =>
        request(first.app)
          .post('/api/v1/users/register')
          .send(body('racer'))
          .then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    const again = await request(first.app).post('/api/v1/users/register').send(body('racer'));
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('conflict');
    // Two closes at once (a signal handler and a teardown) are one: both resolve.
    await Promise.all([first.auth.close(), first.auth.close()]);

    const second = start();
    const login = await request(second.app).post('/api/v1/users/login').send({ username: 'racer', password: 'correct horse battery' });
    expect(login.status).toBe(200);
    await second.auth.close();
  });

  it('under Node’s permission model without --allow-worker, the database opens on the app’s thread', async () => {
    const script = `
      const { AuthManager } = await import(${JSON.stringify(join(process.cwd(), 'dist', 'index.js'))});
      const auth = new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(40), logger: false });
      await auth.ready;
      console.log(JSON.stringify(await auth.users.list()));
      await auth.close();
    `;
    const flags = ['--experimental-permission', '--allow-fs-read=*', '--allow-fs-write=*', '--no-warnings'];
    const { stdout } = await run(process.execPath, [...flags, '--input-type=module', '-e', script], { timeout: 60_000 });
    expect(JSON.parse(stdout.trim())).toMatchObject({ users: [] });
  });

  it('the thread does not keep the process alive: an app that never calls close() ends when its work is done', async () => {
    // Plain Node on the built package, as an app runs it.
    const script = `
      const { AuthManager } = await import(${JSON.stringify(join(process.cwd(), 'dist', 'index.js'))});
      const auth = new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(40), logger: false });
      await auth.ready;
      const user = await auth.users.create({ username: 'left_open', email: 'left@example.com', password: 'a long enough passphrase' });
      console.log(user.username);
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 });
    expect(stdout.trim()).toBe('left_open');
  });
});
