import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';

const N = 20;

let t: TestApp;
/** When set, the app's injected clock stands still at this instant; otherwise it is real time. */
let frozenAt: Date | undefined;
beforeAll(async () => {
  t = await createTestApp({ now: () => frozenAt ?? new Date() });
});
afterAll(() => t?.close());

function tally(responses: { status: number; body: { code?: unknown } }[]) {
  const byStatus: Record<number, number> = {};
  const byCode: Record<string, number> = {};
  for (const r of responses) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    if (r.status >= 400) byCode[String(r.body?.code)] = (byCode[String(r.body?.code)] ?? 0) + 1;
  }
  return { byStatus, byCode };
}

const rand = () => randomBytes(4).toString('hex');

describe('concurrent registration', () => {
  it(`${N} registrations of one username with different emails: one 201, ${N - 1} x 409 conflict, one row`, async () => {
    const username = `racer_${rand()}`;
    const responses = await Promise.all(
      Array.from({ length: N }, (_, i) => t.http.post('/api/v1/users/register').send({ username, password: PASSWORD, email: `${username}_${i}@example.com` })),
    );
    expect(tally(responses)).toEqual({ byStatus: { 201: 1, 409: N - 1 }, byCode: { conflict: N - 1 } });
    for (const r of responses.filter((x) => x.status === 409)) {
      expect(Object.keys(r.body).sort()).toEqual(['code', 'error', 'status_code']);
    }
    const rows = await rawQuery<{ n: number }>(`select count(*)::int as n from "${t.schema}".users where username_key = $1`, [username]);
    expect(rows[0]!.n).toBe(1);
    const winner = responses.find((r) => r.status === 201)!;
    const login = await t.http.post('/api/v1/users/login').send({ username, password: PASSWORD });
    expect(login.status).toBe(200);
    expect(login.body.user.id).toBe(winner.body.user.id);
    expect(login.body.user.email).toBe(winner.body.user.email);
  });

  it(`${N} registrations of one username in different cases: still exactly one account`, async () => {
    const base = `Case_${rand()}`;
    const variants = (i: number) => (i % 3 === 0 ? base : i % 3 === 1 ? base.toLowerCase() : base.toUpperCase());
    const responses = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        t.http.post('/api/v1/users/register').send({ username: variants(i), password: PASSWORD, email: `${base}_${i}@example.com` }),
      ),
    );
    expect(tally(responses)).toEqual({ byStatus: { 201: 1, 409: N - 1 }, byCode: { conflict: N - 1 } });
    const rows = await rawQuery<{ n: number }>(`select count(*)::int as n from "${t.schema}".users where username_key = $1`, [base.toLowerCase()]);
    expect(rows[0]!.n).toBe(1);
  });

  it(`${N} registrations of one email with different usernames: one 201, ${N - 1} x 409`, async () => {
    const email = `shared_${rand()}@example.com`;
    const responses = await Promise.all(
      Array.from({ length: N }, (_, i) => t.http.post('/api/v1/users/register').send({ username: `mail_${rand()}_${i}`, password: PASSWORD, email })),
    );
    expect(tally(responses)).toEqual({ byStatus: { 201: 1, 409: N - 1 }, byCode: { conflict: N - 1 } });
    const rows = await rawQuery<{ n: number }>(`select count(*)::int as n from "${t.schema}".users where email_key = $1`, [email]);
    expect(rows[0]!.n).toBe(1);
  });
});

describe('concurrent refresh of one refresh token (refreshGraceSeconds: 0)', () => {
  async function raceOnce() {
    const u = await registerUser(t);
    const responses = await Promise.all(Array.from({ length: N }, () => t.http.post('/api/v1/users/token-refresh').send({ refresh_token: u.refresh_token })));
    const { byStatus, byCode } = tally(responses);
    expect(byStatus).toEqual({ 200: 1, 401: N - 1 });
    for (const code of Object.keys(byCode)) expect(['refresh_token_reused', 'invalid_token']).toContain(code);
    // At least the first loser saw a used (not yet revoked) token and flagged the reuse.
    expect(byCode.refresh_token_reused ?? 0).toBeGreaterThanOrEqual(1);

    const winner = responses.find((r) => r.status === 200)!;
    expect(typeof winner.body.refresh_token).toBe('string');
    const again = await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: winner.body.refresh_token });
    expect(again.status).toBe(401);
    expect(['invalid_token', 'refresh_token_reused']).toContain(again.body.code);
    // The winner's access token belongs to the revoked login too.
    const me = await t.http.get('/me').set(bearer(winner.body.token));
    expect({ status: me.status, code: me.body.code }).toEqual({ status: 401, code: 'invalid_token' });
    // Every refresh token of that login is revoked in the database.
    const live = await rawQuery<{ n: number }>(`select count(*)::int as n from "${t.schema}".refresh_tokens where user_id = $1 and revoked_at is null`, [
      u.user.id,
    ]);
    expect(live[0]!.n).toBe(0);
  }

  // Three rounds: the interleavings differ from run to run.
  it(`${N} refreshes: exactly one 200, the rest 401, and the family is revoked for reuse (3 rounds)`, async () => {
    for (let round = 0; round < 3; round++) await raceOnce();
  });

  it('with no grace, a second presentation in the same clock instant as the rotation is still reuse', async () => {
    const u = await registerUser(t);
    frozenAt = new Date();
    try {
      const first = await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: u.refresh_token });
      expect(first.status).toBe(200);
      const reuse = await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: u.refresh_token });
      expect({ status: reuse.status, code: reuse.body.code }).toEqual({ status: 401, code: 'refresh_token_reused' });
      expect((await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: first.body.refresh_token })).status).toBe(401);
    } finally {
      frozenAt = undefined;
    }
  });

  it('presenting the previous refresh token right after a rotation is reuse when there is no grace', async () => {
    const u = await registerUser(t);
    const first = await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: u.refresh_token });
    expect(first.status).toBe(200);
    const reuse = await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: u.refresh_token });
    expect({ status: reuse.status, code: reuse.body.code }).toEqual({ status: 401, code: 'refresh_token_reused' });
    const next = await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: first.body.refresh_token });
    expect(next.status).toBe(401);
  });
});

