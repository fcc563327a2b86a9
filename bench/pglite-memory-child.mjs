// One process of bench/pglite-memory.ts: starts bare Express or an instance, serves a few requests,
// prints {rss, heapUsed, external} after a collection. Plain JavaScript, run without a loader.
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import express from 'express';
import pg from 'pg';

const variant = process.argv[2];
const app = express();
app.get('/hello', (_req, res) => res.json({ hello: 'world' }));
let close = async () => {};
let auth;
let readMicros;
if (variant === 'pglite-only') {
  // PGlite with the library's settings and no library: the floor an instance on it cannot go under.
  const { PGlite } = await import('@electric-sql/pglite');
  const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
  const settings = JSON.parse(process.env.BENCH_PGLITE_SETTINGS);
  const pglite = new PGlite({ extensions: { pg_trgm }, startParams: [...PGlite.defaultStartParams, ...settings] });
  await pglite.query('CREATE TABLE users (id uuid PRIMARY KEY, username text NOT NULL)');
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
  } else {
    source =
      variant === 'pglite'
        ? { dbDsn: 'pglite://memory' }
        : variant === 'pglite-dir'
          ? { dbDsn: `pglite://${process.env.BENCH_DIR}` }
          : { dbDsn: process.env.BENCH_DSN, dbSchema: schema };
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
}
globalThis.gc?.();
const { rss, heapUsed, external } = process.memoryUsage();
console.log(JSON.stringify({ rss, heapUsed, external, readMicros }));
server.close();
await close();
