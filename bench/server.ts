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

if (variant !== 'bare') {
  auth = new AuthManager(null, { dbDsn: process.env.BENCH_DSN ?? 'pglite://memory', dbSchema: schema, jwtSecret: secret, rateLimit: false, bcryptRounds: 4 });
  await auth.ready;
  const user = await auth.users.create({ username: 'bench', email: 'bench@example.com', password: 'benchmark-password' });
  token = (await auth.issueTokens(user.id)).token;
  apiToken = (await auth.apiTokens.create(user.id, { name: 'bench' })).token;
}

switch (variant) {
  case 'bare':
    break;
  case 'requireAuth-jwt':
  case 'requireAuth-api-token':
    guard = auth!.requireAuth() as RequestHandler;
    break;
  case 'express-jwt':
    // The common peer: signature + claims only, no revocation check, no user lookup.
    guard = expressjwt({ secret, algorithms: ['HS256'], issuer: 'express-authlib', audience: 'express-authlib' }) as unknown as RequestHandler;
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

app.get('/hello', guard, (_req, res) => {
  res.json({ hello: 'world' });
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(JSON.stringify({ port, token, apiToken }));
});

process.on('SIGTERM', async () => {
  server.close();
  await auth?.close();
  if (auth) await dropBenchSchema(schema);
  process.exit(0);
});
