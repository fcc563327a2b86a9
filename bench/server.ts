// One benchmark target per process, so the load generator (the parent) has a core of its own.
// Usage: tsx bench/server.ts <variant> [pglite|postgres]; prints one JSON line {port, token, apiToken}
// when listening. PostgreSQL is BENCH_DSN.
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { GCProfiler, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import express, { type RequestHandler } from 'express';
import { expressjwt } from 'express-jwt';
import { createVerifier } from 'fast-jwt';
import jwt from 'jsonwebtoken';
import passport from 'passport';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import type { AuthManager } from 'express-authlib';
import { dropBenchSchema } from './drop-schema.js';

const variant = process.argv[2] ?? 'bare';
const database = process.argv[3] ?? 'pglite';
const dsn = database === 'postgres' ? process.env.BENCH_DSN : 'pglite://memory';
if (!dsn) throw new Error('BENCH_DSN is needed for postgres');
const secret = randomBytes(48).toString('base64url');
const schema = `bench_${randomBytes(4).toString('hex')}`;
const claims = { issuer: 'express-authlib', audience: 'express-authlib' };
const app = express();

let guard: RequestHandler = (_req, _res, next) => next();
let token = '';
let apiToken = '';
let auth: AuthManager | undefined;

// The host app's own work: a route that awaits a few promises, as one that calls a database does.
// Compared with and without the library mounted (but not guarding it), it shows what the library
// costs routes it does not guard.
const asyncHost = variant.endsWith('-async');
// `mounted`: the library mounted on the app (its endpoints under basePath) while /hello is not guarded.
const mounted = variant.startsWith('mounted');

const library = variant.startsWith('requireAuth') || mounted;
if (library) {
  // Imported only here, so that the bare variants' memory is Express's alone.
  const { AuthManager, generateSigningKey } = await import('express-authlib');
  // requireAuth-jwt-eddsa / -es256: access tokens signed with a signing key instead of jwtSecret.
  const algorithm = variant.endsWith('-eddsa') ? 'EdDSA' : variant.endsWith('-es256') ? 'ES256' : undefined;
  auth = new AuthManager(mounted ? app : null, {
    dbDsn: dsn,
    dbSchema: schema,
    jwtSecret: secret,
    ...(algorithm ? { signingKeys: generateSigningKey(algorithm) } : {}),
    rateLimit: false,
    bcryptRounds: 4,
    permissions: { 'reports:read': ['editor'] },
  });
  await auth.ready;
  const user = await auth.users.create({ username: 'bench', email: 'bench@example.com', password: 'benchmark-password' });
  token = (await auth.issueTokens(user.id)).token;
  apiToken = (await auth.apiTokens.create(user.id, { name: 'bench' })).token;
}

// Variants that check no token, so none is minted for them.
const TOKENLESS = new Set(['bare', 'bare-async', 'noop', 'imported', 'heap']);
if (!library && !TOKENLESS.has(variant)) {
  // The peers verify a token of exactly the shape the library issues, minted here so that their
  // process holds no database (its memory is theirs alone).
  token = jwt.sign({ sub: randomBytes(16).toString('hex'), roles: ['user'], jti: randomBytes(16).toString('base64url'), ver: 0, sid: 'x' }, secret, {
    algorithm: 'HS256',
    header: { alg: 'HS256', typ: 'at+jwt' },
    expiresIn: 3600,
    ...claims,
  });
}

// Controls (see bench/require-auth.ts): the library's code in the heap without an instance, and a
// heap grown by plain objects alone. Both are kept alive for the process's life: `kept` is read by
// the 'heap' message below. A module variable no closure reads is not kept alive once the module
// body has run (V8 collects it), and an earlier version of this control measured an empty heap so.
const kept: unknown[] = [];
if (variant === 'imported') kept.push(await import('express-authlib'));
if (variant === 'heap') {
  // Small objects with a string and a nested object each, about 200 bytes apiece once allocated.
  // bench/require-auth.ts sets the size (its BENCH_HEAP_MB); one place for the default.
  const mb = Number(process.env.BENCH_HEAP_MB);
  if (!(mb > 0)) throw new Error('BENCH_HEAP_MB (MB of plain objects) is needed for the heap variant');
  const count = Math.round((mb * 2 ** 20) / 200);
  for (let i = 0; i < count; i++) kept.push({ id: i, name: `object ${i}`, data: { n: i, list: [i, i + 1] } });
}

switch (variant) {
  case 'bare':
  case 'imported':
  case 'heap':
  case 'bare-async':
  case 'mounted':
  case 'mounted-async':
    break;
  case 'noop':
    // What any guard costs at least: read the header, set req.auth, call next.
    guard = (req, _res, next) => {
      (req as { auth?: unknown }).auth = { token: req.headers.authorization };
      next();
    };
    break;
  case 'requireAuth-jwt':
  case 'requireAuth-jwt-eddsa':
  case 'requireAuth-jwt-es256':
  case 'requireAuth-api-token':
    guard = auth!.requireAuth() as RequestHandler;
    break;
  case 'requireAuth-roles':
    guard = auth!.requireAuth({ roles: ['user'] }) as RequestHandler;
    break;
  case 'requireAuth-group': {
    // A member of a team inside the organization the route names, as examples/orgs guards it.
    const users = await auth!.users.list({ limit: 1 });
    const acme = await auth!.groups.create({ name: 'Acme', slug: 'acme' });
    const team = await auth!.groups.create({ name: 'Acme Web', parent_id: acme.id });
    await auth!.groups.addMember(team.id, { user_id: users.users[0]!.id, roles: ['editor'] });
    guard = auth!.requireAuth({ group: () => 'acme' }) as RequestHandler;
    break;
  }
  case 'requireAuth-permission-group': {
    // A group-scoped permission: granted by the member's role in the team the route names.
    const users = await auth!.users.list({ limit: 1 });
    const acme = await auth!.groups.create({ name: 'Acme', slug: 'acme' });
    const team = await auth!.groups.create({ name: 'Acme Web', slug: 'acme-web', parent_id: acme.id });
    await auth!.groups.addMember(team.id, { user_id: users.users[0]!.id, roles: ['editor'] });
    guard = auth!.requireAuth({ permission: 'reports:read', group: () => 'acme-web' }) as RequestHandler;
    break;
  }
  case 'express-jwt':
    // The common peer: signature + claims only, no revocation check, no user lookup.
    guard = expressjwt({ secret, algorithms: ['HS256'], ...claims });
    break;
  case 'passport-jwt': {
    passport.use(
      new JwtStrategy({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: secret, algorithms: ['HS256'], ...claims }, (payload, done) =>
        done(null, payload),
      ),
    );
    app.use(passport.initialize());
    guard = passport.authenticate('jwt', { session: false }) as RequestHandler;
    break;
  }
  case 'fast-jwt': {
    // fast-jwt with its verified-token cache: the fastest JWT check there is, and still no revocation.
    const verify = createVerifier({ key: secret, algorithms: ['HS256'], allowedIss: claims.issuer, allowedAud: claims.audience, cache: true });
    guard = (req, res, next) => {
      try {
        (req as { auth?: unknown }).auth = verify((req.headers.authorization ?? '').slice(7));
        next();
      } catch {
        res.status(401).end();
      }
    };
    break;
  }
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
  // One request through the library's own endpoints first, as any running app has served. With
  // node:http, which Express has loaded already: fetch() loaded Node's fetch implementation into
  // the mounted variants alone, 2 MB of live heap that the bench counted against the library.
  if (mounted) await new Promise((done) => get(`http://127.0.0.1:${port}/api/v1/users/auth-methods`, (res) => res.resume().on('end', done)));
  console.log(JSON.stringify({ port, token, apiToken, rss: process.memoryUsage().rss }));
});

