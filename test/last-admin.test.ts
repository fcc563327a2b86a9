import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { adminApi, registerAdmin } from './helpers/admin.js';
import { expectError } from './helpers/endpoints.js';

// The last active holder of adminRole cannot lose it, be disabled or be deleted: over HTTP, in the
// programmatic API, and when two changes race (the database decides which one is last).

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const code = (err: unknown) => (err as { code?: string }).code;

/** Makes `keep` the only active admin. */
const onlyAdmin = (keep: { user: { id: string } }) => onlyAdminsAre([keep.user.id]);

describe('the last active admin', () => {
  it('cannot lose the role, be disabled or be deleted over HTTP (409); another admin can then', async () => {
    const a = await registerAdmin(t);
    await onlyAdmin(a);
    const api = adminApi(t, a.token);
    expectError(await api.patchUser(a.user.id, { roles: ['user'] }), 409, 'conflict');
    expectError(await api.patchUser(a.user.id, { is_active: false }), 409, 'conflict');
    expectError(await api.patchUser(a.user.id, { roles: ['admin'], is_active: false }), 409, 'conflict');
    expectError(await api.deleteUser(a.user.id), 409, 'conflict');
    // Nothing of a refused patch is applied, and the token still works.
    expectError(await api.patchUser(a.user.id, { real_name: 'Changed', roles: [] }), 409, 'conflict');
    const still = await api.getUser(a.user.id);
    expect(still.status).toBe(200);
    expect(still.body.user).toMatchObject({ roles: ['admin', 'user'], is_active: true, real_name: null });
    // Changes that keep the role go through.
    expect((await api.patchUser(a.user.id, { roles: ['admin'], real_name: 'Still admin' })).status).toBe(200);

    const b = await registerAdmin(t);
    const fresh = await adminApi(t, b.token).deleteUser(a.user.id);
    expect(fresh.status).toBe(200);
    expectError(await adminApi(t, b.token).deleteUser(b.user.id), 409, 'conflict');
  });

  it('the rule holds for auth.users.setRoles, setActive, update and delete', async () => {
    const a = await registerAdmin(t);
    await onlyAdmin(a);
    for (const attempt of [
      () => t.auth.users.setRoles(a.user.id, ['user']),
      () => t.auth.users.setActive(a.user.id, false),
      () => t.auth.users.update(a.user.id, { is_active: false }),
      () => t.auth.users.delete(a.user.id),
    ]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(code(err)).toBe('conflict');
      expect((err as { status?: number }).status).toBe(409);
    }
    // Enabling, and granting more roles, are always fine.
    expect((await t.auth.users.setActive(a.user.id, true)).is_active).toBe(true);
    expect((await t.auth.users.setRoles(a.user.id, ['admin', 'user'])).roles).toEqual(['admin', 'user']);
  });

  it('a disabled admin does not count: the only active one is the last', async () => {
    const a = await registerAdmin(t);
    await onlyAdmin(a);
    const b = await registerUser(t);
    await t.auth.users.setRoles(b.user.id, ['admin']);
    await t.auth.users.setActive(b.user.id, false);
    expect(code(await t.auth.users.setRoles(a.user.id, ['user']).catch((e: unknown) => e))).toBe('conflict');
    // Demoting or deleting the disabled one is fine.
    await t.auth.users.delete(b.user.id);
  });

  it('two concurrent demotions of the last two admins (auth.users.setRoles): exactly one wins, every time', async () => {
    await raceLastTwo(
      8,
      (a) => t.auth.users.setRoles(a, ['user']),
      (b) => t.auth.users.setRoles(b, ['user']),
    );
  });

  it('over HTTP, each admin demoting the other at once: exactly one wins, one admin remains', async () => {
    for (let round = 0; round < 8; round++) {
      const a = await registerAdmin(t);
      const b = await registerAdmin(t);
      await onlyAdminsAre([a.user.id, b.user.id]);
      const [byA, byB] = await Promise.all([
        adminApi(t, a.token).patchUser(b.user.id, { roles: ['user'] }),
        adminApi(t, b.token).patchUser(a.user.id, { roles: ['user'] }),
      ]);
      const statuses = [byA.status, byB.status].sort();
      // The loser is refused by the rule (409) or, when its own demotion landed before its request
      // was authenticated, by its dead token (401).
      expect(statuses[0]).toBe(200);
      expect([401, 409]).toContain(statuses[1]);
      expect(await activeAdminIds()).toHaveLength(1);
    }
  });

  it('concurrent disable and delete of the last two admins: exactly one wins', async () => {
    await raceLastTwo(
      6,
      (a) => t.auth.users.setActive(a, false),
      (b) => t.auth.users.delete(b),
    );
  });
});

/** `rounds` times: two fresh admins are the only ones, `first` and `second` race on them; exactly one may win. */
async function raceLastTwo(rounds: number, first: (a: string) => Promise<unknown>, second: (b: string) => Promise<unknown>) {
  for (let round = 0; round < rounds; round++) {
    const a = await registerAdmin(t);
    const b = await registerAdmin(t);
    await onlyAdminsAre([a.user.id, b.user.id]);
    const outcomes = await Promise.allSettled([first(a.user.id), second(b.user.id)]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(code(outcomes.find((o) => o.status === 'rejected')?.reason)).toBe('conflict');
    expect(await activeAdminIds()).toHaveLength(1);
  }
}

async function activeAdminIds(): Promise<string[]> {
  const page = await t.auth.users.list({ role: 'admin', limit: 100 });
  return page.users.filter((u) => u.is_active).map((u) => u.id);
}

/** Demotes every active admin but `ids`. */
async function onlyAdminsAre(ids: string[]) {
  for (const id of await activeAdminIds()) if (!ids.includes(id)) await t.auth.users.setRoles(id, ['user']);
}
