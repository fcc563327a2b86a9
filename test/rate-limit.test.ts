import { MemoryStore } from 'express-rate-limit';
import express from 'express';
// express4 (an npm alias of express@4) has no type declarations of its own; its API is Express 5's here.
// @ts-expect-error -- no declaration file for the alias
import express4Untyped from 'express4';
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { AuthManager } from '../src/index.js';
import { closedAfterEach, registerUser } from './helpers/app.js';
import { databaseOptions, rawQuery, uniqueSchema } from './helpers/database.js';

const express4 = express4Untyped as unknown as typeof express;
const LOGIN = '/api/v1/users/login';
const REGISTER = '/api/v1/users/register';
const WRONG = 'definitely the wrong password';

/** Everything a test opened, closed after it even when it failed. */
const { app, track } = closedAfterEach();

function expectRateLimited(res: request.Response, windowSeconds: number, limit?: string): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ error: expect.any(String), code: 'rate_limited', status_code: 429 });
  // The message names the limit that refused, so a developer knows which `rateLimit` option to relax.
  if (limit) expect(res.body.error).toContain(`rate limit "${limit}"`);
  const retryAfter = res.headers['retry-after'];
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThan(0);
  expect(Number(retryAfter)).toBeLessThanOrEqual(windowSeconds);
}

function failLogin(http: ReturnType<typeof request>, username: string, forwardedFor?: string) {
  const req = http.post(LOGIN);
  if (forwardedFor) req.set('X-Forwarded-For', forwardedFor);
  return req.send({ username, password: WRONG });
}

let n = 0;
const uniqueName = (p: string) => `${p}${(n += 1)}_${Math.random().toString(36).slice(2, 8)}`;
/** The address limit counts accounts: each failure here is for another account. */
const another = () => uniqueName('acct');

describe('login limit', () => {
  it('failed logins for 3 accounts are answered 401; a 4th account is 429 rate_limited with Retry-After', async () => {
    const t = await app({ rateLimit: { login: { limit: 3, windowSeconds: 60 } } });
    const u = await registerUser(t);
    for (let i = 0; i < 3; i++) {
      const res = await failLogin(t.http, another());
      expect(res.status, `attempt ${i + 1}`).toBe(401);
      expect(res.body.code).toBe('invalid_credentials');
    }
    expectRateLimited(await failLogin(t.http, another()), 60, 'login');
    expect((await failLogin(t.http, another())).body.error).toMatch(
      /^too many failed logins from this address \(rate limit "login": 3 per 60 s\); try again in \d+ s$/,
    );
    // While limited, even the right password is refused: the limit is on the client, not the outcome.
    expectRateLimited(await t.http.post(LOGIN).send({ username: u.username, password: u.password }), 60);
  });

  it('successful logins do not count toward the limit', async () => {
    const t = await app({ rateLimit: { login: { limit: 3, windowSeconds: 60 } } });
    const u = await registerUser(t);
    for (let i = 0; i < 6; i++) {
      const ok = await t.http.post(LOGIN).send({ username: u.username, password: u.password });
      expect(ok.status, `successful login ${i + 1}`).toBe(200);
    }
    for (let i = 0; i < 3; i++) {
      expect((await failLogin(t.http, another())).status, `failed login ${i + 1}`).toBe(401);
    }
    expectRateLimited(await failLogin(t.http, another()), 60);
  });

  it('the window ends: after windowSeconds the client may try again', async () => {
    let clock = new Date('2030-01-01T00:00:00Z').getTime();
    const t = await app({ rateLimit: { login: { limit: 2, windowSeconds: 60 } }, now: () => new Date(clock) });
    expect((await failLogin(t.http, another())).status).toBe(401);
    expect((await failLogin(t.http, another())).status).toBe(401);
    const limited = await failLogin(t.http, another());
    expectRateLimited(limited, 60);
    clock += 30_000;
    const stillLimited = await failLogin(t.http, another());
    expectRateLimited(stillLimited, 30);
    clock += 31_000;
    expect((await failLogin(t.http, another())).status).toBe(401);
  });

  it('concurrent failed logins for many accounts: exactly `limit` of them get through to the password check', async () => {
    const t = await app({ rateLimit: { login: { limit: 3, windowSeconds: 60 } } });
    const results = await Promise.all(Array.from({ length: 8 }, () => failLogin(t.http, another())));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429, 429, 429]);
  });

  it('rateLimit: false turns limiting off', async () => {
    const t = await app({ rateLimit: false });
    for (let i = 0; i < 12; i++) expect((await failLogin(t.http, another())).status).toBe(401);
  });
});

