// The server time of a passkey sign-in beside a password sign-in: medians of 50, measured inside
// the server (from the request's arrival to the end of its response), so the client's work (the
// authenticator's signature, here the Node one the tests use) is not counted. A passkey sign-in is
// two requests: the options (a challenge stored) and the assertion (challenge used up, signature
// and counter checked, a login started). The password sign-in is bcrypt at the default cost 12 in
// the worker pool. `npx tsx bench/passkey-login.ts`; PostgreSQL with BENCH_DSN. Not part of `npm test`.
import { randomBytes } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { AuthManager, DEFAULT_BCRYPT_ROUNDS } from 'express-authlib';
import { SoftAuthenticator } from '../test/helpers/soft-authenticator.js';
import { dropBenchSchema } from './drop-schema.js';
import { describeMachine } from './results.js';

const RUNS = 50;
const ORIGIN = 'https://app.example.com';
const WEBAUTHN = { rpId: 'example.com', rpName: 'Bench', origins: [ORIGIN] };
const schema = `bench_${randomBytes(4).toString('hex')}`;
const app = express();
/** Server time of the last request, ms. */
let serverMs = 0;
app.use((_req, res, next) => {
  const start = process.hrtime.bigint();
  res.on('finish', () => {
    serverMs = Number(process.hrtime.bigint() - start) / 1e6;
  });
  next();
});
const auth = new AuthManager(app, {
  dbDsn: process.env.BENCH_DSN ?? 'pglite://memory',
  dbSchema: schema,
  jwtSecret: randomBytes(48),
  rateLimit: false,
  logger: false,
  webauthn: WEBAUTHN,
});
await auth.ready;
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const http = request(server);
const BASE = '/api/v1/users';

const password = 'benchmark password 123';
const user = await auth.users.create({ username: 'bench', email: 'bench@example.com', password, email_verified: true });
const authenticator = new SoftAuthenticator();
{
  const { token } = await auth.issueTokens(user.id);
  const options = await http.post(`${BASE}/passkeys/register/options`).set('Authorization', `Bearer ${token}`).send({}).expect(200);
  const response = authenticator.create(options.body.options, { origin: ORIGIN });
  await http.post(`${BASE}/passkeys/register`).set('Authorization', `Bearer ${token}`).send({ challenge_id: options.body.challenge_id, response }).expect(201);
}

/** Runs one request and answers its server time. */
async function serverTime(req: () => Promise<unknown>): Promise<number> {
  await req();
  // 'finish' fires before the client has read the whole response: it has, by now.
  return serverMs;
}

async function passkeySignIn(username?: string): Promise<{ options: number; assertion: number }> {
  let body: { challenge_id: string; options: Parameters<SoftAuthenticator['get']>[0] } | undefined;
  const options = await serverTime(async () => {
    body = (
      await http
        .post(`${BASE}/login/passkey/options`)
        .send(username ? { username } : {})
        .expect(200)
    ).body;
  });
  const response = authenticator.get(body!.options, { origin: ORIGIN });
  const assertion = await serverTime(() => http.post(`${BASE}/login/passkey`).send({ challenge_id: body!.challenge_id, response }).expect(200));
  return { options, assertion };
}
const passwordSignIn = () => serverTime(() => http.post(`${BASE}/login`).send({ username: 'bench', password }).expect(200));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// Warm-up: the WebAuthn library's first load, the password workers, the dummy hash.
for (let i = 0; i < 5; i++) {
  await passkeySignIn();
  await passwordSignIn();
}
const discoverable = { options: [] as number[], assertion: [] as number[], total: [] as number[] };
const named = { options: [] as number[], assertion: [] as number[], total: [] as number[] };
const passwordMs: number[] = [];
for (let i = 0; i < RUNS; i++) {
  for (const [into, name] of [
    [discoverable, undefined],
    [named, 'bench'],
  ] as const) {
    const { options, assertion } = await passkeySignIn(name);
    into.options.push(options);
    into.assertion.push(assertion);
    into.total.push(options + assertion);
  }
  passwordMs.push(await passwordSignIn());
}

const ms = (x: number) => `${x.toFixed(1)} ms`;
console.log(`\nserver time of a sign-in, median of ${RUNS}; ${process.env.BENCH_DSN ? 'PostgreSQL' : 'PGlite'}; ${describeMachine()}`);
console.log(
  `passkey, no username:   ${ms(median(discoverable.total))}  (options ${ms(median(discoverable.options))}, assertion ${ms(median(discoverable.assertion))})`,
);
console.log(`passkey, with username: ${ms(median(named.total))}  (options ${ms(median(named.options))}, assertion ${ms(median(named.assertion))})`);
console.log(`password (bcrypt ${DEFAULT_BCRYPT_ROUNDS}):    ${ms(median(passwordMs))}`);

server.close();
await auth.close();
await dropBenchSchema(schema);
