// Does anything depend on the number of users? The same measurements on PostgreSQL with 1,000
// and with 1,000,000 users and as many refresh tokens (half of them revoked long ago), seeded by
// SQL: login, refresh, an API-token check that misses the cache, and GET /login/profile (median
// and p99 of SAMPLE requests each, each request on a different user), and an instance's start-up
// time and memory. `npm run bench`; not part of `npm test`. BENCH_DSN as in require-auth;
// BENCH_SCALE=1000,1000000 sets the sizes. bcrypt runs at cost 4 here, so that the login figure is
// the database's work and not the hash's.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { BENCH_PG_DSN, connectOrSkip } from './postgres.js';
import { AuthManager } from 'express-authlib';
import { dropBenchSchema } from './drop-schema.js';
import { change, describeMachine, median, percentile, previousResults, saveResults } from './results.js';
import { compiled } from './plain-node.js';

const DSN = BENCH_PG_DSN;
const SIZES = (process.env.BENCH_SCALE ?? '1000,1000000').split(',').map(Number);
const SAMPLE = Number(process.env.BENCH_SAMPLE ?? 600);
const PASSWORD = 'benchmark password 123';
const SECRET = randomBytes(48).toString('base64url');
const since = (t0: number) => performance.now() - t0;

const client = await connectOrSkip('scale');

/** A schema migrated by the library and filled by SQL with `n` users and `n` refresh tokens. */
async function seed(n: number): Promise<string> {
  const schema = `bench_scale_${randomBytes(4).toString('hex')}`;
  const migrate = new AuthManager(null, { dbDsn: DSN, dbSchema: schema, jwtSecret: SECRET });
  await migrate.ready;
  await migrate.close();
  const q = (text: string) => client.query(text);
  // The stored form the library writes (see src/passwords/hasher.ts): its prefix, then bcrypt of the
  // HMAC of the password. Made once through the library, copied to every row.
  const probe = new AuthManager(null, { dbDsn: DSN, dbSchema: schema, jwtSecret: SECRET, bcryptRounds: 4 });
  await probe.ready;
  const made = await probe.users.create({ username: 'seed_probe', email: 'seed_probe@example.com', password: PASSWORD });
  await probe.close();
  const hash = (await q(`select password_hash from "${schema}".users where id = '${made.id}'`)).rows[0].password_hash as string;
  await q(`delete from "${schema}".users where id = '${made.id}'`);
  // Build the trigram indexes once after the load rather than row by row.
  const trgm = (await q(`select indexname, indexdef from pg_indexes where schemaname = '${schema}' and indexname like '%trgm%'`)).rows as Array<{
    indexname: string;
    indexdef: string;
  }>;
  for (const { indexname } of trgm) await q(`drop index "${schema}"."${indexname}"`);
  const t0 = performance.now();
  await q(`insert into "${schema}".users (username, username_key, email, email_key, password_hash, created_at)
           select 'u' || g, 'u' || g, 'u' || g || '@example.com', 'u' || g || '@example.com', '${hash}', now() - make_interval(secs => ${n} - g)
           from generate_series(1, ${n}) g`);
  await q(`insert into "${schema}".user_roles (user_id, role) select id, 'user' from "${schema}".users`);
  // One refresh token per user; every second one revoked two days ago (an old logout).
  await q(`insert into "${schema}".refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at, revoked_at)
           select gen_random_uuid(), gen_random_uuid(), id, md5(id::text) || md5(random()::text), now() - interval '3 days', now() + interval '27 days',
                  case when random() < 0.5 then now() - interval '2 days' end
           from "${schema}".users`);
  for (const { indexdef } of trgm) await q(indexdef);
  await q(`analyze "${schema}".users; analyze "${schema}".user_roles; analyze "${schema}".refresh_tokens`);
  console.log(`seeded ${n.toLocaleString('en')} users and refresh tokens in ${(since(t0) / 1000).toFixed(1)} s`);
  return schema;
}

async function startInstance(schema: string): Promise<{ child: ChildProcess; port: number; readyMs: number; rssReady: number; apiTokens: string[] }> {
  const child = spawn(process.execPath, [await compiled('bench/scale-instance.ts'), schema, String(SAMPLE)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_DSN: DSN, BENCH_SECRET: SECRET },
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`instance exited with ${code}`)));
  });
  return { child, ...(JSON.parse(line) as { port: number; readyMs: number; rssReady: number; apiTokens: string[] }) };
}