describe('register limit', () => {
  it('2 registrations pass; the 3rd is 429 rate_limited with Retry-After', async () => {
    const t = await app({ rateLimit: { register: { limit: 2, windowSeconds: 60 } } });
    for (let i = 0; i < 2; i++) {
      const name = uniqueName('reg');
      const res = await t.http.post(REGISTER).send({ username: name, password: 'correct horse battery staple', email: `${name}@example.com` });
      expect(res.status, `registration ${i + 1}`).toBe(201);
    }
    const name = uniqueName('reg');
    const third = await t.http.post(REGISTER).send({ username: name, password: 'correct horse battery staple', email: `${name}@example.com` });
    expectRateLimited(third, 60, 'register');
    // Nothing was created by the refused request.
    const rows = await rawQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${t.schema}".users WHERE username = $1`, [name]);
    expect(rows[0]!.n).toBe(0);
  });

  it('the register limit does not consume the login limit', async () => {
    const t = await app({ rateLimit: { register: { limit: 1, windowSeconds: 60 }, login: { limit: 2, windowSeconds: 60 } } });
    await registerUser(t);
    expect((await failLogin(t.http, another())).status).toBe(401);
    expect((await failLogin(t.http, another())).status).toBe(401);
    expectRateLimited(await failLogin(t.http, another()), 60);
  });
});

describe('client address', () => {
  it('with trustProxy false, X-Forwarded-For is ignored: changing it does not reset the counter', async () => {
    const t = await app({ trustProxy: false, rateLimit: { login: { limit: 3, windowSeconds: 60 } } });
    expect((await failLogin(t.http, another(), '203.0.113.1')).status).toBe(401);
    expect((await failLogin(t.http, another(), '203.0.113.2')).status).toBe(401);
    expect((await failLogin(t.http, another(), '203.0.113.3')).status).toBe(401);
    expectRateLimited(await failLogin(t.http, another(), '203.0.113.4'), 60);
    expectRateLimited(await failLogin(t.http, another()), 60);
  });

  it('with trustProxy true, each X-Forwarded-For client is counted separately', async () => {
    const t = await app({ trustProxy: true, rateLimit: { login: { limit: 3, windowSeconds: 60 } } });
    for (let i = 0; i < 3; i++) expect((await failLogin(t.http, another(), '198.51.100.7')).status).toBe(401);
    expectRateLimited(await failLogin(t.http, another(), '198.51.100.7'), 60);
    // Another client behind the same proxy is not affected.
    expect((await failLogin(t.http, another(), '198.51.100.8')).status).toBe(401);
    expect((await failLogin(t.http, another(), '198.51.100.8')).status).toBe(401);
    // With every hop trusted, the client is the left-most address of the chain.
    expectRateLimited(await failLogin(t.http, another(), '198.51.100.7, 10.0.0.1'), 60);
  });
});

describe('the per-account delay and the token limit name themselves too', () => {
  it('a 6th failed login of one account from one address is refused by the "account" delay', async () => {
    const t = await app({ rateLimit: { login: { limit: 100, windowSeconds: 60 } } });
    const u = await registerUser(t);
    for (let i = 0; i < 5; i++) expect((await failLogin(t.http, u.username)).status, `attempt ${i + 1}`).toBe(401);
    expectRateLimited(await failLogin(t.http, u.username), 900, 'account');
  });

  it('an address that sent too many invalid tokens is refused by the "token" limit', async () => {
    const t = await app({ rateLimit: { token: { limit: 2, windowSeconds: 60 } } });
    for (let i = 0; i < 2; i++) expect((await t.http.get('/me').set('Authorization', 'Bearer nope')).status).toBe(401);
    await expect.poll(async () => (await t.http.get('/me').set('Authorization', 'Bearer nope')).status).toBe(429);
    expectRateLimited(await t.http.get('/me').set('Authorization', 'Bearer nope'), 60, 'token');
  });
});

