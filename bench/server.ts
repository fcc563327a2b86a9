// One benchmark target per process, so the load generator (the parent) has a core of its own.
// Usage: tsx bench/server.ts <variant>; prints one JSON line {port, token, apiToken} when listening.
import { randomBytes } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import { expressjwt } from 'express-jwt';
import jwt from 'jsonwebtoken';
import { AuthManager } from 'express-authlib';
import { dropBenchSchema } from './drop-schema.js';

const variant = process.argv[2] ?? 'bare';
const secret = randomBytes(48).toString('base64url');
const schema = `bench_${randomBytes(4).toString('hex')}`;
const app = express();

let guard: RequestHandler = (_req, _res, next) => next();
let token = '';
let apiToken = '';
let auth: AuthManager | undefined;

// The host app's own work: a route that awaits a few promises, as one that calls a database does.
// Compared with and without the library mounted (but not guarding it), it shows what the library
// costs routes it does not guard.
const asyncHost = variant.endsWith('-async');
const mounted = variant.startsWith('mounted');

if (!variant.startsWith('bare')) {
  auth = new AuthManager(mounted ? app : null, {
    dbDsn: process.env.BENCH_DSN ?? 'pglite://memory',
    dbSchema: schema,
    jwtSecret: secret,
    rateLimit: false,
    bcryptRounds: 4,
  });
  await auth.ready;
  const user = await auth.users.create({ username: 'bench', email: 'bench@example.com', password: 'benchmark-password' });
  token = (await auth.issueTokens(user.id)).token;
  apiToken = (await auth.apiTokens.create(user.id, { name: 'bench' })).token;
}

switch (variant) {
  case 'bare':
  case 'bare-async':
  case 'mounted-async':
    break;
  case 'requireAuth-jwt':
  case 'requireAuth-api-token':
    guard = auth!.requireAuth() as RequestHandler;
    break;
  case 'express-jwt':
    // The common peer: signature + claims only, no revocation check, no user lookup.
    guard = expressjwt({ secret, algorithms: ['HS256'], issuer: 'express-authlib', audience: 'express-authlib' });
    break;
  case 'jsonwebtoken-string-secret':
    // Hand-written glue as often seen: jwt.verify with the secret as a string on every request.
    guard = (req, res, next) => {
      try {
        jwt.verify((req.headers.authorization ?? '').slice(7), secret, { algorithms: ['HS256'] });
        next();
      } catch {
        res.status(401).end();
      }
    };
    break;
  default:
    throw new Error(`unknown variant ${variant}`);
}

async function hostWork(): Promise<number> {
  let sum = 0;
  for (let i = 0; i < 20; i++) sum += await Promise.resolve(i);
  return sum;
}

app.get('/hello', guard, async (_req, res) => {
  if (asyncHost) await hostWork();
  res.json({ hello: 'world' });
});

const server = app.listen(0, '127.0.0.1', async () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  // One request through the library's own endpoints first, as any running app has served.
  if (mounted) await fetch(`http://127.0.0.1:${port}/api/v1/users/auth-methods`);
  console.log(JSON.stringify({ port, token, apiToken }));
});

process.on('SIGTERM', async () => {
  server.close();
  await auth?.close();
  if (auth) await dropBenchSchema(schema);
  process.exit(0);
});
