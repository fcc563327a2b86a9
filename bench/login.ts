// The cost of one login (bcrypt at the default cost 12, in the worker pool), and what logins in
// flight do to other requests' latency. `npm run bench`. Not part of `npm test`.
import { randomBytes } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { AuthManager, DEFAULT_BCRYPT_ROUNDS } from 'express-authlib';
import { dropBenchSchema } from './drop-schema.js';

const schema = `bench_${randomBytes(4).toString('hex')}`;
const app = express();
const auth = new AuthManager(app, { dbDsn: process.env.BENCH_DSN ?? 'pglite://memory', dbSchema: schema, jwtSecret: randomBytes(48), rateLimit: false });
await auth.ready;
app.get('/ping', (_req, res) => {
  res.json({ ok: true });
});
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const http = request(server);

const password = 'benchmark password 123';
await auth.users.create({ username: 'bench', email: 'bench@example.com', password });
const login = () => http.post('/api/v1/users/login').send({ username: 'bench', password }).expect(200);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

await login(); // warm-up: worker start, dummy hash
const loginMs: number[] = [];
for (let i = 0; i < 15; i++) loginMs.push(await timed(login));

const idlePing: number[] = [];
for (let i = 0; i < 30; i++) idlePing.push(await timed(() => http.get('/ping')));

// Four logins in flight while /ping is measured: with bcrypt on the main thread each ping would wait for them.
const busyPing: number[] = [];
const inFlight = Promise.all([login(), login(), login(), login()]);
for (let i = 0; i < 30; i++) busyPing.push(await timed(() => http.get('/ping')));
await inFlight;

// Failed logins must take the same time whatever is wrong, or the timing tells which accounts exist.
await auth.users.create({ username: 'nopw', email: 'nopw@example.com' });
const failed = (username: string, pw: string) => () => http.post('/api/v1/users/login').send({ username, password: pw }).expect(401);
const unknownMs: number[] = [];
const wrongMs: number[] = [];
const passwordlessMs: number[] = [];
for (let i = 0; i < 9; i++) {
  unknownMs.push(await timed(failed(`ghost${i}`, password)));
  wrongMs.push(await timed(failed('bench', `wrong ${i}`)));
  passwordlessMs.push(await timed(failed('nopw', password)));
}

console.log(`\nlogin at bcrypt cost ${DEFAULT_BCRYPT_ROUNDS}, database: ${process.env.BENCH_DSN ? 'PostgreSQL' : 'PGlite'}`);
console.log(`one login (HTTP round trip), median of 15:       ${median(loginMs).toFixed(1)} ms`);
console.log(
  `failed login, median of 9: wrong password ${median(wrongMs).toFixed(1)} ms, unknown user ${(median(unknownMs) / median(wrongMs)).toFixed(2)}x, password-less account ${(median(passwordlessMs) / median(wrongMs)).toFixed(2)}x`,
);
console.log(`GET /ping median, idle:                          ${median(idlePing).toFixed(2)} ms`);
console.log(`GET /ping median, 4 logins in flight:            ${median(busyPing).toFixed(2)} ms  (${(median(busyPing) / median(idlePing)).toFixed(1)}x idle)`);

server.close();
await auth.close();
await dropBenchSchema(schema);
