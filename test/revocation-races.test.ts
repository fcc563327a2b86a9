import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { bearer, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { databaseOptions, rawQuery } from './helpers/database.js';

// A refresh that races a revocation must never leave a live successor behind: the database
// arbitrates (both sides lock the user row), so either the revocation sees the successor and
// revokes it, or the refresh sees the revocation and fails. Each path is attacked TRIALS times
// with the two requests sent at once; a survivor is a successor that still works afterwards, on
// this instance or on one started later with cold caches.

const TRIALS = 36;
/** Trials in flight at once: enough to interleave, few enough for a pool of 10. */
const BATCH = 6;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

type Revoke = (u: Awaited<ReturnType<typeof registerUser>>) => Promise<{ status: number }>;

const paths: Record<string, Revoke> = {
  'logout-all': (u) => t.http.post('/api/v1/users/logout-all').set(bearer(u.token)),
  'change-password': (u) =>
    t.http
      .post('/api/v1/users/change-password')
      .set(bearer(u.token))
      .send({ current_password: PASSWORD, password: `${PASSWORD} 2` }),
  logout: (u) => t.http.post('/api/v1/users/logout').send({ refresh_token: u.refresh_token }),
  disable: (u) => t.auth.users.setActive(u.user.id, false).then(() => ({ status: 200 })),
};

interface Successor {
  token: string;
  refresh_token: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One race; `lag` ms staggers the two sides so that different trials hit different interleavings. */
async function trial(revoke: Revoke, lag: number): Promise<Successor | undefined> {
  const u = await registerUser(t);
  const [refreshed, revoked] = await Promise.all([
    sleep(Math.max(lag, 0)).then(() => t.http.post('/api/v1/users/token-refresh').send({ refresh_token: u.refresh_token })),
    sleep(Math.max(-lag, 0)).then(() => revoke(u)),
  ]);
  expect(revoked.status).toBe(200);
  expect([200, 401]).toContain(refreshed.status);
  return refreshed.status === 200 ? (refreshed.body as Successor) : undefined;
}

/** Whether a successor still works through `instance`: its access token on a guarded route, or its refresh token. */
async function survives(http: TestApp['http'], s: Successor): Promise<boolean> {
  const me = await http.get('/me').set(bearer(s.token));
  if (me.status === 200) return true;
  const again = await http.post('/api/v1/users/token-refresh').send({ refresh_token: s.refresh_token });
  return again.status === 200;
}

describe.each(Object.keys(paths))('refresh racing %s', (name) => {
  it(`${TRIALS} simultaneous trials: zero survivors, here and on an instance started afterwards`, async () => {
    const successors: Successor[] = [];
    for (let done = 0; done < TRIALS; done += BATCH) {
      const batch = await Promise.all(Array.from({ length: BATCH }, (_, i) => trial(paths[name]!, i - BATCH / 2 + ((done / BATCH) % 3))));
      for (const s of batch) if (s) successors.push(s);
    }
    // Checked after every trial ran, so a successor refreshing now does not disturb the races.
    const alive = [];
    for (const s of successors) if (await survives(t.http, s)) alive.push(s);
    expect({ path: name, survivors: alive.length, of: TRIALS }).toEqual({ path: name, survivors: 0, of: TRIALS });

    // A process started later knows only what the database says.
    const express = (await import('express')).default;
    const app = express();
    const later = new AuthManager(app, { ...(await databaseOptions()), dbSchema: t.schema, jwtSecret: t.secret, bcryptRounds: 4, rateLimit: false });
    try {
      await later.ready;
      app.get('/me', later.requireAuth(), (_req, res) => res.json({ ok: true }));
      const http = (await import('supertest')).default(app);
      let aliveLater = 0;
      for (const s of successors) if (await survives(http, s)) aliveLater += 1;
      expect(aliveLater).toBe(0);
    } finally {
      await later.close();
    }
    const live = await rawQuery<{ n: number }>(
      `select count(*)::int as n from "${t.schema}".refresh_tokens r where r.revoked_at is null and r.used_at is null and exists (select 1 from "${t.schema}".refresh_tokens p where p.id = r.parent_id and p.revoked_at is not null)`,
    );
    expect(live[0]!.n).toBe(0);
  });
});

describe('a login racing change-password with the old password', () => {
  it(`${TRIALS} trials: no login made with the old password outlives the change`, async () => {
    let survivors = 0;
    for (let done = 0; done < TRIALS; done += BATCH) {
      const outcomes = await Promise.all(
        Array.from({ length: BATCH }, async (_, i) => {
          const u = await registerUser(t);
          const [login, change] = await Promise.all([
            t.http.post('/api/v1/users/login').send({ username: u.username, password: PASSWORD }),
            sleep(i % 4).then(() =>
              t.http
                .post('/api/v1/users/change-password')
                .set(bearer(u.token))
                .send({ current_password: PASSWORD, password: `${PASSWORD} 3` }),
            ),
          ]);
          expect(change.status).toBe(200);
          return login.status === 200 ? survives(t.http, login.body as Successor) : false;
        }),
      );
      survivors += outcomes.filter(Boolean).length;
    }
    expect(survivors).toBe(0);
  });
});
