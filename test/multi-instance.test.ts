import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD } from './helpers/app.js';
import { dropSchema, TEST_DSN, uniqueSchema } from './helpers/database.js';
import { startInstance, type InstanceConfig, type InstanceProcess } from './helpers/instance-process.js';

// Three processes of one deployment (same DSN, schema and secret) on one PostgreSQL schema:
// a revocation made on one must reach the others at once (LISTEN/NOTIFY), and rate-limit
// counters are shared, so spreading requests over instances does not multiply the limit.
// PostgreSQL only: PGlite is in-process and cannot be shared by processes.

const BASE = '/api/v1/users';
const LOGIN_LIMIT = 6;
/** Contract section 4: revocation reaches every instance "without waiting"; we allow 1 s. */
const MAX_REVOCATION_MS = 1000;

interface Res {
  status: number;
  body: any;
  headers: Headers;
}

async function call(inst: InstanceProcess, method: 'GET' | 'POST' | 'DELETE', path: string, opts: { body?: unknown; token?: string } = {}): Promise<Res> {
  const headers: Record<string, string> = {};
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(inst.url + path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

const outcome = (r: Res) => ({ status: r.status, code: r.body?.code });

/** Three instances of one deployment on a fresh schema, started together; stopped and dropped by `close`. */
async function startTrio(rateLimit: InstanceConfig['rateLimit']) {
  const schema = uniqueSchema('mi');
  const jwtSecret = randomBytes(48).toString('base64url');
  const config: InstanceConfig = { dbDsn: TEST_DSN!, dbSchema: schema, jwtSecret, rateLimit };
  // Started together, as a deployment rolls out: migrations must be safe under concurrent starts.
  const started = await Promise.allSettled([startInstance('A', config), startInstance('B', config), startInstance('C', config)]);
  const running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const close = async () => {
    await Promise.all(running.map((i) => i.stop()));
    for (const i of running) expect(i.exited(), `${i.name} still running`).toBe(true);
    await dropSchema(schema);
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  expect(new Set(running.map((i) => i.pid)).size).toBe(3);
  return { instances: running as [InstanceProcess, InstanceProcess, InstanceProcess], close };
}

let counter = 0;
async function register(on: InstanceProcess) {
  counter += 1;
  const username = `mi${counter}_${randomBytes(3).toString('hex')}`;
  const res = await call(on, 'POST', `${BASE}/register`, { body: { username, password: PASSWORD, email: `${username}@example.com` } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { username, id: res.body.user.id as string, token: res.body.token as string, refresh_token: res.body.refresh_token as string };
}

describe.skipIf(!TEST_DSN)('three AuthManager processes on one PostgreSQL schema: revocation', () => {
  let A: InstanceProcess;
  let B: InstanceProcess;
  let C: InstanceProcess;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    // The default rate limits (counters in the database), as a deployment runs.
    const trio = await startTrio({});
    close = trio.close;
    [A, B, C] = trio.instances;
  });
  afterAll(() => close?.());

  async function login(on: InstanceProcess, username: string) {
    const res = await call(on, 'POST', `${BASE}/login`, { body: { username, password: PASSWORD } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { token: res.body.token as string, refresh_token: res.body.refresh_token as string };
  }
  const me = (on: InstanceProcess, token: string) => call(on, 'GET', '/me', { token });

  /**
   * Polls `on`'s /me with `token` from `since` until it answers 401, for at most `maxMs`.
   * Returns ms from `since` to the first 401 (or undefined), and every status seen.
   */
  async function pollUntilRejected(on: InstanceProcess, token: string, since: number, maxMs = 3000) {
    const seen: Array<{ status: number; code: unknown }> = [];
    while (Date.now() - since < maxMs) {
      const res = await me(on, token);
      seen.push(outcome(res));
      if (res.status === 401) return { latency: Date.now() - since, last: outcome(res), seen };
    }
    return { latency: undefined, last: seen.at(-1), seen };
  }

  /** Asserts that A rejects `token` within a second of `since`, and only ever answered 200 before. */
  function expectRejectedInTime(what: string, result: Awaited<ReturnType<typeof pollUntilRejected>>) {
    console.log(`revocation latency: ${result.latency ?? 'never (>3000)'} ms (${what}, A after C; ${result.seen.length} polls)`);
    expect(result.last).toEqual({ status: 401, code: 'invalid_token' });
    // Before the 401 the token was still accepted: nothing else (no 5xx) in between.
    for (const s of result.seen.slice(0, -1)) expect(s.status).toBe(200);
    expect(result.latency).toBeDefined();
    expect(result.latency!).toBeLessThan(MAX_REVOCATION_MS);
  }

  it('a login on A refreshes on B; logout-all on C rejects the access tokens on A within 1 s', async () => {
    const u = await register(A);
    const bystander = await register(A);
    const a = await login(A, u.username);

    const refreshed = await call(B, 'POST', `${BASE}/token-refresh`, { body: { refresh_token: a.refresh_token } });
    expect(refreshed.status).toBe(200);
    expect(typeof refreshed.body.token).toBe('string');
    expect(refreshed.body.refresh_token).not.toBe(a.refresh_token);

    // A has the user cached (as a busy instance would) and accepts both access tokens.
    expect((await me(A, a.token)).status).toBe(200);
    expect((await me(A, refreshed.body.token)).status).toBe(200);
    expect((await me(A, bystander.token)).status).toBe(200);

    const out = await call(C, 'POST', `${BASE}/logout-all`, { token: refreshed.body.token });
    const revokedAt = Date.now();
    expect(out.status).toBe(200);

    expectRejectedInTime('logout-all', await pollUntilRejected(A, a.token, revokedAt));
    expect(outcome(await me(A, refreshed.body.token))).toEqual({ status: 401, code: 'invalid_token' });
    expect(outcome(await me(B, a.token))).toEqual({ status: 401, code: 'invalid_token' });
    expect(outcome(await me(A, u.token))).toEqual({ status: 401, code: 'invalid_token' });
    // Only that user: someone else's token on A is untouched.
    expect((await me(A, bystander.token)).status).toBe(200);
    // The refresh tokens are revoked too, whichever instance they are presented to.
    expect((await call(A, 'POST', `${BASE}/token-refresh`, { body: { refresh_token: refreshed.body.refresh_token } })).status).toBe(401);
    expect((await call(C, 'POST', `${BASE}/token-refresh`, { body: { refresh_token: a.refresh_token } })).status).toBe(401);
  });

  it('POST /logout with a refresh token on C rejects that login on A within 1 s, and only that login', async () => {
    const u = await register(A);
    const a = await login(A, u.username);
    const other = await login(B, u.username);
    expect((await me(A, a.token)).status).toBe(200);
    expect((await me(A, other.token)).status).toBe(200);

    const out = await call(C, 'POST', `${BASE}/logout`, { body: { refresh_token: a.refresh_token } });
    const revokedAt = Date.now();
    expect(out.status).toBe(200);

    expectRejectedInTime('logout', await pollUntilRejected(A, a.token, revokedAt));
    expect((await me(A, other.token)).status).toBe(200);
    expect((await call(B, 'POST', `${BASE}/token-refresh`, { body: { refresh_token: a.refresh_token } })).status).toBe(401);
  });

  it('DELETE /me/sessions/{id} on C (ending a login from another device) rejects that login on A within 1 s, and only that login', async () => {
    const u = await register(A);
    const lost = await login(A, u.username);
    const kept = await login(B, u.username);
    expect((await me(A, lost.token)).status).toBe(200);
    const sid = JSON.parse(Buffer.from(lost.token.split('.')[1]!, 'base64url').toString()).sid as string;
    const listed = await call(C, 'GET', `${BASE}/me/sessions`, { token: kept.token });
    expect((listed.body as Array<{ id: string }>).map((s) => s.id)).toContain(sid);

    const out = await call(C, 'DELETE', `${BASE}/me/sessions/${sid}`, { token: kept.token });
    const revokedAt = Date.now();
    expect(out.status).toBe(200);

    expectRejectedInTime('session ended', await pollUntilRejected(A, lost.token, revokedAt));
    expect((await me(A, kept.token)).status).toBe(200);
    expect((await call(B, 'POST', `${BASE}/token-refresh`, { body: { refresh_token: lost.refresh_token } })).status).toBe(401);
  });

  it('auth.users.setActive(id, false) on C rejects the user on A within 1 s', async () => {
    const u = await register(B);
    const a = await login(A, u.username);
    expect((await me(A, a.token)).status).toBe(200);
    expect((await me(A, u.token)).status).toBe(200);

    const out = await call(C, 'POST', '/__test/set-active', { body: { user_id: u.id, active: false } });
    const revokedAt = Date.now();
    expect(out.status).toBe(200);

    expectRejectedInTime('setActive(false)', await pollUntilRejected(A, a.token, revokedAt));
    expect(outcome(await me(A, u.token))).toEqual({ status: 401, code: 'invalid_token' });
    const denied = await call(B, 'POST', `${BASE}/login`, { body: { username: u.username, password: PASSWORD } });
    expect(outcome(denied)).toEqual({ status: 403, code: 'account_disabled' });
  });
});

describe.skipIf(!TEST_DSN)('three AuthManager processes on one PostgreSQL schema: shared rate limit', () => {
  let A: InstanceProcess;
  let B: InstanceProcess;
  let C: InstanceProcess;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const trio = await startTrio({ login: { limit: LOGIN_LIMIT, windowSeconds: 60 } });
    close = trio.close;
    [A, B, C] = trio.instances;
  });
  afterAll(() => close?.());

  it(`the login limit (${LOGIN_LIMIT} failures / 60 s) is shared: failures spread over A, B, C hit 429 on the ${LOGIN_LIMIT + 1}th`, async () => {
    const real = await register(C);
    const order = [A, B, C];
    const results: Array<{ instance: string; status: number; code: unknown }> = [];
    for (let i = 0; i < LOGIN_LIMIT + 1; i += 1) {
      const inst = order[i % 3]!;
      // A distinct unknown account each time, so the per-account throttle never applies: only the limiter.
      const res = await call(inst, 'POST', `${BASE}/login`, {
        body: { username: `nobody_${i}_${randomBytes(3).toString('hex')}`, password: 'wrong password' },
      });
      results.push({ instance: inst.name, ...outcome(res) });
      if (i === LOGIN_LIMIT) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    console.log(`rate limit across instances: ${results.map((r) => `${r.instance}:${r.status}`).join(' ')}`);
    expect(results.slice(0, LOGIN_LIMIT).map((r) => r.status)).toEqual(Array(LOGIN_LIMIT).fill(401));
    expect(results.slice(0, LOGIN_LIMIT).every((r) => r.code === 'invalid_credentials')).toBe(true);
    expect(results[LOGIN_LIMIT]).toMatchObject({ status: 429, code: 'rate_limited' });
    // Every instance now refuses logins from this address, even a correct one.
    for (const inst of [B, C]) {
      const res = await call(inst, 'POST', `${BASE}/login`, { body: { username: 'nobody_more', password: 'wrong password' } });
      expect(outcome(res)).toEqual({ status: 429, code: 'rate_limited' });
    }
    const correct = await call(A, 'POST', `${BASE}/login`, { body: { username: real.username, password: PASSWORD } });
    expect(outcome(correct)).toEqual({ status: 429, code: 'rate_limited' });
  });
});
