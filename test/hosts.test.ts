import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import connect from 'connect';
import type express from 'express';
// express4 is an npm alias of express@4 without type declarations of its own; Express 5's types
// describe everything used here.
// @ts-expect-error -- no declaration file for the alias
import express4Untyped from 'express4';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager, type AuthContext, type AuthManagerOptions } from '../src/index.js';
import { PASSWORD } from './helpers/app.js';
import { databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';

const express4 = express4Untyped as unknown as typeof express;

const SECRET = randomBytes(48).toString('base64url');
let n = 0;

async function options(schema: string): Promise<AuthManagerOptions> {
  return { ...(await databaseOptions()), dbSchema: schema, jwtSecret: SECRET, bcryptRounds: 4, rateLimit: false };
}

function newUser() {
  n += 1;
  const username = `host${n}_${randomBytes(3).toString('hex')}`;
  return { username, password: PASSWORD, email: `${username}@example.com` };
}

/** The one error body: exactly error, code and status_code. */
function expectErrorBody(res: request.Response, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({ error: expect.any(String), code, status_code: status });
}

describe('Express 4', () => {
  let auth: AuthManager;
  let schema: string;
  let app: express.Express;

  beforeAll(async () => {
    schema = uniqueSchema('e4');
    app = express4();
    expect(express4.json).toBeTypeOf('function');
    auth = new AuthManager(app, await options(schema));
    await auth.ready;
    app.get('/protected', auth.requireAuth(), (req, res) => {
      res.json({ username: (req as unknown as { auth: AuthContext }).auth.user.username });
    });
    app.get('/admin', auth.requireAuth({ roles: ['admin'] }), (_req, res) => {
      res.json({ admin: true });
    });
    // Deliberately no error handler.
  });
  afterAll(async () => {
    await auth?.close();
    await dropSchema(schema);
  });

  it('is really Express 4', async () => {
    const { createRequire } = await import('node:module');
    const version = createRequire(import.meta.url)('express4/package.json').version as string;
    expect(version.startsWith('4.')).toBe(true);
  });

  it('registers, logs in and reaches a protected route', async () => {
    const http = request(app);
    const u = newUser();
    const reg = await http.post('/api/v1/users/register').send(u);
    expect(reg.status).toBe(201);
    expect(reg.body.user.username).toBe(u.username);
    const login = await http.post('/api/v1/users/login').send({ username: u.username, password: u.password });
    expect(login.status).toBe(200);
    const prot = await http.get('/protected').set('Authorization', `Bearer ${login.body.token}`);
    expect(prot.status).toBe(200);
    expect(prot.body.username).toBe(u.username);
    const profile = await http.get('/api/v1/users/login/profile').set('Authorization', `Bearer ${login.body.token}`);
    expect(profile.status).toBe(200);
    expect(profile.body.user.username).toBe(u.username);
  });

  it('requireAuth rejections are JSON error bodies although the app has no error handler', async () => {
    const http = request(app);
    const none = await http.get('/protected');
    expectErrorBody(none, 401, 'unauthorized');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expectErrorBody(await http.get('/protected').set('Authorization', 'Bearer not.a.jwt'), 401, 'invalid_token');

    const u = newUser();
    const reg = await http.post('/api/v1/users/register').send(u);
    expectErrorBody(await http.get('/admin').set('Authorization', `Bearer ${reg.body.token}`), 403, 'forbidden');
  });

  it('router errors are JSON error bodies too', async () => {
    const http = request(app);
    expectErrorBody(await http.post('/api/v1/users/login').send({ username: 'nobody_here', password: 'wrong password' }), 401, 'invalid_credentials');
    const bad = await http.post('/api/v1/users/login').set('Content-Type', 'application/json').send('{not json');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('validation_error');
    const text = await http.post('/api/v1/users/login').set('Content-Type', 'text/plain').send('hello');
    expectErrorBody(text, 415, 'unsupported_media_type');
  });

  it('works when the host app already parsed the body with express.json()', async () => {
    const parsed = express4();
    parsed.use(express4.json());
    parsed.use('/api/v1/users', auth.router);
    const http = request(parsed);
    const u = newUser();
    const reg = await http.post('/api/v1/users/register').send(u);
    expect(reg.status).toBe(201);
    const login = await http.post('/api/v1/users/login').send({ username: u.email, password: u.password });
    expect(login.status).toBe(200);
    expect(login.body.user.username).toBe(u.username);
  });
});

describe('Connect', () => {
  let auth: AuthManager;
  let schema: string;
  let app: connect.Server;

  beforeAll(async () => {
    schema = uniqueSchema('cn');
    app = connect();
    auth = new AuthManager(null, await options(schema));
    await auth.ready;
    app.use('/api/v1/users', auth.router);
    app.use('/protected', auth.requireAuth());
    app.use('/protected', (req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(`hello ${(req as IncomingMessage & { auth: AuthContext }).auth.user.username}`);
    });
  });
  afterAll(async () => {
    await auth?.close();
    await dropSchema(schema);
  });

  it('registers and logs in through the mounted router', async () => {
    const http = request(app);
    const u = newUser();
    const reg = await http.post('/api/v1/users/register').send(u);
    expect(reg.status).toBe(201);
    expect(reg.body.user.username).toBe(u.username);
    expect(reg.body.token).toEqual(expect.any(String));
    const login = await http.post('/api/v1/users/login').send({ username: u.username, password: u.password });
    expect(login.status).toBe(200);
    expect(login.body.user.id).toBe(reg.body.user.id);
    const roles = await http.get('/api/v1/users/roles');
    expect(roles.status).toBe(200);
    expect(roles.body).toEqual(expect.arrayContaining(['admin', 'user']));
  });

  it('requireAuth lets a valid caller through to a plain res.end handler and rejects others with JSON', async () => {
    const http = request(app);
    const u = newUser();
    const reg = await http.post('/api/v1/users/register').send(u);
    expect(reg.status).toBe(201);
    const ok = await http.get('/protected').set('Authorization', `Bearer ${reg.body.token}`);
    expect(ok.status).toBe(200);
    expect(ok.text).toBe(`hello ${u.username}`);

    const tok = await http.post('/api/v1/users/me/api-tokens').set('Authorization', `Bearer ${reg.body.token}`).send({ name: 'cn' });
    expect(tok.status).toBe(201);
    const viaApi = await http.get('/protected').set('X-API-Token', tok.body.token);
    expect(viaApi.status).toBe(200);
    expect(viaApi.text).toBe(`hello ${u.username}`);

    expectErrorBody(await http.get('/protected'), 401, 'unauthorized');
    expectErrorBody(await http.get('/protected').set('Authorization', 'Bearer garbage'), 401, 'invalid_token');
  });
});

interface NodeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** Milliseconds from the child printing CLOSED_MARK (after `await auth.close()`) to its exit; undefined when it never printed it. */
  exitAfterCloseMs: number | undefined;
}

