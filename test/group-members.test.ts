import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { expectError, expectUserObject, expectValidation } from './helpers/endpoints.js';
import { groupApi } from './helpers/groups.js';
import { rawQuery } from './helpers/database.js';

// Members of a group: who may add, change and remove them; the last admin rule, also when two
// removals race; membership changes announced to every instance; GET /{user}/groups.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

/** A fresh user who created a fresh group (and so is its admin). */
async function ownedGroup(name = 'Team') {
  const owner = await registerUser(t);
  const { group } = (await groupApi(t, owner.token).create({ name })).body as { group: { id: string; slug: string } };
  return { owner, group, api: groupApi(t, owner.token) };
}

const code = (err: unknown) => (err as { code?: string }).code;
const memberIds = async (groupId: string) => (await t.auth.groups.listMembers(groupId)).members.map((m) => m.user.id);

describe('adding members directly (site admins only; others invite)', () => {
  it('a site admin adds by user_id, username or email (each trimmed/case-folded like sign-in); 201 {user, roles, is_admin} with the full user', async () => {
    const { group } = await ownedGroup();
    const api = groupApi(t, (await registerAdmin(t)).token);
    const [a, b, c] = [await registerUser(t), await registerUser(t), await registerUser(t)];
    const byId = await api.addMember(group.id, { user_id: a.user.id, roles: ['editor', 'editor'] });
    expect(byId.status, JSON.stringify(byId.body)).toBe(201);
    expect(Object.keys(byId.body).sort()).toEqual(['is_admin', 'roles', 'user']);
    expectUserObject(byId.body.user);
    expect(byId.body).toMatchObject({ user: { id: a.user.id }, roles: ['editor'], is_admin: false });
    const byName = await api.addMember(group.slug, { username: b.username.toUpperCase() });
    expect(byName.status).toBe(201);
    expect(byName.body).toMatchObject({ user: { id: b.user.id }, roles: [], is_admin: false });
    const byEmail = await api.addMember(group.id, { email: ` ${c.username}@EXAMPLE.com `, roles: ['admin'] });
    expect(byEmail.status).toBe(201);
    expect(byEmail.body).toMatchObject({ user: { id: c.user.id }, roles: ['admin'], is_admin: true });
    const list = await api.members(group.id);
    expect(list.body.total).toBe(4);
    expect(list.body.members.map((m: { user: { id: string } }) => m.user.id)).toEqual(expect.arrayContaining([a.user.id, b.user.id, c.user.id]));
  });

  it('409 for a member already there, 404 for an unknown user, 400 for no or several identifiers and bad roles', async () => {
    const { group } = await ownedGroup();
    const api = groupApi(t, (await registerAdmin(t)).token);
    const a = await registerUser(t);
    expect((await api.addMember(group.id, { user_id: a.user.id })).status).toBe(201);
    expectError(await api.addMember(group.id, { username: a.username }), 409, 'conflict');
    expectError(await api.addMember(group.id, { user_id: '00000000-0000-4000-8000-000000000000' }), 404, 'not_found');
    expectError(await api.addMember(group.id, { user_id: 'not-a-uuid' }), 404, 'not_found');
    expectError(await api.addMember(group.id, { email: 'nobody@example.com' }), 404, 'not_found');
    expectValidation(await api.addMember(group.id, {}), 'user_id');
    expectValidation(await api.addMember(group.id, { user_id: a.user.id, username: a.username }), 'user_id');
    expectValidation(await api.addMember(group.id, { user_id: 5 }), 'user_id');
    expectValidation(await api.addMember(group.id, { username: a.username, roles: ['Not A Role'] }), 'roles.0');
    expectValidation(await api.addMember(group.id, { username: a.username, roles: 'admin' }), 'roles');
  });

  it('a group admin gets 403 whoever they name, known or not (no lookup, no oracle), and nobody is added', async () => {
    // The attack: any user makes a throw-away group and adds (or probes) anyone by name or address.
    const { owner, group, api } = await ownedGroup();
    const victim = await registerUser(t);
    for (const body of [
      { user_id: victim.user.id },
      { username: victim.username },
      { email: `${victim.username}@example.com` },
      { email: 'nobody-at-all@example.com' },
      { username: 'nobody-at-all' },
      { user_id: '00000000-0000-4000-8000-000000000000' },
    ]) {
      const res = await api.addMember(group.id, body);
      expectError(res, 403, 'forbidden');
      expect(JSON.stringify(res.body)).not.toContain(victim.user.id);
    }
    expect((await api.members(group.id)).body.total).toBe(1);
    expect((await groupApi(t, victim.token).userGroups()).body).toEqual([]);
    // auth.groups as that group admin: the same rule.
    const asOwner = await t.auth.groups.addMember(group.id, { user_id: victim.user.id }, { actor: owner.user.id }).catch((e: unknown) => e);
    expect(code(asOwner)).toBe('forbidden');
    expect(await memberIds(group.id)).toEqual([owner.user.id]);
  });

  it('a plain member cannot add (403); a stranger gets 404; a site admin can add to any group', async () => {
    const { group } = await ownedGroup();
    const member = await registerUser(t);
    const stranger = await registerUser(t);
    await t.auth.groups.addMember(group.id, { user_id: member.user.id });
    expectError(await groupApi(t, member.token).addMember(group.id, { user_id: stranger.user.id }), 403, 'forbidden');
    expectError(await groupApi(t, stranger.token).addMember(group.id, { user_id: stranger.user.id }), 404, 'not_found');
    const admin = await registerAdmin(t);
    expect((await groupApi(t, admin.token).addMember(group.id, { user_id: stranger.user.id })).status).toBe(201);
    // Members see the member list; it shows direct members.
    const seen = await groupApi(t, member.token).members(group.id, '?limit=2');
    expect(seen.status).toBe(200);
    expect(seen.body.total).toBe(3);
    expect(seen.body.members).toHaveLength(2);
    expectValidation(await groupApi(t, member.token).members(group.id, '?limit=1000'), 'limit');
  });

  it('membership changes are announced to every instance (a revocation event for the user)', async () => {
    const { group, api } = await ownedGroup();
    const a = await registerUser(t);
    const announced = async () =>
      (await rawQuery<{ n: number }>(`select count(*)::int as n from "${t.schema}".revocation_log where event->>'user' = $1`, [a.user.id]))[0]!.n;
    const before = await announced();
    await t.auth.groups.addMember(group.id, { user_id: a.user.id });
    expect(await announced()).toBe(before + 1);
    await api.setRoles(group.id, a.user.id, ['editor']);
    expect(await announced()).toBe(before + 2);
    await api.removeMember(group.id, a.user.id);
    expect(await announced()).toBe(before + 3);
    // A refused change announces nothing.
    expectError(await api.removeMember(group.id, a.user.id), 404, 'not_found');
    expect(await announced()).toBe(before + 3);
  });
});

