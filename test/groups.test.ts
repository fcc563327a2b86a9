import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, bearer, type TestApp } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { BASE, expectError, expectIsoUtc, expectValidation } from './helpers/endpoints.js';
import { groupApi, joinByInvitation } from './helpers/groups.js';
import { rawQuery } from './helpers/database.js';

// Groups through HTTP: create, list, get, patch, delete; slugs; who sees what (404 for anyone who
// is not a member, an admin of an ancestor or a site admin); access JWTs only.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const GROUP_KEYS = ['created_at', 'description', 'id', 'name', 'slug'];

describe('creating groups', () => {
  it('any signed-in user creates a group and becomes its admin; the group has exactly the wire keys', async () => {
    const u = await registerUser(t);
    const res = await groupApi(t, u.token).create({ name: 'Acme Corp', description: 'the company', id: 'ignored' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const group = res.body.group;
    expect(Object.keys(group).sort()).toEqual(GROUP_KEYS);
    expect(group).toMatchObject({ name: 'Acme Corp', description: 'the company' });
    expect(group.slug).toMatch(/^acme-corp(-\d+)?$/);
    expect(group.id).not.toBe('ignored');
    expectIsoUtc(group.created_at);
    const members = await groupApi(t, u.token).members(group.id);
    expect(members.status).toBe(200);
    expect(members.body.total).toBe(1);
    expect(members.body.members[0]).toMatchObject({ user: { id: u.user.id }, roles: ['admin'], is_admin: true });
  });

  it('derives slugs from names (lower-case, non-alphanumerics to -, trimmed, accents dropped) and makes them unique', async () => {
    const u = await registerUser(t);
    const api = groupApi(t, u.token);
    const name = `  Ünïcode & Friends!! ${Date.now()} `;
    const first = await api.create({ name });
    expect(first.status).toBe(201);
    const base = `unicode-friends-${name.trim().split(' ').at(-1)}`;
    expect(first.body.group.slug).toBe(base);
    expect(first.body.group.name).toBe(name.trim());
    const second = await api.create({ name });
    expect(second.body.group.slug).toBe(`${base}-2`);
    const third = await api.create({ name });
    expect(third.body.group.slug).toBe(`${base}-3`);
    // Nothing usable in the name at all.
    const symbols = await api.create({ name: '!!!' });
    expect(symbols.status).toBe(201);
    expect(symbols.body.group.slug).toMatch(/^group(-\d+)?$/);
    // A long name is cut to 63 characters, and the suffix still fits.
    const long = 'x'.repeat(80) + Date.now();
    const l1 = await api.create({ name: long });
    const l2 = await api.create({ name: long });
    expect(l1.body.group.slug).toHaveLength(63);
    expect(l2.body.group.slug).toHaveLength(63);
    expect(l2.body.group.slug.endsWith('-2')).toBe(true);
    const l3 = await api.create({ name: long });
    expect(l3.status).toBe(201);
    expect(l3.body.group.slug).toHaveLength(63);
    expect(l3.body.group.slug.endsWith('-3')).toBe(true);
    // Concurrent creations with one name each get their own slug: 20 at once (on PostgreSQL, 4 of
    // 20 got 409 when the retries picked suffixes from what was taken before the race).
    const same = `same ${Date.now()}`;
    const created = await Promise.all(Array.from({ length: 20 }, () => api.create({ name: same })));
    expect(created.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 201));
    expect(new Set(created.map((r) => r.body.group.slug)).size).toBe(20);
  });

  it('a given slug must be valid (400) and free (409)', async () => {
    const u = await registerUser(t);
    const api = groupApi(t, u.token);
    const slug = `team-${Date.now()}`;
    expect((await api.create({ name: 'Team', slug })).status).toBe(201);
    expectError(await api.create({ name: 'Other', slug }), 409, 'conflict');
    for (const bad of ['Upper', '-lead', 'with space', 'a'.repeat(64), '', 'ünï', 7]) expectValidation(await api.create({ name: 'x', slug: bad }), 'slug');
    expectValidation(await api.create({}), 'name');
    expectValidation(await api.create({ name: '   ' }), 'name');
    expectValidation(await api.create({ name: 'x'.repeat(101) }), 'name');
    expectValidation(await api.create({ name: 'x', description: 5 }), 'description');
  });

  it("groupCreation: 'admin' lets only site admins create groups", async () => {
    const only = await createTestApp({ groupCreation: 'admin' });
    try {
      const u = await registerUser(only);
      expectError(await groupApi(only, u.token).create({ name: 'Nope' }), 403, 'forbidden');
      const admin = await registerAdmin(only);
      expect((await groupApi(only, admin.token).create({ name: 'Yes' })).status).toBe(201);
    } finally {
      await only.close();
    }
  });

  it('an unknown groupCreation value is a TypeError at construction', async () => {
    await expect(createTestApp({ groupCreation: 'everyone' as never })).rejects.toThrow(/groupCreation/);
  });
});

describe('seeing groups', () => {
  it('GET /groups/{id} by id or slug for a member; 404 for others, as for a group that does not exist', async () => {
    const owner = await registerUser(t);
    const stranger = await registerUser(t);
    const { group } = (await groupApi(t, owner.token).create({ name: 'Private' })).body;
    for (const key of [group.id, group.slug]) {
      const res = await groupApi(t, owner.token).get(key);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ group, parents: [], children: [] });
      expectError(await groupApi(t, stranger.token).get(key), 404, 'not_found');
    }
    expectError(await groupApi(t, owner.token).get('00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    expectError(await groupApi(t, owner.token).get('no-such-group'), 404, 'not_found');
    expectError(await groupApi(t, stranger.token).members(group.id), 404, 'not_found');
    expectError(await groupApi(t, stranger.token).patch(group.id, { name: 'x' }), 404, 'not_found');
    expectError(await groupApi(t, stranger.token).delete(group.id), 404, 'not_found');
  });

  it('GET /groups: a user lists the groups they belong to; a site admin lists every group; paging', async () => {
    const a = await registerUser(t);
    const b = await registerUser(t);
    const mine = (await groupApi(t, a.token).create({ name: 'Mine' })).body.group;
    const theirs = (await groupApi(t, b.token).create({ name: 'Theirs' })).body.group;
    const listA = await groupApi(t, a.token).list();
    expect(listA.status).toBe(200);
    expect(listA.body.groups.map((g: { id: string }) => g.id)).toEqual([mine.id]);
    const admin = await registerAdmin(t);
    const all = await groupApi(t, admin.token).list('?limit=100');
    const ids = all.body.groups.map((g: { id: string }) => g.id);
    expect(ids).toEqual(expect.arrayContaining([mine.id, theirs.id]));
    // A site admin sees any group and may change it.
    expect((await groupApi(t, admin.token).get(theirs.slug)).status).toBe(200);
    const one = await groupApi(t, admin.token).list('?limit=1&offset=1');
    expect(one.body.groups).toHaveLength(1);
    expect(one.body.groups[0].id).toBe(ids[1]);
    expectValidation(await groupApi(t, a.token).list('?limit=0'), 'limit');
    expectValidation(await groupApi(t, a.token).list('?limit=101'), 'limit');
    expectValidation(await groupApi(t, a.token).list('?offset=-1'), 'offset');
  });
});

describe('changing and deleting groups', () => {
  it('PATCH by a group admin or site admin; a plain member gets 403; a taken slug 409', async () => {
    const owner = await registerUser(t);
    const member = await registerUser(t);
    const api = groupApi(t, owner.token);
    const { group } = (await api.create({ name: 'Before' })).body;
    const other = (await api.create({ name: 'Other' })).body.group;
    expect((await joinByInvitation(t, owner.token, group.id, member)).status).toBe(200);
    expectError(await groupApi(t, member.token).patch(group.id, { name: 'Hijacked' }), 403, 'forbidden');
    const slug = `after-${Date.now()}`;
    const res = await api.patch(group.slug, { name: 'After', slug, description: null });
    expect(res.status).toBe(200);
    expect(res.body.group).toMatchObject({ id: group.id, name: 'After', slug, description: null });
    expect((await api.get(slug)).status).toBe(200);
    expectError(await api.get(group.slug), 404, 'not_found');
    expectError(await api.patch(group.id, { slug: other.slug }), 409, 'conflict');
    expectValidation(await api.patch(group.id, { slug: 'Bad Slug' }), 'slug');
    expectValidation(await api.patch(group.id, { name: '' }), 'name');
    const admin = await registerAdmin(t);
    expect((await groupApi(t, admin.token).patch(group.id, { description: 'by the site admin' })).body.group.description).toBe('by the site admin');
  });

  it('DELETE by a group admin; children are detached, not deleted; memberships and service keys go', async () => {
    const owner = await registerUser(t);
    const api = groupApi(t, owner.token);
    const parent = (await api.create({ name: 'Parent' })).body.group;
    const child = (await api.create({ name: 'Child', parent_id: parent.id })).body.group;
    expect((await api.createKey(parent.id, { name: 'ci' })).status).toBe(201);
    const member = await registerUser(t);
    await t.auth.groups.addMember(parent.id, { user_id: member.user.id });
    expectError(await groupApi(t, member.token).delete(parent.id), 403, 'forbidden');
    const res = await api.delete(parent.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
    expectError(await api.get(parent.id), 404, 'not_found');
    const left = await api.get(child.id);
    expect(left.status).toBe(200);
    expect(left.body.parents).toEqual([]);
    const rows = await rawQuery(`select count(*)::int as n from "${t.schema}".api_tokens where group_id = $1`, [parent.id]);
    expect(rows[0]).toEqual({ n: 0 });
    expect((await groupApi(t, member.token).list()).body.groups).toEqual([]);
  });
});

describe('access tokens only', () => {
  it('an API token, whatever its scopes, gets 403 on every group endpoint', async () => {
    const u = await registerUser(t);
    const { group } = (await groupApi(t, u.token).create({ name: 'Tokens' })).body;
    const created = await t.auth.apiTokens.create(u.user.id, { name: 'all', scopes: ['*', 'admin'] });
    const api = groupApi(t, created.token);
    for (const res of [
      await api.list(),
      await api.create({ name: 'x' }),
      await api.get(group.id),
      await api.patch(group.id, { name: 'x' }),
      await api.delete(group.id),
      await api.members(group.id),
      await api.addMember(group.id, { user_id: u.user.id }),
      await api.invite(group.id, { username: u.username }),
      await api.invitations(),
      await api.accept('00000000-0000-4000-8000-000000000000'),
      await api.decline('00000000-0000-4000-8000-000000000000'),
      await api.setRoles(group.id, u.user.id, []),
      await api.removeMember(group.id, u.user.id),
      await api.addChild(group.id, group.id),
      await api.removeChild(group.id, group.id),
      await api.userGroups(),
      await api.createKey(group.id, { name: 'x' }),
      await api.listKeys(group.id),
      await api.deleteKey(group.id, 'abcdefgh'),
    ])
      expectError(res, 403, 'forbidden');
    // An impersonation token may look but change nothing.
    const admin = await registerAdmin(t);
    const imp = await t.auth.users.impersonate(admin.user.id, u.user.id);
    expect((await groupApi(t, imp.token).get(group.id)).status).toBe(200);
    expectError(await groupApi(t, imp.token).create({ name: 'as someone else' }), 403, 'forbidden');
    expectError(await groupApi(t, imp.token).delete(group.id), 403, 'forbidden');
    expectError(await groupApi(t, imp.token).createKey(group.id, { name: 'k' }), 403, 'forbidden');
    // Without credentials: 401.
    expectError(await t.http.get(`${BASE}/groups`), 401, 'unauthorized');
    expect((await t.http.get(`${BASE}/groups`).set(bearer(u.token))).status).toBe(200);
  });
});

describe('parent_id, site admins and missing credentials', () => {
  it('POST /groups with parent_id: admin of the parent 201; a plain member 403; a group the caller cannot see 400 naming parent_id', async () => {
    const owner = await registerUser(t);
    const member = await registerUser(t);
    const stranger = await registerUser(t);
    const parent = (await groupApi(t, owner.token).create({ name: 'Parent' })).body.group;
    await t.auth.groups.addMember(parent.id, { user_id: member.user.id });
    const child = await groupApi(t, owner.token).create({ name: 'Child', parent_id: parent.slug });
    expect(child.status).toBe(201);
    expectError(await groupApi(t, member.token).create({ name: 'Sneaky', parent_id: parent.id }), 403, 'forbidden');
    expectValidation(await groupApi(t, stranger.token).create({ name: 'Sneaky', parent_id: parent.id }), 'parent_id');
    expectValidation(await groupApi(t, stranger.token).create({ name: 'Sneaky', parent_id: 5 }), 'parent_id');
    expect((await groupApi(t, owner.token).get(parent.id)).body.children.map((g: { id: string }) => g.id)).toEqual([child.body.group.id]);
    // Nothing was created by the refused requests.
    expect((await groupApi(t, member.token).list()).body.groups.map((g: { id: string }) => g.id)).toEqual([parent.id]);
    expect((await groupApi(t, stranger.token).list()).body.groups).toEqual([]);
    // A site admin may hang a new group under anyone's group.
    const admin = await registerAdmin(t);
    expect((await groupApi(t, admin.token).create({ name: 'From above', parent_id: parent.id })).status).toBe(201);
  });

  it('a site admin deletes any group and manages its children; an unknown group answers 404 to every endpoint', async () => {
    const owner = await registerUser(t);
    const api = groupApi(t, owner.token);
    const parent = (await api.create({ name: 'P' })).body.group;
    const child = (await api.create({ name: 'C', parent_id: parent.id })).body.group;
    const admin = groupApi(t, (await registerAdmin(t)).token);
    expect((await admin.removeChild(parent.id, child.id)).status).toBe(200);
    expect((await admin.addChild(parent.id, child.slug)).status).toBe(201);
    expect((await admin.delete(parent.slug)).status).toBe(200);
    expectError(await api.get(parent.id), 404, 'not_found');
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const res of [
      await admin.get(missing),
      await admin.patch(missing, { name: 'x' }),
      await admin.delete(missing),
      await admin.members(missing),
      await admin.addMember(missing, { user_id: owner.user.id }),
      await admin.invite(missing, { username: owner.username }),
      await admin.setRoles(missing, owner.user.id, []),
      await admin.removeMember(missing, owner.user.id),
      await admin.addChild(missing, child.id),
      await admin.removeChild(missing, child.id),
      await admin.createKey(missing, { name: 'x' }),
      await admin.listKeys(missing),
      await admin.deleteKey(missing, 'abcdefgh'),
    ])
      expectError(res, 404, 'not_found');
  });

  it('every group endpoint and GET /{user}/groups without credentials: 401 with a Bearer challenge', async () => {
    const u = await registerUser(t);
    const { group } = (await groupApi(t, u.token).create({ name: 'Closed' })).body;
    const g = `${BASE}/groups/${group.id}`;
    for (const res of [
      await t.http.get(`${BASE}/groups`),
      await t.http.post(`${BASE}/groups`).send({ name: 'x' }),
      await t.http.get(g),
      await t.http.patch(g).send({ name: 'x' }),
      await t.http.delete(g),
      await t.http.get(`${g}/members`),
      await t.http.post(`${g}/members`).send({ user_id: u.user.id }),
      await t.http.post(`${g}/invitations`).send({ username: u.username }),
      await t.http.get(`${BASE}/me/invitations`),
      await t.http.post(`${BASE}/me/invitations/00000000-0000-4000-8000-000000000000/accept`),
      await t.http.patch(`${g}/members/${u.user.id}`).send({ roles: [] }),
      await t.http.delete(`${g}/members/${u.user.id}`),
      await t.http.post(`${g}/children`).send({ child_id: group.id }),
      await t.http.delete(`${g}/children/${group.id}`),
      await t.http.post(`${g}/api-tokens`).send({ name: 'x' }),
      await t.http.get(`${g}/api-tokens`),
      await t.http.delete(`${g}/api-tokens/abcdefgh`),
      await t.http.get(`${BASE}/me/groups`),
      await t.http.get(`${BASE}/${u.user.id}/groups`),
    ])
      expectError(res, 401, 'unauthorized');
    expect((await groupApi(t, u.token).get(group.id)).body.group).toEqual(group);
  });
});
