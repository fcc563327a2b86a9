// An instance started on a schema the scale benchmark seeded: reports how long `ready` took and its
// memory, then makes the users and API tokens the measurements need and serves them.
// Usage: tsx bench/scale-instance.ts <schema> <users-to-sample>; prints one JSON line.
import express from 'express';
import { AuthManager } from 'express-authlib';

const [schema, sampleArg] = process.argv.slice(2) as [string, string];
const sample = Number(sampleArg);
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const app = express();
const auth = new AuthManager(app, { dbDsn: process.env.BENCH_DSN!, dbSchema: schema, jwtSecret: process.env.BENCH_SECRET!, rateLimit: false, bcryptRounds: 4 });
await auth.ready;
const readyMs = performance.now() - t0;
const rssReady = process.memoryUsage().rss;
app.get('/hello', auth.requireAuth(), (_req, res) => {
  res.json({ ok: true });
});

// API tokens of `sample` seeded users: each is checked once, so every check misses the cache.
const users = (await auth.users.list({ limit: 100, offset: 0 })).users;
const apiTokens: string[] = [];
for (let i = 0; i < sample; i++) apiTokens.push((await auth.apiTokens.create(users[i % users.length]!.id, { name: `scale ${i}` })).token);

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(JSON.stringify({ port, readyMs, rssBefore, rssReady, apiTokens }));
});
process.on('message', (msg) => {
  if (msg === 'rss') process.send?.({ rss: process.memoryUsage().rss });
});
process.on('SIGTERM', async () => {
  server.close();
  await auth.close();
  process.exit(0);
});
