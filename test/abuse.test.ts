import type { Response } from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { bearer, closedAfterEach, registerUser, type TestApp } from './helpers/app.js';
import { DB_KIND, sharedPGlite } from './helpers/database.js';
import { BASE } from './helpers/endpoints.js';
import { forge } from './helpers/tokens.js';

// Password guessing and token spraying. The per-(account, address) login delays are tested with
// the per-address login limiter set out of the way (limit 1000), on an injected clock.

const WRONG = 'definitely the wrong password';
const ATTACKER = '203.0.113.10';
const ELSEWHERE = '198.51.100.20';

// Start the embedded database before the first test's clock starts.
beforeAll(async () => {
  if (DB_KIND === 'pglite') await sharedPGlite();
});

const { app } = closedAfterEach();

/** A clock the app reads through `now`, moved by the test. */
function clock() {
  const c = { ms: Date.now(), now: () => new Date(c.ms), advance: (seconds: number) => void (c.ms += seconds * 1000) };
  return c;
}

function login(t: TestApp, username: string, password: string, forwardedFor?: string) {
  const req = t.http.post(`${BASE}/login`);
  if (forwardedFor) req.set('X-Forwarded-For', forwardedFor);
  return req.send({ username, password });
}

/** 429 rate_limited with an integer Retry-After in [1, max]; returns it. */
function expectDelayed(res: Response, max = 900): number {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status: 429, code: 'rate_limited' });
  const header = res.headers['retry-after'];
  expect(header).toMatch(/^\d+$/);
  const seconds = Number(header);
  expect(seconds).toBeGreaterThanOrEqual(1);
  expect(seconds).toBeLessThanOrEqual(max);
  return seconds;
}

function expectCode(res: Response, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
}

/** `n` failed logins, each answered 401 invalid_credentials. */
async function fail(t: TestApp, username: string, n: number, forwardedFor?: string): Promise<void> {
  for (let i = 0; i < n; i++) expectCode(await login(t, username, WRONG, forwardedFor), 401, 'invalid_credentials');
}

const LOGIN_LIMIT = { login: { limit: 1000, windowSeconds: 60 } };

describe('per-(account, address) login delays', () => {
  it('after 5 failures the 6th attempt waits (429 + Retry-After) even with the right password; after the delay it works and resets the count', async () => {
    const c = clock();
    const t = await app({ rateLimit: LOGIN_LIMIT, now: c.now });
    const a = await registerUser(t);
    await fail(t, a.username, 5);
    const retry = expectDelayed(await login(t, a.username, a.password));
    expectDelayed(await login(t, a.username, WRONG));

    // Not yet: just short of the delay.
    c.advance(retry - 0.5);
    expectDelayed(await login(t, a.username, a.password));
    c.advance(1);
    const ok = await login(t, a.username, a.password);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await t.http.get('/me').set(bearer(ok.body.token))).status).toBe(200);

    // The success reset the count: again 5 free failures, and only then a delay.
    await fail(t, a.username, 5);
    expectDelayed(await login(t, a.username, a.password));
  });

  it('the delay grows with each further failure and is capped at 900 s', async () => {
    const c = clock();
    const t = await app({ rateLimit: LOGIN_LIMIT, now: c.now });
    const a = await registerUser(t);
    await fail(t, a.username, 5);
    const delays: number[] = [];
    for (let i = 0; i < 13; i++) {
      const retry = expectDelayed(await login(t, a.username, a.password));
      delays.push(retry);
      c.advance(retry + 0.001);
      expectCode(await login(t, a.username, WRONG), 401, 'invalid_credentials');
    }
    // Strictly larger each time until the cap, then the cap.
    const cap = delays.indexOf(900);
    expect(cap, `delays ${delays.join(', ')}`).toBeGreaterThan(0);
    for (let i = 1; i <= cap; i++) expect(delays[i], `delays ${delays.join(', ')}`).toBeGreaterThan(delays[i - 1]!);
    for (const d of delays.slice(cap)) expect(d).toBe(900);
    expect(Math.max(...delays)).toBe(900);
    // Waiting part of a long delay leaves the rest to wait.
    const full = expectDelayed(await login(t, a.username, a.password));
    c.advance(600);
    const rest = expectDelayed(await login(t, a.username, a.password));
    expect(rest).toBeLessThanOrEqual(full - 599);
  });

  it("the real user, from another address, signs in while the attacker's pair is delayed (no lock-out from elsewhere)", async () => {
    const c = clock();
    const t = await app({ rateLimit: LOGIN_LIMIT, trustProxy: true, now: c.now });
    const a = await registerUser(t);
    await fail(t, a.username, 5, ATTACKER);
    expectDelayed(await login(t, a.username, a.password, ATTACKER));

    const real = await login(t, a.username, a.password, ELSEWHERE);
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    // The real user's success does not lift the attacker's delay.
    expectDelayed(await login(t, a.username, a.password, ATTACKER));
    expectDelayed(await login(t, a.username, WRONG, ATTACKER));
    // And the real user's own failures are counted for their own address only.
    await fail(t, a.username, 1, ELSEWHERE);
    expect((await login(t, a.username, a.password, ELSEWHERE)).status).toBe(200);
  });

  it("another account is not delayed by A's failures from the same address", async () => {
    const c = clock();
    const t = await app({ rateLimit: LOGIN_LIMIT, now: c.now });
    const a = await registerUser(t);
    const b = await registerUser(t);
    await fail(t, a.username, 5);
    expectDelayed(await login(t, a.username, a.password));
    expect((await login(t, b.username, b.password)).status).toBe(200);
  });

  it('with trustProxy false, a changed X-Forwarded-For does not escape the delay', async () => {
    const c = clock();
    const t = await app({ rateLimit: LOGIN_LIMIT, trustProxy: false, now: c.now });
    const a = await registerUser(t);
    await fail(t, a.username, 5, ATTACKER);
    expectDelayed(await login(t, a.username, a.password, ELSEWHERE));
    expectDelayed(await login(t, a.username, a.password, '192.0.2.1'));
    expectDelayed(await login(t, a.username, a.password));
  });

  it('the delay is per name as typed: case and spacing do not escape it; the email address is a name with its own budget, so a 429 tells nobody whose address it is', async () => {
    const c = clock();
    const t = await app({ rateLimit: LOGIN_LIMIT, now: c.now });
    const a = await registerUser(t);
    await fail(t, a.username, 5);
    expectDelayed(await login(t, a.username.toUpperCase(), a.password));
    expectDelayed(await login(t, `  ${a.username}  `, a.password));
    expect((await login(t, `${a.username}@EXAMPLE.com`, WRONG)).status).toBe(401);
    await fail(t, `${a.username}@example.com`, 4);
    expectDelayed(await login(t, `${a.username}@example.com`, a.password));
  });
});

