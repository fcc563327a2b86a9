import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { adminApi, registerAdmin } from './helpers/admin.js';
import { auditRows } from './helpers/audit.js';
import { expectError, expectIsoUtc, expectValidation } from './helpers/endpoints.js';

let clock = new Date('2026-03-01T10:00:00Z');
let t: TestApp;
let admin: Awaited<ReturnType<typeof registerAdmin>>;
let api: ReturnType<typeof adminApi>;

beforeAll(async () => {
  t = await createTestApp({ roles: ['admin', 'user', 'editor'], now: () => clock });
  admin = await registerAdmin(t);
  api = adminApi(t, admin.token);
});
afterAll(() => t?.close());

describe('/admin/roles', () => {
  it('lists every role with how many users hold it, by name', async () => {
    const res = await api.listRoles();
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { name: 'admin', users: 1 },
      { name: 'editor', users: 0 },
      { name: 'user', users: 1 },
    ]);
  });

  it('creates a role (201 {name, users: 0}), audited; 409 when it exists; 400 for a name outside the pattern', async () => {
    const res = await api.createRole('reports:read');
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ name: 'reports:read', users: 0 });
    expect((await api.listRoles()).body).toContainEqual({ name: 'reports:read', users: 0 });
    const [event] = await auditRows(t.schema, { type: 'role_created' });
    expect(event).toMatchObject({ actor_id: admin.user.id, user_id: null, data: { role: 'reports:read' } });
    expectError(await api.createRole('reports:read'), 409, 'conflict');
    expectError(await api.createRole('admin'), 409, 'conflict');
    for (const bad of ['Admin', '1role', '', 'a'.repeat(65), 'with space', 'é', 42, null]) expectValidation(await api.createRole(bad), 'name');
    expect((await api.createRole(`a${'b'.repeat(63)}`)).status).toBe(201);
  });

  it('a new role can be granted at once, and counts its holders', async () => {
    await api.createRole('auditor');
    const u = await registerUser(t);
    expect((await api.patchUser(u.user.id, { roles: ['user', 'auditor'] })).status).toBe(200);
    expect((await api.listRoles()).body).toContainEqual({ name: 'auditor', users: 1 });
  });

  it('deletes a role nobody holds; 409 while held and for the admin and default roles; 404 for none', async () => {
    await api.createRole('temp');
    const u = await registerUser(t);
    await api.patchUser(u.user.id, { roles: ['user', 'temp'] });
    expectError(await api.deleteRole('temp'), 409, 'conflict');
    expectError(await api.deleteRole('admin'), 409, 'conflict');
    expectError(await api.deleteRole('user'), 409, 'conflict');
    expectError(await api.deleteRole('nosuchrole'), 404, 'not_found');
    await api.patchUser(u.user.id, { roles: ['user'] });
    const res = await api.deleteRole('temp');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
    expect((await api.listRoles()).body.map((r: { name: string }) => r.name)).not.toContain('temp');
    const [event] = await auditRows(t.schema, { type: 'role_deleted' });
    expect(event).toMatchObject({ actor_id: admin.user.id, data: { role: 'temp' } });
    expectValidation(await api.patchUser(u.user.id, { roles: ['temp'] }), 'roles');
  });

  it('deleting a role while it is being granted: either the grant wins (409) or the grant fails as an unknown role', async () => {
    for (let i = 0; i < 5; i++) {
      const name = `race${i}`;
      await api.createRole(name);
      const u = await registerUser(t);
      const [grant, del] = await Promise.all([api.patchUser(u.user.id, { roles: ['user', name] }), api.deleteRole(name)]);
      const held = (await api.getUser(u.user.id)).body.user.roles.includes(name);
      if (del.status === 200) {
        expectValidation(grant, 'roles');
        expect(held).toBe(false);
      } else {
        expectError(del, 409, 'conflict');
        expect(grant.status).toBe(200);
        expect(held).toBe(true);
      }
    }
  });
});

describe('/admin/events', () => {
  it('lists events newest first as {id, type, user_id, actor_id, ip, user_agent, data, created_at}, 100 by default', async () => {
    const res = await api.events();
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['events']);
    const events = res.body.events as Array<Record<string, unknown>>;
    expect(events.length).toBeGreaterThan(0);
    expect(events.length).toBeLessThanOrEqual(100);
    for (const e of events) {
      expect(Object.keys(e).sort()).toEqual(['actor_id', 'created_at', 'data', 'id', 'ip', 'type', 'user_agent', 'user_id']);
      expectIsoUtc(e.created_at);
    }
    const times = events.map((e) => e.created_at as string);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('filters by user_id and type, pages back with before, and limits', async () => {
    const u = await registerUser(t);
    for (let i = 0; i < 3; i++) {
      clock = new Date(clock.getTime() + 1000);
      await api.logoutAll(u.user.id);
    }
    const mine = await api.events(`?user_id=${u.user.id}`);
    expect(mine.body.events.map((e: { type: string }) => e.type)).toEqual(['logout_all', 'logout_all', 'logout_all', 'register']);
    const typed = await api.events(`?user_id=${u.user.id}&type=logout_all&limit=2`);
    expect(typed.body.events).toHaveLength(2);
    expect(typed.body.events[0]).toMatchObject({ type: 'logout_all', user_id: u.user.id, actor_id: admin.user.id });
    const older = await api.events(`?user_id=${u.user.id}&type=logout_all&before=${encodeURIComponent(typed.body.events[1].created_at)}`);
    expect(older.body.events).toHaveLength(1);
    expect(older.body.events[0].created_at < typed.body.events[1].created_at).toBe(true);
    expect((await api.events(`?user_id=${randomUUID()}`)).body.events).toEqual([]);
    expect((await api.events('?user_id=not-a-uuid')).body.events).toEqual([]);
    expect((await api.events('?type=nosuchtype')).body.events).toEqual([]);
  });

  it('keeps the events of a deleted user', async () => {
    const u = await registerUser(t);
    clock = new Date(clock.getTime() + 1000);
    await api.deleteUser(u.user.id);
    const res = await api.events(`?user_id=${u.user.id}`);
    expect(res.body.events.map((e: { type: string }) => e.type)).toEqual(['user_deleted', 'register']);
  });

  it('400 for a limit outside 1-500 or a before that is not an ISO time', async () => {
    for (const q of ['?limit=0', '?limit=501', '?limit=x']) expectValidation(await api.events(q), 'limit');
    for (const q of ['?before=yesterday', '?before=2026-13-01T00:00:00Z', '?before=1700000000']) expectValidation(await api.events(q), 'before');
    expect((await api.events('?limit=500')).status).toBe(200);
    expect((await api.events('?limit=1')).body.events).toHaveLength(1);
  });
});