describe('Express trust proxy', () => {
  it.each([
    ['Express 5', express],
    ['Express 4', express4],
  ])("without trustProxy, the %s app's own `trust proxy` decides, even when set after construction", async (_name, makeApp) => {
    const host = makeApp();
    const logger = { info() {}, debug() {}, error() {}, warn: vi.fn() };
    const auth = new AuthManager(host, {
      ...(await databaseOptions()),
      dbSchema: uniqueSchema(),
      jwtSecret: 'p'.repeat(32),
      bcryptRounds: 4,
      logger,
      rateLimit: { login: { limit: 2, windowSeconds: 60 } },
    });
    track(async () => {
      await auth.close();
    });
    await auth.ready;
    host.set('trust proxy', 1); // after new AuthManager, as apps often do
    const http = request(host);
    for (let i = 0; i < 2; i++) expect((await failLogin(http, another(), '198.51.100.20')).status).toBe(401);
    expectRateLimited(await failLogin(http, another(), '198.51.100.20'), 60, 'login');
    // Another client behind the same load balancer is not locked out with the first.
    expect((await failLogin(http, another(), '198.51.100.21')).status).toBe(401);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('an explicit trustProxy overrides the Express setting', async () => {
    const t = await app({ trustProxy: false, rateLimit: { login: { limit: 2, windowSeconds: 60 } } });
    t.app.set('trust proxy', true);
    for (let i = 0; i < 2; i++) expect((await failLogin(t.http, another(), `198.51.100.${30 + i}`)).status).toBe(401);
    expectRateLimited(await failLogin(t.http, another(), '198.51.100.40'), 60, 'login');
  });

  it('warns once through the logger when X-Forwarded-For arrives and nothing is trusted', async () => {
    const warnings: string[] = [];
    const logger = { info() {}, debug() {}, error() {}, warn: (_o: object, msg?: string) => warnings.push(msg ?? '') };
    const t = await app({ logger, rateLimit: { login: { limit: 50, windowSeconds: 60 } } });
    await failLogin(t.http, another());
    expect(warnings).toEqual([]);
    for (let i = 0; i < 3; i++) await failLogin(t.http, another(), '198.51.100.50');
    expect(warnings).toEqual([expect.stringMatching(/X-Forwarded-For but no proxy is trusted.*trust proxy/)]);
  });
});

describe('shared counters', () => {
  it('two AuthManagers on the same dbSchema share the login limit', async () => {
    const rateLimit = { login: { limit: 3, windowSeconds: 60 } };
    const t = await app({ rateLimit });
    // A second instance, built as createTestApp does, on the first one's schema.
    const app2 = express();
    const auth2 = new AuthManager(app2, {
      ...(await databaseOptions()),
      dbSchema: t.schema,
      jwtSecret: t.secret,
      bcryptRounds: 4,
      rateLimit,
    });
    track(() => auth2.close());
    await auth2.ready;
    const http2 = request(app2);

    await registerUser(t);
    expect((await failLogin(t.http, another())).status).toBe(401);
    expect((await failLogin(http2, another())).status).toBe(401);
    expect((await failLogin(t.http, another())).status).toBe(401);
    expectRateLimited(await failLogin(http2, another()), 60);
    expectRateLimited(await failLogin(t.http, another()), 60);
  });

  it('a store passed as rateLimit.store is used instead of the database', async () => {
    const stores: string[] = [];
    const t = await app({
      rateLimit: {
        login: { limit: 2, windowSeconds: 60 },
        store: (name) => {
          stores.push(name);
          return new MemoryStore();
        },
      },
    });
    expect([...stores].sort()).toEqual([
      'code',
      'invitation',
      'invitationMail',
      'login',
      'mail',
      'mailTarget',
      'oauth',
      'oauthCallback',
      'passkey',
      'refresh',
      'register',
      'token',
    ]);
    expect((await failLogin(t.http, another())).status).toBe(401);
    expect((await failLogin(t.http, another())).status).toBe(401);
    expectRateLimited(await failLogin(t.http, another()), 60);
    const rows = await rawQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${t.schema}".rate_limits`);
    expect(rows[0]!.n).toBe(0);
  });
});