const CLOSED_MARK = 'AUTHLIB_CLOSED';

/** Runs node with `args` (killing it after `timeoutMs`). Never rejects. */
function runNode(args: string[], timeoutMs: number): Promise<NodeRun> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, args, { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let closedAt: number | undefined;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (closedAt === undefined && stdout.includes(CLOSED_MARK)) closedAt = Date.now();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}\nspawn failed: ${err.message}`, ms: Date.now() - started, exitAfterCloseMs: undefined });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const now = Date.now();
      resolve({ code, signal, stdout, stderr, ms: now - started, exitAfterCloseMs: closedAt === undefined ? undefined : now - closedAt });
    });
  });
}

const distDir = join(process.cwd(), 'dist');
// Starting PGlite in a child takes seconds, many more on a busy machine; what must be quick is the
// exit once close() has returned.
const SPAWN_TIMEOUT_MS = 90_000;
const EXIT_AFTER_CLOSE_MS = 10_000;

// The body shared by both builds: start on in-memory PGlite, create a user (bcrypt workers
// included), close, and then let the event loop drain: no process.exit on success.
const body = `
  const auth = new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: ${JSON.stringify(SECRET)}, bcryptRounds: 4 });
  await auth.ready;
  const user = await auth.users.create({ username: 'built_user', email: 'built@example.com', password: 'correct horse battery staple' });
  console.log(JSON.stringify({ id: user.id, username: user.username, roles: user.roles }));
  await auth.close();
  console.log('${CLOSED_MARK}');
