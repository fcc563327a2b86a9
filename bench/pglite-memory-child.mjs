// One process of bench/pglite-memory.ts: starts bare Express or an instance, serves a few requests,
// prints {rss, heapUsed, external} after collections. Plain JavaScript, run without a loader.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import pg from 'pg';

const variant = process.argv[2];
const app = express();
app.get('/hello', (_req, res) => res.json({ hello: 'world' }));
let close = async () => {};
let auth;
let readMicros;
if (variant.startsWith('pglite-only') || variant === 'pglite-init') {
  // PGlite with the library's settings and no library: the floor an instance on it cannot go under.
  // In memory, or (pglite-only-dir) opened on a directory that another process initialised.
  const { PGlite } = await import('@electric-sql/pglite');
  const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
  const settings = JSON.parse(process.env.BENCH_PGLITE_SETTINGS);
  const initDbStartParams = JSON.parse(process.env.BENCH_PGLITE_INITDB_ARGS);
  const options = { extensions: { pg_trgm }, startParams: [...PGlite.defaultStartParams, ...settings], initDbStartParams };
  const dir = process.env.BENCH_DIR;
  if (variant === 'pglite-only-dir' && !existsSync(`${dir}/PG_VERSION`)) {
    execFileSync(process.execPath, [new URL(import.meta.url).pathname, 'pglite-init'], { stdio: 'inherit' });
  }
  const pglite = variant === 'pglite-only' ? new PGlite(options) : new PGlite(dir, options);
  if (variant !== 'pglite-only-dir') await pglite.query('CREATE TABLE users (id uuid PRIMARY KEY, username text NOT NULL)');
  if (variant === 'pglite-init') {
    await pglite.close();
    process.exit(0);
  }
  const READS = 3000;
  const started = performance.now();
  for (let i = 0; i < READS; i++) await pglite.query('SELECT * FROM users WHERE id = $1', [randomUUID()]);
  readMicros = ((performance.now() - started) * 1000) / READS;
  close = () => pglite.close();
} else if (variant !== 'bare') {
  const { AuthManager } = await import('../dist/index.js');
  const base = { jwtSecret: randomBytes(48).toString('base64url'), rateLimit: false, logger: false };
  const schema = `bench_mem_${randomBytes(4).toString('hex')}`;
  let own;
  let source;
  if (variant === 'pglite-defaults') {
    // The app's own instance with PostgreSQL's default settings, for comparison.
    const { PGlite } = await import('@electric-sql/pglite');
    const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
    own = new PGlite({ extensions: { pg_trgm } });
    source = { db: own };
  } else if (variant.startsWith('pglite-dir')) {
    // pglite-dir-existing: the directory's first start is another process's (as after a restart).
    if (variant === 'pglite-dir-existing' && !existsSync(`${process.env.BENCH_DIR}/PG_VERSION`)) {
      execFileSync(process.execPath, [new URL(import.meta.url).pathname, 'pglite-dir'], { stdio: 'ignore' });
    }
    source = { dbDsn: `pglite://${process.env.BENCH_DIR}` };
  } else {
    source = variant.startsWith('pglite') ? { dbDsn: 'pglite://memory' } : { dbDsn: process.env.BENCH_DSN, dbSchema: schema };
  }
  auth = new AuthManager(app, { ...base, ...source });
  await auth.ready;
  close = async () => {
    await auth.close();
    await own?.close();
    if (variant !== 'postgres') return;
    // As bench/drop-schema.ts does (this file runs without a TypeScript loader): nothing left behind.
    const client = new pg.Client({ connectionString: process.env.BENCH_DSN });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end());
  };
}
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address();
for (let i = 0; i < 50; i++) await globalThis.fetch(`http://127.0.0.1:${port}/hello`);
if (auth) {
  for (let i = 0; i < 20; i++) await globalThis.fetch(`http://127.0.0.1:${port}/api/v1/users/auth-methods`);
  // Database reads through the library, so that a setting that saves memory shows what it costs:
  // a user by an id nobody has (a query every time; no cache answers it).
  const READS = 3000;
  const started = performance.now();
  for (let i = 0; i < READS; i++) await auth.users.findById(randomUUID());
  readMicros = ((performance.now() - started) * 1000) / READS;
  if (variant === 'pglite-writes') {
    // Steady writing, as an app's sign-ins and changes do: enough WAL for several checkpoints, whose
    // segments are in memory. The figure printed as µs per read is then µs per write.
    const user = await auth.users.create({ username: 'writer', password: 'a long enough passphrase' });
    const WRITES = 20_000;
    const writing = performance.now();
    for (let i = 0; i < WRITES; i++) await auth.users.update(user.id, { email: `writer-${i}@example.com` });
    readMicros = ((performance.now() - writing) * 1000) / WRITES;
  }
}
// Collected a few times, a moment apart: V8 frees ArrayBuffers' memory on a thread of its own after
// a collection, so one collection read at once counted 100 MB of the cluster's copies in one run of
// three and not in the others.
for (let i = 0; i < 4; i++) {
  globalThis.gc?.();
  await sleep(150);
}
const { rss, heapUsed, external } = process.memoryUsage();
console.log(JSON.stringify({ rss, heapUsed, external, readMicros }));
server.close();
await close();