describe('refreshGraceSeconds: 30', () => {
  let g: TestApp;
  let clock = new Date();
  beforeAll(async () => {
    g = await createTestApp({ refreshGraceSeconds: 30, now: () => clock });
  });
  afterAll(() => g?.close());

  const refresh = (token: string) => g.http.post('/api/v1/users/token-refresh').send({ refresh_token: token });

  it('the immediately previous refresh token presented again right after rotation succeeds', async () => {
    const u = await registerUser(g);
    const r1 = await refresh(u.refresh_token);
    expect(r1.status).toBe(200);
    const again = await refresh(u.refresh_token);
    expect(again.status).toBe(200);
    expect(typeof again.body.refresh_token).toBe('string');
    expect((await g.http.get('/me').set(bearer(again.body.token))).status).toBe(200);
    expect((await g.http.get('/me').set(bearer(u.token))).status).toBe(200);
    // The login is still alive: the newest refresh token keeps working.
    const next = await refresh(again.body.refresh_token);
    expect(next.status).toBe(200);
  });

  it('a refresh token two rotations back triggers refresh_token_reused and revokes the login', async () => {
    const u = await registerUser(g);
    const r1 = await refresh(u.refresh_token);
    expect(r1.status).toBe(200);
    const r2 = await refresh(r1.body.refresh_token);
    expect(r2.status).toBe(200);
    const old = await refresh(u.refresh_token);
    expect({ status: old.status, code: old.body.code }).toEqual({ status: 401, code: 'refresh_token_reused' });
    expect((await refresh(r2.body.refresh_token)).status).toBe(401);
    const me = await g.http.get('/me').set(bearer(r2.body.token));
    expect({ status: me.status, code: me.body.code }).toEqual({ status: 401, code: 'invalid_token' });
  });

  it('the previous refresh token after the grace period is reuse', async () => {
    const u = await registerUser(g);
    const r1 = await refresh(u.refresh_token);
    expect(r1.status).toBe(200);
    const start = clock;
    try {
      clock = new Date(start.getTime() + 31_000);
      const late = await refresh(u.refresh_token);
      expect({ status: late.status, code: late.body.code }).toEqual({ status: 401, code: 'refresh_token_reused' });
      expect((await refresh(r1.body.refresh_token)).status).toBe(401);
    } finally {
      clock = start;
    }
  });

  it(`${N} concurrent refreshes of one token within the grace period: never 5xx, at least one 200`, async () => {
    const u = await registerUser(g);
    const responses = await Promise.all(Array.from({ length: N }, () => refresh(u.refresh_token)));
    const { byStatus } = tally(responses);
    expect(Object.keys(byStatus).every((s) => s === '200' || s === '401')).toBe(true);
    expect(byStatus[200] ?? 0).toBeGreaterThanOrEqual(1);
  });
});

describe('concurrent deletion of one API token', () => {
  it(`${N} DELETEs: one 200, ${N - 1} x 404 not_found`, async () => {
    const u = await registerUser(t);
    const created = await t.http.post('/api/v1/users/me/api-tokens').set(bearer(u.token)).send({ name: 'race' });
    expect(created.status).toBe(201);
    const responses = await Promise.all(Array.from({ length: N }, () => t.http.delete(`/api/v1/users/me/api-tokens/${created.body.id}`).set(bearer(u.token))));
    expect(tally(responses)).toEqual({ byStatus: { 200: 1, 404: N - 1 }, byCode: { not_found: N - 1 } });
    expect(responses.find((r) => r.status === 200)!.body).toEqual({ success: true });
    const use = await t.http.get('/me').set('X-API-Token', created.body.token);
    expect({ status: use.status, code: use.body.code }).toEqual({ status: 401, code: 'invalid_token' });
  });
});

describe('concurrent logins of one user', () => {
  it(`${N} logins: all 200, each its own login (distinct refresh-token families)`, async () => {
    const u = await registerUser(t);
    const responses = await Promise.all(
      Array.from({ length: N }, () => t.http.post('/api/v1/users/login').send({ username: u.username, password: u.password })),
    );
    expect(tally(responses).byStatus).toEqual({ 200: N });
    const families = await rawQuery<{ n: number }>(`select count(distinct family_id)::int as n from "${t.schema}".refresh_tokens where user_id = $1`, [
      u.user.id,
    ]);
    expect(families[0]!.n).toBe(N + 1);
  });
});