// ---------------------------------------------------------------------------------------------

const TOKEN_LIMIT = { token: { limit: 5, windowSeconds: 60 } };

function me(t: TestApp, token?: string, forwardedFor?: string) {
  const req = t.http.get('/me');
  if (token !== undefined) req.set(bearer(token));
  if (forwardedFor) req.set('X-Forwarded-For', forwardedFor);
  return req;
}

/** Bearer values that are not tokens of this app: a random JWT-looking string, a forged JWT, a made-up API token. */
function garbage(i: number): string {
  const kinds = [
    `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIke${i}In0.c2lnbmF0dXJl${i}`,
    forge({ alg: 'HS256', typ: 'at+jwt' }, { sub: '00000000-0000-4000-8000-000000000000', exp: 4_000_000_000 + i }, { key: `not the secret of this app ${i}` }),
    `api_ABCDEFGH${'x'.repeat(32)}${i}`,
  ];
  return kinds[i % kinds.length]!;
}

describe('failed token presentations per address', () => {
  it('after 5 failures the address is refused (429 + Retry-After), even with a valid token; requests without credentials are still 401', async () => {
    const t = await app({ rateLimit: TOKEN_LIMIT });
    const u = await registerUser(t);
    expect((await me(t, u.token)).status).toBe(200);
    for (let i = 0; i < 5; i++) {
      const res = await me(t, garbage(i));
      expect({ status: res.status, code: res.body?.code }, `garbage ${i + 1}`).toEqual({ status: 401, code: 'invalid_token' });
    }
    // Counting is asynchronous: wait for the refusal to take effect.
    await expect.poll(async () => (await me(t, u.token)).status, { timeout: 1500, interval: 100 }).toBe(429);
    expectDelayed(await me(t, u.token), 60);
    expectDelayed(await me(t, garbage(7)), 60);
    expectCode(await me(t), 401, 'unauthorized');
    expect(await t.http.get('/public').then((r) => r.status)).toBe(200);
  });

  it('a refused address does not affect another one (trustProxy + X-Forwarded-For)', async () => {
    const t = await app({ rateLimit: TOKEN_LIMIT, trustProxy: true });
    const u = await registerUser(t);
    for (let i = 0; i < 5; i++) expectCode(await me(t, garbage(i), ATTACKER), 401, 'invalid_token');
    // However the limit is counted, more failures from this address end in a refusal.
    await expect.poll(async () => (await me(t, garbage(9), ATTACKER)).status, { timeout: 1500, interval: 100 }).toBe(429);
    expectDelayed(await me(t, u.token, ATTACKER), 60);
    expectCode(await me(t, undefined, ATTACKER), 401, 'unauthorized');

    const other = await me(t, u.token, ELSEWHERE);
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    expectCode(await me(t, garbage(1), ELSEWHERE), 401, 'invalid_token');
    expect((await me(t, u.token, ELSEWHERE)).status).toBe(200);
  });

  it('the refusal ends with the window', async () => {
    const c = clock();
    const t = await app({ rateLimit: TOKEN_LIMIT, now: c.now });
    const u = await registerUser(t);
    for (let i = 0; i < 6; i++) await me(t, garbage(i));
    await expect.poll(async () => (await me(t, garbage(9))).status, { timeout: 1500, interval: 100 }).toBe(429);
    const retry = expectDelayed(await me(t, u.token), 60);
    c.advance(retry + 1);
    const res = await me(t, u.token);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });
});
