import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from 'rate-limit-redis';
import { createClient } from 'redis';
import { createTestApp, type TestApp } from './helpers/app.js';

// The rateLimit.store seam with a real Redis store (rate-limit-redis), as a deployment that already
// runs Redis would configure it. Redis runs on 127.0.0.1:6379 on the development and CI machines.
const REDIS_URL = process.env.AUTHLIB_TEST_REDIS ?? 'redis://127.0.0.1:6379';

describe('rate limits in Redis', () => {
  const client = createClient({ url: REDIS_URL });
  const prefix = `authlib-test-${randomBytes(4).toString('hex')}:`;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    await client.connect();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    for (const key of await client.keys(`${prefix}*`)) await client.del(key);
    await client.quit();
  });

  const redisLimits = () => ({
    login: { limit: 3, windowSeconds: 60 },
    store: (limiter: string) => new RedisStore({ prefix: `${prefix}${limiter}:`, sendCommand: (...args: string[]) => client.sendCommand(args) }),
  });

  it('counts the accounts that failed from an address in Redis, shared by two instances, and answers 429 past the limit', async () => {
    const a = await createTestApp({ rateLimit: redisLimits() });
    apps.push(a);
    const b = await createTestApp({ rateLimit: redisLimits() });
    apps.push(b);
    // The address limit counts accounts: each attempt names another one.
    let n = 0;
    const attempt = (t: TestApp) => t.http.post('/api/v1/users/login').send({ username: `nobody${(n += 1)}`, password: 'wrong-password' });

    expect((await attempt(a)).status).toBe(401);
    expect((await attempt(b)).status).toBe(401);
    expect((await attempt(a)).status).toBe(401);
    const limited = await attempt(b);
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);

    const keys = await client.keys(`${prefix}login:*`);
    expect(keys.length).toBeGreaterThan(0);
  });
});
