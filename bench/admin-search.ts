// GET /admin/users?search= at a large user count: median and p99 of 100 searches through HTTP,
// with the trigram indexes of sql/0008_admin.sql and without them. `npm run bench`; not part of
// `npm test`. With BENCH_DSN=postgresql://... it runs on PostgreSQL with 1,000,000 users, else on
// embedded PGlite with 100,000; BENCH_USERS overrides the count.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import express from 'express';
import pg from 'pg';
import request from 'supertest';
import { AuthManager } from 'express-authlib';
import { dropBenchSchema } from './drop-schema.js';

const dsn = process.env.BENCH_DSN;
const count = Number(process.env.BENCH_USERS ?? (dsn ? 1_000_000 : 100_000));
const schema = `bench_${randomBytes(4).toString('hex')}`;

// A connection of the benchmark's own for the bulk load and the index juggling.
let query: (text: string) => Promise<Array<Record<string, string>>>;
let closeQuery: () => Promise<void>;
let database: { dbDsn: string } | { db: PGlite };
if (dsn) {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  query = async (text) => (await client.query(text)).rows as Array<Record<string, string>>;
  closeQuery = () => client.end();
  database = { dbDsn: dsn };
} else {
  const pglite = new PGlite({ extensions: { pg_trgm } });
  query = async (text) => (await pglite.query<Record<string, string>>(text)).rows;
  closeQuery = () => pglite.close();
  database = { db: pglite };
}

const app = express();
const auth = new AuthManager(app, { ...database, dbSchema: schema, jwtSecret: randomBytes(48), rateLimit: false, bcryptRounds: 4 });
await auth.ready;
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const http = request(server);

const since = (t0: number) => performance.now() - t0;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const md5 = (n: number) => createHash('md5').update(String(n)).digest('hex');

// The trigram indexes are dropped for the load and rebuilt after it from their own definitions:
// building once is much faster than maintaining them row by row.
const trgm = await query(`select indexname, indexdef from pg_indexes where schemaname = '${schema}' and indexname like '%trgm%'`);
if (trgm.length === 0) console.log('note: no trigram indexes (pg_trgm is not available here); every search below scans');
const dropTrgm = async () => {
  for (const { indexname } of trgm) await query(`drop index "${schema}"."${indexname}"`);
};
await dropTrgm();

let t0 = performance.now();
// One statement: usernames u<n>_<8 hex of md5(n)>, emails at one of 50 domains, one second apart.
await query(`
  insert into "${schema}".users (username, username_key, email, email_key, created_at, updated_at)
  select name, lower(name), name || '@d' || (g % 50) || '.example.com', lower(name) || '@d' || (g % 50) || '.example.com',
         now() - make_interval(secs => ${count} - g), now()
  from (select g, 'u' || g || '_' || substr(md5(g::text), 1, 8) as name from generate_series(1, ${count}) g) s`);
console.log(`inserted ${count.toLocaleString('en')} users in ${(since(t0) / 1000).toFixed(1)} s`);
t0 = performance.now();
for (const { indexdef } of trgm) await query(indexdef!);
await query(`analyze "${schema}".users`);
console.log(`built ${trgm.length} trigram indexes and analysed in ${(since(t0) / 1000).toFixed(1)} s`);

const password = 'benchmark password 123';
await auth.users.create({ username: 'bench_admin', email: 'admin@bench.example', password, roles: ['admin'] });
const login = await http.post('/api/v1/users/login').send({ username: 'bench_admin', password }).expect(200);
const bearer = `Bearer ${(login.body as { token: string }).token}`;

/** `n` requests to GET /admin/users?<query(i)>, after one warm-up; prints median and p99. */
async function run(label: string, n: number, queryOf: (i: number) => string): Promise<void> {
  await http
    .get(`/api/v1/users/admin/users?${queryOf(n)}`)
    .set('Authorization', bearer)
    .expect(200);
  const times: number[] = [];
  let matches = 0;
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const res = await http
      .get(`/api/v1/users/admin/users?${queryOf(i)}`)
      .set('Authorization', bearer)
      .expect(200);
    times.push(since(start));
    matches += (res.body as { total: number }).total;
  }
  console.log(
    `${label.padEnd(52)} median ${pct(times, 50).toFixed(1).padStart(7)} ms   p99 ${pct(times, 99).toFixed(1).padStart(7)} ms   (${n} requests, ${(matches / n).toFixed(1)} matches each)`,
  );
}

// What an operator types: part of a name they saw (six of the eight hex characters of one user).
const users = Array.from({ length: 101 }, () => randomInt(1, count + 1));
const partOfName = (i: number) => `search=${md5(users[i]!).slice(1, 7)}`;
const wholeName = (i: number) => `search=u${users[i]!}_${md5(users[i]!).slice(0, 8)}`;

console.log(`\nGET /admin/users through HTTP, ${count.toLocaleString('en')} users, ${dsn ? 'PostgreSQL' : 'PGlite'}`);
await run('search=<6 hex chars of a name>, trigram indexes', 100, partOfName);
await run('search=<a whole username>, trigram indexes', 100, wholeName);
await run('search=@d7.example (2% of users), trigram indexes', 20, () => 'search=%40d7.example');
await run('no search: newest 20 and the total', 20, () => 'limit=20');
await dropTrgm();
await run('search=<6 hex chars of a name>, NO trigram index', 20, partOfName);

server.close();
await auth.close();
await closeQuery();
await dropBenchSchema(schema);
