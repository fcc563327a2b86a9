// The login-storm target: the library mounted with its defaults (bcrypt cost 12, a worker per core),
// one user, and a cheap route whose latency the storm is judged by.
// Usage: tsx bench/login-server.ts [pglite|postgres]; prints {port} when listening.
import { randomBytes } from 'node:crypto';
import express from 'express';
import { AuthManager } from 'express-authlib';
import { dropBenchSchema } from './drop-schema.js';

const database = process.argv[2] ?? 'pglite';
const schema = `bench_${randomBytes(4).toString('hex')}`;
const app = express();
const auth = new AuthManager(app, {
  dbDsn: database === 'postgres' ? process.env.BENCH_DSN! : 'pglite://memory',
  dbSchema: schema,
  jwtSecret: randomBytes(48),
  rateLimit: false,
});
await auth.ready;
await auth.users.create({ username: 'bench', email: 'bench@example.com', password: process.env.BENCH_PASSWORD! });
app.get('/ping', (_req, res) => {
  res.json({ ok: true });
});
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }));
});
process.on('SIGTERM', async () => {
  server.close();
  await auth.close();
  if (database === 'postgres') await dropBenchSchema(schema);
  process.exit(0);
});