async function timed(fn: () => Promise<Response>): Promise<number> {
  const t0 = performance.now();
  const res = await fn();
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`answered ${res.status}`);
  return since(t0);
}

async function measure(n: number) {
  const schema = await seed(n);
  try {
    const inst = await startInstance(schema);
    const base = `http://127.0.0.1:${inst.port}/api/v1/users`;
    const post = (path: string, body: object) =>
      fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // Users spread over the whole table, each used once.
    const picks = Array.from({ length: SAMPLE }, (_, i) => 1 + Math.floor(((i + 0.5) * n) / SAMPLE));
    const login: number[] = [];
    const sessions: Array<{ token: string; refresh_token: string }> = [];
    for (const k of picks) {
      const t0 = performance.now();
      const res = await post('/login', { username: `u${k}`, password: PASSWORD });
      const body = (await res.json()) as { token: string; refresh_token: string };
      if (res.status !== 200) throw new Error(`login answered ${res.status}`);
      login.push(since(t0));
      sessions.push(body);
    }
    // A new instance's caches are cold, but login filled this one's: profile and refresh run on a
    // second instance, started now, so each of their requests is a miss too.
    const cold = await startInstance(schema);
    const coldBase = `http://127.0.0.1:${cold.port}/api/v1/users`;
    const profile: number[] = [];
    for (const s of sessions) profile.push(await timed(() => fetch(`${coldBase}/login/profile`, { headers: { authorization: `Bearer ${s.token}` } })));
    const refresh: number[] = [];
    for (const s of sessions)
      refresh.push(
        await timed(() =>
          fetch(`${coldBase}/token-refresh`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ refresh_token: s.refresh_token }),
          }),
        ),
      );
    const apiToken: number[] = [];
    for (const t of inst.apiTokens) apiToken.push(await timed(() => fetch(`http://127.0.0.1:${cold.port}/hello`, { headers: { 'x-api-token': t } })));
    const rssAfter = await new Promise<number>((resolve) => {
      cold.child.once('message', (m: { rss: number }) => resolve(m.rss));
      cold.child.send('rss');
    });
    inst.child.kill('SIGTERM');
    cold.child.kill('SIGTERM');
    const stats = (xs: number[]) => ({ median_ms: Number(median(xs).toFixed(2)), p99_ms: Number(percentile(xs, 99).toFixed(2)) });
    return {
      users: n,
      login: stats(login),
      refresh: stats(refresh),
      api_token_miss: stats(apiToken),
      profile_miss: stats(profile),
      startup_ms: Number(cold.readyMs.toFixed(0)),
      rss_ready_mb: Math.round(cold.rssReady / 2 ** 20),
      rss_after_mb: Math.round(rssAfter / 2 ** 20),
    };
  } finally {
    await dropBenchSchema(schema);
  }
}

process.env.BENCH_DSN = DSN;
const rows = [];
for (const n of SIZES) rows.push(await measure(n));
await client.end();

const previous = previousResults<{ rows: typeof rows }>('scale');
const small = rows[0]!;
console.log(`\nscale on PostgreSQL, ${SAMPLE} requests per figure, each on a different user; ${describeMachine()}`);
console.log('users        login p50/p99    refresh p50/p99   API token (miss)  profile (miss)    start-up  RSS ready/after  vs first row (p50, p99)');
for (const r of rows) {
  const ratio = (k: 'login' | 'refresh' | 'api_token_miss' | 'profile_miss') =>
    `${(r[k].median_ms / small[k].median_ms).toFixed(2)}/${(r[k].p99_ms / small[k].p99_ms).toFixed(2)}`;
  const fmt = (s: { median_ms: number; p99_ms: number }) => `${s.median_ms.toFixed(2)}/${s.p99_ms.toFixed(2)}`.padEnd(17);
  const last = previous?.rows.find((p) => p.users === r.users);
  console.log(
    `${r.users.toLocaleString('en').padEnd(12)} ${fmt(r.login)} ${fmt(r.refresh)} ${fmt(r.api_token_miss)} ${fmt(r.profile_miss)} ${`${r.startup_ms} ms`.padEnd(9)} ${`${r.rss_ready_mb}/${r.rss_after_mb} MB`.padEnd(16)} login ${ratio('login')}, refresh ${ratio('refresh')}, API token ${ratio('api_token_miss')}, profile ${ratio('profile_miss')} ${change(r.login.median_ms, last?.login.median_ms)}`,
  );
}
saveResults('scale', { sample: SAMPLE, rows });
