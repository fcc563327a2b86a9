// What express-authlib/testing costs a host app's test run: the first instance of a process (which
// boots the in-memory PGlite), each further one, reset() and loginAs(), and the alternatives the
// design was chosen against. `npx tsx bench/testing.ts`. Not part of `npm test`.
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import express from 'express';
import request from 'supertest';
import { randomBytes } from 'node:crypto';
import { AuthManager } from 'express-authlib';
import { createTestAuth, testHasher, type TestAuth } from 'express-authlib/testing';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}
async function medianOf(n: number, fn: () => Promise<unknown>, before?: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    await before?.();
    times.push((await timed(fn))[0]);
  }
  return median(times);
}
const ms = (x: number) => `${x.toFixed(1)} ms`;
const rows: Array<[string, string]> = [];
const row = (label: string, value: number) => {
  rows.push([label, ms(value)]);
  console.log(`${label}: ${ms(value)}`);
};

// 1. The first instance of the process: PGlite boot + migrating an empty schema. Also in CPU time,
// which a busy machine inflates less than the wall clock.
const cpu0 = process.cpuUsage();
const [first, keep] = await timed(() => createTestAuth(null));
const cpu = process.cpuUsage(cpu0);
row('first instance (boots PGlite, migrates a new schema)', first);
row('first instance, CPU time', (cpu.user + cpu.system) / 1000);

// 2. A further instance while another is open and no schema is free: migrates a new schema.
const fresh: TestAuth[] = [];
row('further instance, new schema (migration)', await medianOf(5, async () => fresh.push(await createTestAuth(null))));

// 3. A further instance after one was closed: takes the emptied, migrated schema back.
for (const a of fresh) await a.close();
row(
  'further instance, schema of a closed one (no migration)',
  await medianOf(
    10,
    async () => fresh.push(await createTestAuth(null)),
    async () => fresh.pop()?.close(),
  ),
);
for (const a of fresh.splice(0)) await a.close();

// 4. Per test: reset() after a test that left a few rows, and loginAs.
const seed = async () => {
  const u = await keep.loginAs({ roles: ['admin'] });
  await keep.apiTokenFor(u.user, { scopes: ['x'] });
  await keep.loginAs({ groups: ['acme'] });
};
row('reset() (after a test that made 2 users, a token, a group)', await medianOf(30, () => keep.reset(), seed));
await keep.reset();
row("loginAs({ roles: ['admin'] }) (creates the user)", await medianOf(50, () => keep.loginAs({ roles: ['admin'] })));
const existing = await keep.loginAs();
row('loginAs(existingUser)', await medianOf(50, () => keep.loginAs(existing.user)));
row("apiTokenFor({}, { scopes: ['x'] })", await medianOf(50, () => keep.apiTokenFor({}, { scopes: ['x'] })));
row(
  'reset() + loginAs() (a typical test’s overhead)',
  await medianOf(30, async () => {
    await keep.reset();
    await keep.loginAs({ roles: ['admin'] });
  }),
);

// Alternatives. Closing and recreating the instance per test instead of reset():
row(
  'alternative: close() + createTestAuth() per test instead of reset()',
  await medianOf(10, async () => {
    const a = await createTestAuth(null);
    await a.close();
  }),
);

// Password hashing: the test hasher against bcrypt at its lowest cost (4), in the worker pool.
async function loginCost(auth: TestAuth): Promise<number> {
  const app = express();
  app.use('/api/v1/users', auth.router);
  const http = request(app);
  const password = 'correct horse battery staple';
  const { user } = await auth.loginAs({ password });
  const login = () => http.post('/api/v1/users/login').send({ username: user.username, password }).expect(200);
  await login();
  return medianOf(30, login);
}
row('POST /login, test hasher', await loginCost(keep));
const bcrypt4 = await createTestAuth(null, { bcryptRounds: 4 });
const [firstBcrypt] = await timed(() => bcrypt4.loginAs({ password: 'correct horse battery staple' }));
row('first loginAs with a password, bcrypt cost 4 (starts the worker pool)', firstBcrypt);
row('POST /login, bcrypt cost 4 in the worker pool', await loginCost(bcrypt4));
await bcrypt4.close();

// How reset() empties tables: TRUNCATE ... CASCADE against the DELETEs in foreign-key order it uses.
{
  const p = new PGlite({ extensions: { pg_trgm } });
  const auth = new AuthManager(null, { db: p, dbSchema: 'bench_empty', jwtSecret: randomBytes(32), logger: false, rateLimit: false, hasher: testHasher });
  await auth.ready;
  const excluded = ['authlib_migrations', 'authlib_migrations_lock', 'roles'];
  const tables = (await p.query<{ t: string }>('SELECT tablename AS t FROM pg_tables WHERE schemaname = $1', ['bench_empty'])).rows
    .map((r) => r.t)
    .filter((t) => !excluded.includes(t));
  const fill = async () => {
    for (let i = 0; i < 3; i++) {
      const u = await auth.users.create({ username: `u${randomBytes(4).toString('hex')}`, roles: ['admin'] });
      await auth.issueTokens(u.id);
      await auth.apiTokens.create(u.id, { name: 'x' });
    }
  };
  const truncate = `TRUNCATE ${tables.map((t) => `bench_empty."${t}"`).join(', ')} CASCADE`;
  row('emptying the tables with one TRUNCATE ... CASCADE', await medianOf(15, () => p.exec(truncate), fill));
  // Every table here references users or has no dependants, so deleting children first is enough for the comparison.
  const children = [
    'user_roles',
    'refresh_tokens',
    'api_tokens',
    'oauth_accounts',
    'mfa_totp',
    'mfa_backup_codes',
    'group_members',
    'group_parents',
    'integrations',
    'one_time_tokens',
    'oauth_states',
  ];
  const ordered = [...children.filter((t) => tables.includes(t)), ...tables.filter((t) => !children.includes(t))];
  row(
    'emptying the tables with DELETEs in foreign-key order',
    await medianOf(15, () => p.exec(ordered.map((t) => `DELETE FROM bench_empty."${t}";`).join('\n')), fill),
  );
  await auth.close();
  await p.close();
}

// For the breakdown: a bare in-memory PGlite boot (with pg_trgm, as the helper opens it).
const [boot, raw] = await timed(async () => {
  const p = new PGlite({ extensions: { pg_trgm } });
  await p.waitReady;
  return p;
});
row('bare PGlite boot (part of the first instance)', boot);
await raw.close();

await keep.close();
console.log('\n| step | median |\n|---|---|');
for (const [label, value] of rows) console.log(`| ${label} | ${value} |`);
