import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { BASE, expectError, expectIsoUtc, expectValidation } from './helpers/endpoints.js';
import { groupApi } from './helpers/groups.js';
import { rawQuery } from './helpers/database.js';

// Service keys: API tokens that act for a group, managed by the group's admins through
// /groups/{id}/api-tokens; the same format, hashing and validation as a user's API tokens.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

async function ownedGroup() {
  const owner = await registerUser(t);
  const api = groupApi(t, owner.token);
  const { group } = (await api.create({ name: 'Keys' })).body as { group: { id: string; slug: string } };
  return { owner, api, group };
}

describe('service keys', () => {
  it('a group admin creates one (shown once, no-store), lists them (no secret) and deletes one', async () => {
    const { owner, api, group } = await ownedGroup();
    const res = await api.createKey(group.slug, { name: ' ci ', scopes: ['reports:read', 'reports:read'], expires_in_days: 30, user_id: 'ignored' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(Object.keys(res.body).sort()).toEqual(['created_at', 'expires_at', 'id', 'name', 'scopes', 'token']);
    expect(res.body).toMatchObject({ name: 'ci', scopes: ['reports:read'] });
    expect(res.body.token).toMatch(new RegExp(`^api_${res.body.id}[0-9A-Za-z]{32,}$`));
    expectIsoUtc(res.body.created_at);
    expect(Date.parse(res.body.expires_at) - Date.parse(res.body.created_at)).toBe(30 * 86_400_000);
    // Stored as a group's token, only as a hash.
    const rows = await rawQuery<{ user_id: string | null; group_id: string; token_hash: string }>(
      `select user_id, group_id, token_hash from "${t.schema}".api_tokens where id = $1`,
      [res.body.id],
    );
    expect(rows).toEqual([{ user_id: null, group_id: group.id, token_hash: expect.any(String) }]);
    expect(rows[0]!.token_hash).not.toContain(res.body.token);
    const list = await api.listKeys(group.id);
    expect(list.status).toBe(200);
    expect(list.body).toEqual([
      { id: res.body.id, name: 'ci', scopes: ['reports:read'], created_at: res.body.created_at, expires_at: res.body.expires_at, last_used_at: null },
    ]);
    expect(list.text).not.toContain(res.body.token);
    // Not among the admin's own tokens, and their own token path does not reach it.
    expect((await t.http.get(`${BASE}/me/api-tokens`).set('Authorization', `Bearer ${owner.token}`)).body).toEqual([]);
    expectError(await t.http.delete(`${BASE}/me/api-tokens/${res.body.id}`).set('Authorization', `Bearer ${owner.token}`), 404, 'not_found');
    // Deleting: announced like a user token's deletion, then gone.
    expect((await api.deleteKey(group.id, res.body.id)).body).toEqual({ success: true });
    const announced = await rawQuery(`select 1 from "${t.schema}".revocation_log where event->>'apiToken' = $1`, [res.body.id]);
    expect(announced).toHaveLength(1);
    expectError(await api.deleteKey(group.id, res.body.id), 404, 'not_found');
    expect((await api.listKeys(group.id)).body).toEqual([]);
  });

  it('validated like user API tokens (400 with fields)', async () => {
    const { api, group } = await ownedGroup();
    expectValidation(await api.createKey(group.id, {}), 'name');
    expectValidation(await api.createKey(group.id, { name: '  ' }), 'name');
    expectValidation(await api.createKey(group.id, { name: 'x', scopes: ['has space'] }), 'scopes.0');
    expectValidation(await api.createKey(group.id, { name: 'x', expires_in_days: 0 }), 'expires_in_days');
    expectValidation(await api.createKey(group.id, { name: 'x', expires_in_days: 1.5 }), 'expires_in_days');
  });

  it('a plain member gets 403, a stranger 404; another group`s key or a user`s token answers 404', async () => {
    const { owner, api, group } = await ownedGroup();
    const member = await registerUser(t);
    await t.auth.groups.addMember(group.id, { user_id: member.user.id });
    const m = groupApi(t, member.token);
    expectError(await m.createKey(group.id, { name: 'x' }), 403, 'forbidden');
    expectError(await m.listKeys(group.id), 403, 'forbidden');
    const key = (await api.createKey(group.id, { name: 'k' })).body;
    expectError(await m.deleteKey(group.id, key.id), 403, 'forbidden');
    const stranger = groupApi(t, (await registerUser(t)).token);
    expectError(await stranger.createKey(group.id, { name: 'x' }), 404, 'not_found');
    expectError(await stranger.listKeys(group.id), 404, 'not_found');
    expectError(await stranger.deleteKey(group.id, key.id), 404, 'not_found');
    // Another group of the same admin: the key is not there.
    const other = (await api.create({ name: 'Other' })).body.group;
    expectError(await api.deleteKey(other.id, key.id), 404, 'not_found');
    const userToken = await t.auth.apiTokens.create(owner.user.id, { name: 'mine' });
    expectError(await api.deleteKey(group.id, userToken.id), 404, 'not_found');
    expectError(await api.deleteKey(group.id, 'not-an-id'), 404, 'not_found');
    expect((await t.auth.apiTokens.list(owner.user.id)).map((x) => x.id)).toEqual([userToken.id]);
    // A site admin manages any group's keys.
    const admin = groupApi(t, (await registerAdmin(t)).token);
    expect((await admin.listKeys(group.id)).body.map((x: { id: string }) => x.id)).toEqual([key.id]);
    expect((await admin.deleteKey(group.id, key.id)).status).toBe(200);
  });

  it('auth.groups.serviceKeys: the same, with an actor or as trusted code', async () => {
    const { owner, group } = await ownedGroup();
    const created = await t.auth.groups.serviceKeys.create(group.id, { name: 'deploy', scopes: ['deploy'] }, { actor: owner.user.id });
    expect(created.token).toMatch(/^api_/);
    expect((await t.auth.groups.serviceKeys.list(group.slug)).map((k) => k.id)).toEqual([created.id]);
    const member = await registerUser(t);
    await t.auth.groups.addMember(group.id, { user_id: member.user.id });
    await expect(t.auth.groups.serviceKeys.list(group.id, { actor: member.user.id })).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    await t.auth.groups.serviceKeys.revoke(group.id, created.id);
    expect(await t.auth.groups.serviceKeys.list(group.id)).toEqual([]);
  });
});