describe('changing roles and removing members', () => {
  it('PATCH roles by a group admin; 404 for a non-member; a member cannot change roles (403)', async () => {
    const { group, api } = await ownedGroup();
    const a = await registerUser(t);
    await t.auth.groups.addMember(group.id, { user_id: a.user.id });
    const res = await api.setRoles(group.id, a.user.id, ['admin', 'billing']);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: { id: a.user.id }, roles: ['admin', 'billing'], is_admin: true });
    const stranger = await registerUser(t);
    expectError(await api.setRoles(group.id, stranger.user.id, []), 404, 'not_found');
    expectValidation(await api.setRoles(group.id, a.user.id, undefined), 'roles');
    const b = await registerUser(t);
    await t.auth.groups.addMember(group.id, { user_id: b.user.id });
    expectError(await groupApi(t, b.token).setRoles(group.id, b.user.id, ['admin']), 403, 'forbidden');
  });

  it('a member may leave (also as `me`), but not remove others (403); an admin removes anyone', async () => {
    const { group, api } = await ownedGroup();
    const [a, b, c] = [await registerUser(t), await registerUser(t), await registerUser(t)];
    for (const u of [a, b, c]) await t.auth.groups.addMember(group.id, { user_id: u.user.id });
    expectError(await groupApi(t, a.token).removeMember(group.id, b.user.id), 403, 'forbidden');
    expect((await groupApi(t, a.token).removeMember(group.id, a.user.id)).body).toEqual({ success: true });
    expect((await groupApi(t, b.token).removeMember(group.id, 'me')).status).toBe(200);
    expect((await api.removeMember(group.id, c.user.id)).status).toBe(200);
    expect((await api.members(group.id)).body.total).toBe(1);
    // Gone members no longer see the group.
    expectError(await groupApi(t, a.token).get(group.id), 404, 'not_found');
  });

  it('the last admin cannot leave, be removed or lose admin (409); with a second admin they can', async () => {
    const { owner, group, api } = await ownedGroup();
    expectError(await api.removeMember(group.id, owner.user.id), 409, 'conflict');
    expectError(await api.setRoles(group.id, owner.user.id, ['member']), 409, 'conflict');
    const b = await registerUser(t);
    await t.auth.groups.addMember(group.id, { user_id: b.user.id, roles: ['admin'] });
    expect((await api.setRoles(group.id, owner.user.id, ['member'])).status).toBe(200);
    expectError(await groupApi(t, b.token).removeMember(group.id, 'me'), 409, 'conflict');
    // The rule holds for auth.groups acting as a group admin too.
    expect(code(await t.auth.groups.removeMember(group.id, b.user.id, { actor: b.user.id }).catch((e: unknown) => e))).toBe('conflict');
    expect(code(await t.auth.groups.setMemberRoles(group.id, b.user.id, [], { actor: b.user.id }).catch((e: unknown) => e))).toBe('conflict');
  });

  it('a site admin can always act: demotes or removes the last admin of a group (contract 5.6), audited', async () => {
    const { owner, group, api } = await ownedGroup();
    const siteAdmin = await registerAdmin(t);
    const sa = groupApi(t, siteAdmin.token);
    const demoted = await sa.setRoles(group.id, owner.user.id, ['member']);
    expect(demoted.status, JSON.stringify(demoted.body)).toBe(200);
    expect(demoted.body).toMatchObject({ roles: ['member'], is_admin: false });
    // The group has no admin now; its former admin gets 403 on admin work.
    expectError(await api.patch(group.id, { description: 'x' }), 403, 'forbidden');
    // A site admin makes them admin again, then removes the last admin outright.
    expect((await sa.setRoles(group.id, owner.user.id, ['admin'])).status).toBe(200);
    expect((await sa.removeMember(group.id, owner.user.id)).status).toBe(200);
    expect((await sa.members(group.id)).body).toEqual({ members: [], total: 0 });
    expectError(await api.get(group.id), 404, 'not_found');
    const events = await t.auth.events.list({ user_id: owner.user.id, type: 'group_member_removed' });
    expect(events[0]).toMatchObject({ actor_id: siteAdmin.user.id, data: { group_id: group.id } });
    // Trusted code (auth.groups, the CLI) keeps the rule unless it acts as a site admin.
    const other = await ownedGroup();
    expect(code(await t.auth.groups.removeMember(other.group.id, other.owner.user.id).catch((e: unknown) => e))).toBe('conflict');
    expect(code(await t.auth.groups.setMemberRoles(other.group.id, other.owner.user.id, []).catch((e: unknown) => e))).toBe('conflict');
    await t.auth.groups.removeMember(other.group.id, other.owner.user.id, { actor: siteAdmin.user.id });
    expect((await t.auth.groups.listMembers(other.group.id)).total).toBe(0);
  });

  it('two admins removing each other at once: exactly one wins, one admin remains (every round)', async () => {
    for (let round = 0; round < 6; round++) {
      const { owner, group, api } = await ownedGroup();
      const b = await registerUser(t);
      await t.auth.groups.addMember(group.id, { user_id: b.user.id, roles: ['admin'] });
      const [byOwner, byB] = await Promise.all([api.removeMember(group.id, b.user.id), groupApi(t, b.token).removeMember(group.id, owner.user.id)]);
      const statuses = [byOwner.status, byB.status].sort();
      // The loser is refused by the rule (409) or, when its own removal landed before its request
      // was checked, because it no longer sees the group (404).
      expect(statuses[0]).toBe(200);
      expect([404, 409]).toContain(statuses[1]);
      const admins = await rawQuery<{ n: number }>(`select count(*)::int as n from "${t.schema}".group_members where group_id = $1 and 'admin' = any(roles)`, [
        group.id,
      ]);
      expect(admins[0]!.n).toBe(1);
    }
  });

  it('an admin removed while changing the group is answered as an admin (200) or as a stranger (404), never 403 (every round)', async () => {
    // Whether the caller sees the group and whether they administer it come from one snapshot: in
    // between the two, the removal could commit and leave "a member who is no admin", which never was.
    for (let round = 0; round < 20; round++) {
      const { group, api } = await ownedGroup();
      const b = await registerUser(t);
      await t.auth.groups.addMember(group.id, { user_id: b.user.id, roles: ['admin'] });
      const asB = groupApi(t, b.token);
      const [removed, ...answers] = await Promise.all([
        api.removeMember(group.id, b.user.id),
        ...[1, 2, 3, 4].map((n) => asB.patch(group.id, { description: `round ${round}.${n}` })),
      ]);
      expect(removed.status).toBe(200);
      for (const res of answers) expect([200, 404], JSON.stringify(res.body)).toContain(res.status);
    }
  });

  it('two admins leaving at once (auth.groups): exactly one wins', async () => {
    for (let round = 0; round < 6; round++) {
      const { owner, group } = await ownedGroup();
      const b = await registerUser(t);
      await t.auth.groups.addMember(group.id, { user_id: b.user.id, roles: ['admin'] });
      const outcomes = await Promise.allSettled([
        t.auth.groups.removeMember(group.id, owner.user.id, { actor: owner.user.id }),
        t.auth.groups.setMemberRoles(group.id, b.user.id, ['member'], { actor: b.user.id }),
      ]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(code(outcomes.find((o) => o.status === 'rejected')?.reason)).toBe('conflict');
    }
  });
});

