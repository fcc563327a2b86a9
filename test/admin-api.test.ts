import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { expectUserObject } from './helpers/endpoints.js';

// auth.users.list/update/delete, auth.roles.*, auth.events.list: the rules and shapes of the endpoints.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await registerAdmin(t);
});
afterAll(() => t?.close());

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  );

describe('auth.users', () => {
  it('list → {users, total, limit, offset}, with search, role and paging', async () => {
    const tag = `api${randomUUID().slice(0, 6)}`;
    for (let i = 0; i < 3; i++) await registerUser(t, { username: `${tag}${i}` });
    const page = await t.auth.users.list({ search: tag, limit: 2 });
    expect(Object.keys(page).sort()).toEqual(['limit', 'offset', 'total', 'users']);
    expect(page).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(page.users.map((u) => u.username)).toEqual([`${tag}2`, `${tag}1`]);
    for (const u of page.users) expectUserObject(u);
    expect((await t.auth.users.list()).limit).toBe(20);
    expect((await t.auth.users.list({ role: 'admin' })).users.every((u) => u.roles.includes('admin'))).toBe(true);
    expect(await code(t.auth.users.list({ limit: 0 }))).toBe('validation_error');
    expect(await code(t.auth.users.list({ offset: -1 }))).toBe('validation_error');
  });

  it('update → user; delete; 404 for no user', async () => {
    const u = await registerUser(t);
    const updated = await t.auth.users.update(u.user.id, { real_name: 'Api', roles: ['user'], email_verified: true });
    expect(updated).toMatchObject({ id: u.user.id, real_name: 'Api', email_verified: true });
    await t.auth.users.delete(u.user.id);
    expect(await t.auth.users.findById(u.user.id)).toBeUndefined();
    expect(await code(t.auth.users.delete(u.user.id))).toBe('not_found');
    expect(await code(t.auth.users.update(randomUUID(), { real_name: 'x' }))).toBe('not_found');
    expect(await code(t.auth.users.update(u.user.id, { username: 'x' }))).toBe('validation_error');
  });
});

describe('auth.roles and auth.events', () => {
  it('roles.list → [{name, users}], create → {name, users: 0}, delete; 409 and 400 as over HTTP', async () => {
    expect(await t.auth.roles.create('editor')).toEqual({ name: 'editor', users: 0 });
    expect(await t.auth.roles.list()).toContainEqual({ name: 'editor', users: 0 });
    expect(await code(t.auth.roles.create('editor'))).toBe('conflict');
    expect(await code(t.auth.roles.create('Editor'))).toBe('validation_error');
    expect(await code(t.auth.roles.delete('admin'))).toBe('conflict');
    expect(await code(t.auth.roles.delete('user'))).toBe('conflict');
    expect(await code(t.auth.roles.delete('nope'))).toBe('not_found');
    await t.auth.roles.delete('editor');
    expect((await t.auth.roles.list()).map((r) => r.name)).not.toContain('editor');
  });

  it('events.list → [event], newest first, filtered; before as a Date or an ISO string', async () => {
    const u = await registerUser(t);
    await t.auth.users.setActive(u.user.id, false);
    const events = await t.auth.events.list({ user_id: u.user.id });
    expect(events.map((e) => e.type)).toEqual(['user_disabled', 'register']);
    expect(Object.keys(events[0]!).sort()).toEqual(['actor_id', 'created_at', 'data', 'id', 'ip', 'type', 'user_agent', 'user_id']);
    expect(await t.auth.events.list({ user_id: u.user.id, type: 'register', limit: 1 })).toHaveLength(1);
    expect(await t.auth.events.list({ user_id: u.user.id, before: new Date(0) })).toEqual([]);
    expect(await t.auth.events.list({ user_id: u.user.id, before: '1970-01-01T00:00:00Z' })).toEqual([]);
    expect(await code(t.auth.events.list({ limit: 501 }))).toBe('validation_error');
    expect(await code(t.auth.events.list({ before: 'soon' }))).toBe('validation_error');
  });
});