`;

// Each child starts its own in-memory PGlite (seconds of CPU), so the children start with the file
// (a file-level hook runs before every describe's hooks) and run while the in-process tests do;
// the tests at the end await them.
let cjs: ReturnType<typeof runNode>;
let esm: ReturnType<typeof runNode>;
let esmEval: ReturnType<typeof runNode>;
let tmp: string;

beforeAll(() => {
  const cjsFile = join(distDir, 'index.cjs');
  const esmFile = join(distDir, 'index.js');
  // Without a build the tests below fail on their own existsSync check; the others still run.
  if (!existsSync(cjsFile) || !existsSync(esmFile)) return;
  cjs = runNode(
    [
      '-e',
      `const { AuthManager } = require(${JSON.stringify(cjsFile)});\n(async () => { ${body} })().catch((err) => { console.error(err); process.exit(1); });`,
    ],
    SPAWN_TIMEOUT_MS,
  );
  // An ordinary ES module file importing the ESM build.
  tmp = mkdtempSync(join(tmpdir(), 'authlib-esm-'));
  const script = join(tmp, 'main.mjs');
  writeFileSync(
    script,
    `import { AuthManager } from ${JSON.stringify(pathToFileURL(esmFile).href)};\ntry { ${body} } catch (err) { console.error(err); process.exit(1); }\n`,
  );
  // One in-memory PGlite child at a time: each needs hundreds of MB and seconds of CPU.
  esm = cjs.then(() => runNode([script], SPAWN_TIMEOUT_MS));
  // ESM given with --input-type=module -e. No PGlite here: the database is unreachable, so
  // users.create hashes the password (the bcrypt worker) and then answers 503.
  esmEval = runNode(
    [
      '--input-type=module',
      '-e',
      `import { AuthManager } from ${JSON.stringify(pathToFileURL(esmFile).href)};
       const auth = new AuthManager(null, { dbDsn: 'postgresql://postgres@127.0.0.1:1/postgres', jwtSecret: 'x'.repeat(40), bcryptRounds: 4 });
       let outcome;
       try { await auth.users.create({ username: 'eval_user', email: 'eval@example.com', password: 'correct horse battery staple' }); outcome = { resolved: true }; }
       catch (err) { outcome = { name: err.name, code: err.code, message: err.message }; }
       console.log(JSON.stringify(outcome));
       await auth.close();
       console.log('${CLOSED_MARK}');`,
    ],
    SPAWN_TIMEOUT_MS,
  );
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the built package', () => {
  /** The JSON line the child printed before closing. */
  function result(r: NodeRun): Record<string, unknown> {
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    expect(line, `no result printed; stderr: ${r.stderr}`).toBeDefined();
    return JSON.parse(line!) as Record<string, unknown>;
  }

  /** Exited by itself, with status 0, soon after close() returned. */
  function exitedByItself(r: NodeRun): void {
    expect(r.signal, `killed after ${r.ms} ms; stdout: ${r.stdout}; stderr: ${r.stderr}`).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    expect(r.exitAfterCloseMs, `close() did not complete; stderr: ${r.stderr}`).toBeDefined();
    expect(r.exitAfterCloseMs!).toBeLessThan(EXIT_AFTER_CLOSE_MS);
  }

  const built = () =>
    expect(existsSync(join(distDir, 'index.cjs')) && existsSync(join(distDir, 'index.js')), `${distDir} is missing: run \`npm run build\` first`).toBe(true);

  it(
    'CommonJS build: require(dist/index.cjs) works and the process exits by itself after close()',
    async () => {
      built();
      const r = await cjs;
      const out = result(r);
      expect(out.username).toBe('built_user');
      expect(out.roles).toEqual(['user']);
      expect(out.id).toMatch(/^[0-9a-f-]{36}$/);
      exitedByItself(r);
    },
    SPAWN_TIMEOUT_MS * 2,
  );

  it(
    'ESM build: import of dist/index.js works and the process exits by itself after close()',
    async () => {
      built();
      const r = await esm;
      const out = result(r);
      expect(out.username).toBe('built_user');
      expect(out.roles).toEqual(['user']);
      exitedByItself(r);
    },
    SPAWN_TIMEOUT_MS * 2,
  );

  it(
    'ESM build under `node --input-type=module -e`: password hashing works (the bcrypt worker starts)',
    async () => {
      built();
      const r = await esmEval;
      const out = result(r);
      // Hashing succeeded, then the unreachable database answered: a 503 AuthError, not a worker crash.
      expect(out).toMatchObject({ code: 'service_unavailable' });
      exitedByItself(r);
    },
    SPAWN_TIMEOUT_MS * 2,
  );
});
