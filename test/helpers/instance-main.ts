/**
 * One instance of an app using express-authlib, run as its own process by instance-process.ts
 * (`node --import tsx test/helpers/instance-main.ts`). Its configuration comes as JSON in
 * AUTHLIB_INSTANCE_CONFIG; once listening it prints one JSON line `{"port": N}` on stdout.
 *
 * Routes: the library router at /api/v1/users, GET /me (requireAuth), and a test-only admin hook
 * POST /__test/set-active {user_id, active} that calls auth.users.setActive (bound to 127.0.0.1).
 */
import express from 'express';
import { AuthManager, type AuthManagerOptions } from '../../src/index.js';

interface InstanceConfig {
  dbDsn: string;
  dbSchema: string;
  jwtSecret: string;
  rateLimit?: AuthManagerOptions['rateLimit'];
  bcryptRounds?: number;
}

const config = JSON.parse(process.env.AUTHLIB_INSTANCE_CONFIG ?? '{}') as InstanceConfig;

const app = express();
const auth = new AuthManager(app, {
  dbDsn: config.dbDsn,
  dbSchema: config.dbSchema,
  jwtSecret: config.jwtSecret,
  bcryptRounds: config.bcryptRounds ?? 4,
  rateLimit: config.rateLimit ?? false,
});

try {
  await auth.ready;
} catch (err) {
  console.log(JSON.stringify({ error: (err as Error).message, code: (err as { code?: unknown }).code }));
  await auth.close().catch(() => undefined);
  process.exit(1);
}

app.get('/me', auth.requireAuth(), (req, res) => {
  res.json({ username: req.auth!.user.username, method: req.auth!.method, pid: process.pid });
});
app.post('/__test/set-active', express.json(), async (req, res) => {
  try {
    await auth.users.setActive(String(req.body.user_id), Boolean(req.body.active));
    res.json({ ok: true });
  } catch (err) {
    res.status(500).json({ error: (err as Error).message });
  }
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(JSON.stringify({ port, pid: process.pid }));
});

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections?.();
  server.close();
  await auth.close().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// The parent went away (its end of stdin closed): do not outlive it.
process.stdin.on('end', () => void stop());
process.stdin.on('error', () => void stop());
process.stdin.resume();