describe('GET /{user}/groups', () => {
  it('self (`me` or own id) or a site admin; anyone else 404', async () => {
    const { owner, group } = await ownedGroup('Mine');
    const mine = await groupApi(t, owner.token).userGroups();
    expect(mine.status).toBe(200);
    expect(mine.body).toEqual([
      { group: expect.objectContaining({ id: group.id }), roles: ['admin'], is_admin: true, via: expect.objectContaining({ id: group.id }) },
    ]);
    expect((await groupApi(t, owner.token).userGroups(owner.user.id)).body).toEqual(mine.body);
    const other = await registerUser(t);
    expectError(await groupApi(t, other.token).userGroups(owner.user.id), 404, 'not_found');
    expect((await groupApi(t, other.token).userGroups()).body).toEqual([]);
    const admin = await registerAdmin(t);
    expect((await groupApi(t, admin.token).userGroups(owner.user.id)).body).toEqual(mine.body);
  });
});

describe('member endpoints for someone who cannot see the group, and paging', () => {
  it('a stranger gets 404 from PATCH and DELETE of a member, and nothing changes; an unknown or malformed user id is 404', async () => {
    const { owner, group, api } = await ownedGroup();
    const stranger = groupApi(t, (await registerUser(t)).token);
    expectError(await stranger.setRoles(group.id, owner.user.id, []), 404, 'not_found');
    expectError(await stranger.removeMember(group.id, owner.user.id), 404, 'not_found');
    expectError(await stranger.removeMember(group.id, 'me'), 404, 'not_found');
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', 'ME']) {
      expectError(await api.setRoles(group.id, id, ['x']), 404, 'not_found');
      expectError(await api.removeMember(group.id, id), 404, 'not_found');
    }
    expect((await api.members(group.id)).body.members).toEqual([expect.objectContaining({ roles: ['admin'], is_admin: true })]);
  });

  it('limit and offset page the member list, oldest first; total counts them all', async () => {
    const { owner, group, api } = await ownedGroup();
    const added = [await registerUser(t), await registerUser(t), await registerUser(t)];
    for (const u of added) await t.auth.groups.addMember(group.id, { user_id: u.user.id });
    const order = [owner, ...added].map((u) => u.user.id);
    const pages = [];
    for (let offset = 0; offset < 4; offset += 2) pages.push(await api.members(group.id, `?limit=2&offset=${offset}`));
    expect(pages.map((p) => p.body.total)).toEqual([4, 4]);
    expect(pages.flatMap((p) => p.body.members.map((m: { user: { id: string } }) => m.user.id))).toEqual(order);
    expect((await api.members(group.id, '?offset=10')).body).toEqual({ members: [], total: 4 });
    expectValidation(await api.members(group.id, '?offset=x'), 'offset');
    expectValidation(await api.members(group.id, '?limit=1&limit=2'), 'limit');
  });
});
