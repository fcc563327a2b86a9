import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { adminApi, registerAdmin } from './helpers/admin.js';
import { BASE } from './helpers/endpoints.js';
import { rawQuery } from './helpers/database.js';
import { extraInstance, type ExtraInstance } from './helpers/tokens.js';

// A site admin can mint an API token for another user (POST /{user}/api-tokens). That token is the
// admin's doing: it must not outlive the admin's standing. On the old code an admin who was
// demoted, disabled or deleted kept a working credential for Bob's account.

const MAX_MS = 1000;

let a: TestApp;
let b: ExtraInstance;
let boss: Awaited<ReturnType<typeof registerAdmin>>;

beforeAll(async () => {
  a = await createTestApp();
  b = await extraInstance(a.schema, { jwtSecret: a.secret });
  boss = await registerAdmin(a);
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

/** The token's answer on instance B until it is `status` (at most MAX_MS). */
async function onB(token: string, status: number): Promise<void> {
  const start = Date.now();
  for (;;) {
    const res = await b.http.get('/me').set('X-API-Token', token);
    if (res.status === status || Date.now() - start > MAX_MS) {
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An admin who mints a token for bob, and bob's own token; both work on instance B. */
async function mintedForBob() {
  const admin = await registerAdmin(a);
  const bob = await registerUser(a);
  const minted = await a.http.post(`${BASE}/${bob.user.id}/api-tokens`).set(bearer(admin.token)).send({ name: 'from admin' });
  expect(minted.status, JSON.stringify(minted.body)).toBe(201);
  const own = await a.http.post(`${BASE}/me/api-tokens`).set(bearer(bob.token)).send({ name: 'own' });
  expect(own.status).toBe(201);
  await onB(minted.body.token, 200);
  await onB(own.body.token, 200);
  return { admin, bob, minted: minted.body as { id: string; token: string }, own: own.body as { token: string } };
}

describe("a user's token minted by a site admin ends with the admin's standing, on every instance", () => {
  it('the admin loses the admin role', async () => {
    const { admin, bob, minted, own } = await mintedForBob();
    expect((await adminApi(a, boss.token).patchUser(admin.user.id, { roles: ['user'] })).status).toBe(200);
    await onB(minted.token, 401);
    await onB(own.token, 200);
    // Re-promoting does not bring it back.
    await a.auth.users.setRoles(admin.user.id, ['admin', 'user']);
    await onB(minted.token, 401);
    const events = await rawQuery<{ user_id: string; data: { minted_by: string; reason: string } }>(
      `select user_id, data from "${a.schema}".auth_events where type = 'api_token_deleted' and data->>'token_id' = $1`,
      [minted.id],
    );
    expect(events).toEqual([{ user_id: bob.user.id, data: expect.objectContaining({ minted_by: admin.user.id, reason: 'creator_demoted' }) }]);
  });

  it('the admin is disabled (and re-enabled), or demoted through the programmatic API', async () => {
    const first = await mintedForBob();
    await a.auth.users.setActive(first.admin.user.id, false);
    await onB(first.minted.token, 401);
    await a.auth.users.setActive(first.admin.user.id, true);
    await onB(first.minted.token, 401);
    await onB(first.own.token, 200);
    const second = await mintedForBob();
    await a.auth.users.setRoles(second.admin.user.id, ['user']);
    await onB(second.minted.token, 401);
  });

  it('the admin is deleted', async () => {
    const { admin, minted, own } = await mintedForBob();
    expect((await adminApi(a, boss.token).deleteUser(admin.user.id)).status).toBe(200);
    await onB(minted.token, 401);
    await onB(own.token, 200);
  });

  it("a user's own tokens, and an admin's own tokens, are nobody else's: a role change of someone else leaves them", async () => {
    const { bob, own } = await mintedForBob();
    const mine = await a.http.post(`${BASE}/me/api-tokens`).set(bearer(boss.token)).send({ name: 'boss own' });
    const other = await registerAdmin(a);
    await a.auth.users.setRoles(other.user.id, ['user']);
    await onB(own.token, 200);
    await onB(mine.body.token, 200);
    const rows = await rawQuery<{ created_by: string | null }>(`select created_by from "${a.schema}".api_tokens where user_id = $1 and name = 'own'`, [
      bob.user.id,
    ]);
    expect(rows).toEqual([{ created_by: null }]);
  });
});