// The parent asks for the resident set size after the load, when every cache is warm, and may
// profile one measurement (BENCH_PROFILE).
const inspector = new Session();
// A full collection on request, without starting every target with --expose-gc (a flag that could
// change what is measured): the flag is set at run time and the function taken from a new context.
setFlagsFromString('--expose-gc');
const fullCollection = runInNewContext('gc') as () => void;
// The collector's pauses on the main thread, summed (µs), for the GC column: where the time a
// variant costs beyond bare Express goes when its guard's own frames do not explain it.
let gcMicros = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMicros += entry.duration * 1000;
}).observe({ entryTypes: ['gc'] });
// The collector's work counted, not timed, so that a slow moment of the machine moves it far less
// (up to 8% between runs, against times that doubled): per scavenge, the bytes it copied (what
// survived in the young generation plus what it promoted to the old one); per full collection, the
// live heap it marked. Read and restarted with each 'cpu'.
let gcProfiler = new GCProfiler();
gcProfiler.start();
/** What the parent receives with each 'cpu': bytes copied and bytes marked since the last one. */
export type CollectorWork = ReturnType<typeof collectorWork>;
function collectorWork() {
  const { statistics } = gcProfiler.stop();
  gcProfiler = new GCProfiler();
  gcProfiler.start();
  const used = (stats: (typeof statistics)[number]['afterGC'], space: string) =>
    stats.heapSpaceStatistics.find((x) => x.spaceName === space)?.spaceUsedSize ?? 0;
  let copied = 0,
    marked = 0;
  for (const gc of statistics) {
    if (gc.gcType === 'Scavenge') {
      copied += used(gc.afterGC, 'new_space') + Math.max(0, used(gc.afterGC, 'old_space') - used(gc.beforeGC, 'old_space'));
    } else if (gc.gcType === 'MarkSweepCompact') {
      marked += gc.afterGC.heapStatistics.usedHeapSize;
    }
  }
  return { copied, marked };
}
process.on('message', async (msg) => {
  if (msg === 'rss') process.send?.({ rss: process.memoryUsage().rss });
  // The live heap after a full collection: what the collector marks on each of its major cycles,
  // and with it what a route the library does not guard pays (see docs/guide/performance.md).
  if (msg === 'heap') {
    fullCollection();
    process.send?.({ heap: process.memoryUsage().heapUsed, kept: kept.length });
  }
  // The process's own CPU clock (user + system, µs): what a request costs the server, whatever else the machine does.
  if (msg === 'cpu') {
    const used = process.cpuUsage();
    process.send?.({ cpu: used.user + used.system, gc: gcMicros, work: collectorWork() });
  }
  if (msg === 'profile-start') {
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.start');
    process.send?.({ profiling: true });
  }
  if (msg === 'profile-stop') {
    const { profile } = await inspector.post('Profiler.stop');
    inspector.disconnect();
    process.send?.({ profile });
  }
});

process.on('SIGTERM', async () => {
  server.close();
  await auth?.close();
  if (auth && database === 'postgres') await dropBenchSchema(schema);
  process.exit(0);
});
