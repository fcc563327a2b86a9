import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { adminApi, registerAdmin } from './helpers/admin.js';
import { extraInstance, type ExtraInstance } from './helpers/tokens.js';

// Admin changes made through one instance reach another instance of the same deployment at once
// (LISTEN/NOTIFY on PostgreSQL; the same channel inside the one embedded database on PGlite).

/** Contract section 4: no waiting for `exp`; we allow 1 s for the notification to arrive. */
const MAX_MS = 1000;

let a: TestApp;
let b: ExtraInstance;
let admin: Awaited<ReturnType<typeof registerAdmin>>;

beforeAll(async () => {
  a = await createTestApp();
  b = await extraInstance(a.schema, { jwtSecret: a.secret });
  admin = await registerAdmin(a);
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

/** GET /me on instance B until it answers `status`; how long that took. */
async function untilB(token: string, status: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    const res = await b.http.get('/me').set('Authorization', `Bearer ${token}`);
    if (res.status === status || Date.now() - start > MAX_MS) {
      expect(res.status).toBe(status);
      return Date.now() - start;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('an admin change on instance A, seen by instance B', () => {
  it("a role change ends the user's access tokens on B", async () => {
    const u = await registerUser(a);
    await untilB(u.token, 200); // B has the user cached now
    const res = await adminApi(a, admin.token).patchUser(u.user.id, { roles: ['admin', 'user'] });
    expect(res.status).toBe(200);
    expect(await untilB(u.token, 401)).toBeLessThanOrEqual(MAX_MS);
    await adminApi(a, admin.token).patchUser(u.user.id, { roles: ['user'] });
  });

  it("disabling ends the user's access and API tokens on B", async () => {
    const u = await registerUser(a);
    const key = await a.auth.apiTokens.create(u.user.id, { name: 'k' });
    await untilB(u.token, 200);
    await untilB(key.token, 200);
    await adminApi(a, admin.token).patchUser(u.user.id, { is_active: false });
    await untilB(u.token, 401);
    await untilB(key.token, 403);
  });

  it("deleting ends the user's tokens on B", async () => {
    const u = await registerUser(a);
    const key = await a.auth.apiTokens.create(u.user.id, { name: 'k' });
    await untilB(u.token, 200);
    await untilB(key.token, 200);
    expect((await adminApi(a, admin.token).deleteUser(u.user.id)).status).toBe(200);
    await untilB(u.token, 401);
    await untilB(key.token, 401);
  });

  it('an impersonation token used on B dies there when its admin is demoted on A', async () => {
    const other = await registerAdmin(a);
    const u = await registerUser(a);
    const imp = await adminApi(a, other.token).impersonate(u.user.id);
    await untilB(imp.body.token, 200);
    await a.auth.users.setRoles(other.user.id, ['user']);
    await untilB(imp.body.token, 401);
  });
});
