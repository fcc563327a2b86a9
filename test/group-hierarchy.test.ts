import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { expectError, expectValidation } from './helpers/endpoints.js';
import { groupApi, joinByInvitation } from './helpers/groups.js';
import { rawQuery } from './helpers/database.js';

// The hierarchy: a member of a group is a member of every ancestor; an admin of a group
// administers every descendant; children are added and removed by admins, never into a cycle,
// also when two requests that together would close one arrive at once.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

type G = { id: string; slug: string };

/** org > dept > team, all created by one user (admin of each). */
async function threeLevels() {
  const owner = await registerUser(t);
  const api = groupApi(t, owner.token);
  const org = (await api.create({ name: 'Org' })).body.group as G;
  const dept = (await api.create({ name: 'Dept', parent_id: org.id })).body.group as G;
  const team = (await api.create({ name: 'Team', parent_id: dept.slug })).body.group as G;
  return { owner, api, org, dept, team };
}

describe('inheritance through three levels', () => {
  it('a member of the team belongs to dept and org too (via the team), and sees them; not the other way', async () => {
    const { api, org, dept, team } = await threeLevels();
    const m = await registerUser(t);
    await t.auth.groups.addMember(team.id, { user_id: m.user.id, roles: ['editor'] });
    const res = await groupApi(t, m.token).userGroups();
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.map((e: { group: G }) => [e.group.id, e]));
    expect(Object.keys(byId).sort()).toEqual([org.id, dept.id, team.id].sort());
    // Roles hold only where granted: the inherited dept and org entries are plain memberships.
    expect(byId[team.id]).toMatchObject({ roles: ['editor'], is_admin: false, via: { id: team.id } });
    for (const g of [org, dept]) expect(byId[g.id]).toMatchObject({ roles: [], is_admin: false, via: { id: team.id } });
    // Listed and visible, but not administered.
    expect((await groupApi(t, m.token).list()).body.groups.map((g: G) => g.id).sort()).toEqual([org.id, dept.id, team.id].sort());
    for (const g of [org, dept, team]) expect((await groupApi(t, m.token).get(g.id)).status).toBe(200);
    expectError(await groupApi(t, m.token).patch(org.id, { name: 'x' }), 403, 'forbidden');
    // Direct members only in a member list.
    expect((await api.members(org.id)).body.members.map((x: { user: { id: string } }) => x.user.id)).not.toContain(m.user.id);
    // A member of the org only is no member of the team below.
    const top = await registerUser(t);
    await t.auth.groups.addMember(org.id, { user_id: top.user.id });
    expect((await groupApi(t, top.token).userGroups()).body.map((e: { group: G }) => e.group.id)).toEqual([org.id]);
    expectError(await groupApi(t, top.token).get(team.id), 404, 'not_found');
    expect(await t.auth.groups.membershipsOf(m.user.id)).toEqual(
      expect.arrayContaining([
        { id: org.id, slug: org.slug, roles: [] },
        { id: team.id, slug: team.slug, roles: ['editor'] },
      ]),
    );
  });

  it('an admin of the org administers dept and team (sees, edits, manages members) without being a member there', async () => {
    const { api, org, dept, team } = await threeLevels();
    const boss = await registerUser(t);
    await t.auth.groups.addMember(org.id, { user_id: boss.user.id, roles: ['admin'] });
    const b = groupApi(t, boss.token);
    expect((await b.get(team.id)).status).toBe(200);
    expect((await b.patch(team.id, { description: 'set from above' })).status).toBe(200);
    const m = await registerUser(t);
    // Members come by invitation, also from an admin above.
    const added = await joinByInvitation(t, boss.token, team.id, m);
    expect(added.status).toBe(200);
    // The boss is listed as admin where they are a direct member; in the team's list others show is_admin through the org.
    const owner = (await api.members(team.id)).body.members.find((x: { roles: string[] }) => x.roles.includes('admin'));
    expect(owner.is_admin).toBe(true);
    expect((await b.members(dept.id)).status).toBe(200);
    // GET /me/groups: the org only (admin flows down, membership flows up).
    const mine = (await b.userGroups()).body;
    expect(mine).toEqual([expect.objectContaining({ group: expect.objectContaining({ id: org.id }), roles: ['admin'], is_admin: true })]);
    // An admin of the team only does not administer the org.
    const lead = await registerUser(t);
    await t.auth.groups.addMember(team.id, { user_id: lead.user.id, roles: ['admin'] });
    const leadGroups = Object.fromEntries((await groupApi(t, lead.token).userGroups()).body.map((e: { group: G }) => [e.group.id, e]));
    expect(leadGroups[team.id]).toMatchObject({ roles: ['admin'], is_admin: true });
    expect(leadGroups[org.id]).toMatchObject({ roles: [], is_admin: false, via: { id: team.id } });
    expectError(await groupApi(t, lead.token).invite(org.id, { username: m.username }), 403, 'forbidden');
  });

  it('an inherited membership through two children carries neither child`s roles, via the nearest', async () => {
    const owner = await registerUser(t);
    const api = groupApi(t, owner.token);
    const top = (await api.create({ name: 'Top' })).body.group as G;
    const left = (await api.create({ name: 'Left', parent_id: top.id })).body.group as G;
    const right = (await api.create({ name: 'Right', parent_id: top.id })).body.group as G;
    const m = await registerUser(t);
    await t.auth.groups.addMember(left.id, { user_id: m.user.id, roles: ['reader'] });
    await t.auth.groups.addMember(right.id, { user_id: m.user.id, roles: ['writer'] });
    const entry = (await groupApi(t, m.token).userGroups()).body.find((e: { group: G }) => e.group.id === top.id);
    expect(entry.roles).toEqual([]);
    expect([left.id, right.id]).toContain(entry.via.id);
  });
});

describe('children', () => {
  it('GET shows parents and children; adding needs admin of both; removing needs admin of the parent', async () => {
    const { owner, api, org, dept, team } = await threeLevels();
    const detail = (await api.get(dept.id)).body;
    expect(detail.parents.map((g: G) => g.id)).toEqual([org.id]);
    expect(detail.children.map((g: G) => g.id)).toEqual([team.id]);
    // A second parent.
    const other = (await api.create({ name: 'Other' })).body.group as G;
    const added = await api.addChild(other.id, team.slug);
    expect(added.status).toBe(201);
    expect(added.body).toEqual({ success: true });
    expect((await api.get(team.id)).body.parents.map((g: G) => g.id).sort()).toEqual([dept.id, other.id].sort());
    expectError(await api.addChild(other.id, team.id), 409, 'conflict');
    // Someone else's group as child: they cannot see it (400 naming the field); one they see but do not administer: 403.
    const stranger = await registerUser(t);
    const foreign = (await groupApi(t, stranger.token).create({ name: 'Foreign' })).body.group as G;
    expectValidation(await api.addChild(other.id, foreign.id), 'child_id');
    await t.auth.groups.addMember(foreign.id, { user_id: owner.user.id });
    expectError(await api.addChild(other.id, foreign.id), 403, 'forbidden');
    expectValidation(await groupApi(t, stranger.token).addChild(foreign.id, other.id), 'child_id');
    expectError(await groupApi(t, stranger.token).addChild(other.id, foreign.id), 404, 'not_found');
    expectValidation(await api.addChild(other.id, ''), 'child_id');
    // Removing.
    expect((await api.removeChild(other.id, team.id)).body).toEqual({ success: true });
    expectError(await api.removeChild(other.id, team.id), 404, 'not_found');
    expectError(await api.removeChild(other.id, 'no-such-group'), 404, 'not_found');
  });

  it('refuses cycles (409): a group as its own child, an ancestor as a child', async () => {
    const { api, org, dept, team } = await threeLevels();
    expectError(await api.addChild(team.id, team.id), 409, 'conflict');
    expectError(await api.addChild(team.id, org.id), 409, 'conflict');
    expectError(await api.addChild(dept.id, org.slug), 409, 'conflict');
    expectError(await api.create({ name: 'x', parent_id: 'no-such-group' }), 400, 'validation_error');
  });

  it('two requests that together would close a cycle, at once: exactly one wins, no cycle is stored (every round)', async () => {
    for (let round = 0; round < 8; round++) {
      const owner = await registerUser(t);
      const api = groupApi(t, owner.token);
      const a = (await api.create({ name: 'A' })).body.group as G;
      const b = (await api.create({ name: 'B' })).body.group as G;
      const c = (await api.create({ name: 'C', parent_id: b.id })).body.group as G;
      // A -> B and C -> A: with B -> C already there, both together would make A -> B -> C -> A.
      const results = await Promise.all([api.addChild(a.id, b.id), api.addChild(c.id, a.id)]);
      expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
      const loser = results.find((r) => r.status === 409)!;
      expectError(loser, 409, 'conflict');
      const edges = await rawQuery<{ n: number }>(
        `select count(*)::int as n from "${t.schema}".group_parents where (parent_id, child_id) in (($1::uuid, $2::uuid), ($3::uuid, $1::uuid))`,
        [a.id, b.id, c.id],
      );
      expect(edges[0]!.n).toBe(1);
      // And the plain pair: D -> E and E -> D at once.
      const d = (await api.create({ name: 'D' })).body.group as G;
      const e = (await api.create({ name: 'E' })).body.group as G;
      const pair = await Promise.all([api.addChild(d.id, e.id), api.addChild(e.id, d.id)]);
      expect(pair.map((r) => r.status).sort()).toEqual([201, 409]);
      const stored = await rawQuery<{ n: number }>(
        `select count(*)::int as n from "${t.schema}".group_parents where (parent_id = $1 and child_id = $2) or (parent_id = $2 and child_id = $1)`,
        [d.id, e.id],
      );
      expect(stored[0]!.n).toBe(1);
    }
  });

  it('detaching a team takes its members out of the ancestors; deleting the dept detaches the team', async () => {
    const { api, org, dept, team } = await threeLevels();
    const m = await registerUser(t);
    await t.auth.groups.addMember(team.id, { user_id: m.user.id });
    expect((await groupApi(t, m.token).userGroups()).body).toHaveLength(3);
    // Each hierarchy edit is announced once, to every instance, for all the users it concerns.
    const announced = async () =>
      (await rawQuery<{ n: number }>(`select count(*)::int as n from "${t.schema}".revocation_log where event->>'groups' = 'true'`))[0]!.n;
    const before = await announced();
    expect((await api.delete(dept.id)).status).toBe(200);
    expect(await announced()).toBe(before + 1);
    expect((await groupApi(t, m.token).userGroups()).body.map((e: { group: G }) => e.group.id)).toEqual([team.id]);
    expect((await api.get(team.id)).body.parents).toEqual([]);
    await api.addChild(org.id, team.id);
    expect((await groupApi(t, m.token).userGroups()).body).toHaveLength(2);
    expect(await announced()).toBe(before + 2);
    await api.removeChild(org.id, team.id);
    expect((await groupApi(t, m.token).userGroups()).body).toHaveLength(1);
    expect(await announced()).toBe(before + 3);
  });
});

describe('inheritance both ways, through three levels, for every kind of change', () => {
  it('an org admin manages the team two levels down: members, children, service keys, deletion; GET /groups lists only what they belong to', async () => {
    const { api, org, dept, team } = await threeLevels();
    const boss = await registerUser(t);
    await t.auth.groups.addMember(org.id, { user_id: boss.user.id, roles: ['admin'] });
    const b = groupApi(t, boss.token);
    const m = await registerUser(t);
    expect((await joinByInvitation(t, boss.token, team.id, m)).status).toBe(200);
    expect((await b.setRoles(team.id, m.user.id, ['editor'])).body).toMatchObject({ roles: ['editor'], is_admin: false });
    expect((await b.removeMember(team.slug, m.user.id)).status).toBe(200);
    // Children of the dept and the team: admin of both (the dept through the org, the new group as its creator).
    const extra = (await b.create({ name: 'Extra' })).body.group as G;
    expect((await b.addChild(team.id, extra.id)).status).toBe(201);
    expect((await b.get(extra.id)).body.parents.map((g: G) => g.id)).toEqual([team.id]);
    expect((await b.removeChild(team.id, extra.id)).status).toBe(200);
    // Service keys of the team.
    const key = await b.createKey(team.id, { name: 'deploy' });
    expect(key.status).toBe(201);
    expect((await b.listKeys(team.slug)).body.map((k: { id: string }) => k.id)).toEqual([key.body.id]);
    expect((await b.deleteKey(team.id, key.body.id)).status).toBe(200);
    // Listed: the groups they belong to (the org), not every group they administer.
    expect((await b.list()).body.groups.map((g: G) => g.id).sort()).toEqual([org.id, extra.id].sort());
    // And deletion: the team goes, the dept stays under the org.
    expect((await b.delete(team.id)).status).toBe(200);
    expectError(await api.get(team.id), 404, 'not_found');
    expect((await api.get(dept.id)).body.parents.map((g: G) => g.id)).toEqual([org.id]);
  });

  it('a team admin sees the org and dept (member through the team) but changes nothing there (403)', async () => {
    const { owner, api, org, dept, team } = await threeLevels();
    const lead = await registerUser(t);
    await t.auth.groups.addMember(team.id, { user_id: lead.user.id, roles: ['admin'] });
    const l = groupApi(t, lead.token);
    for (const g of [org, dept]) {
      expect((await l.get(g.id)).status).toBe(200);
      expect((await l.members(g.id)).status).toBe(200);
      expectError(await l.patch(g.id, { name: 'x' }), 403, 'forbidden');
      expectError(await l.delete(g.id), 403, 'forbidden');
      expectError(await l.invite(g.id, { username: lead.username }), 403, 'forbidden');
      expectError(await l.addMember(g.id, { user_id: lead.user.id }), 403, 'forbidden');
      expectError(await l.setRoles(g.id, owner.user.id, []), 403, 'forbidden');
      expectError(await l.removeMember(g.id, owner.user.id), 403, 'forbidden');
      expectError(await l.createKey(g.id, { name: 'x' }), 403, 'forbidden');
      expectError(await l.listKeys(g.id), 403, 'forbidden');
    }
    // Children: admin of the parent needed (the dept), and of both to add.
    expectError(await l.removeChild(dept.id, team.id), 403, 'forbidden');
    const own = (await l.create({ name: 'Own' })).body.group as G;
    expectError(await l.addChild(dept.id, own.id), 403, 'forbidden');
    // The dept as a child of their own group: seen, not administered.
    expectError(await l.addChild(own.id, dept.id), 403, 'forbidden');
    // Nothing changed.
    expect((await api.get(dept.id)).body.children.map((g: G) => g.id)).toEqual([team.id]);
    expect((await api.members(org.id)).body.total).toBe(1);
  });

  it('a dept admin (the middle): administers the team below, is a plain member of the org above', async () => {
    const { org, dept, team } = await threeLevels();
    const mid = await registerUser(t);
    await t.auth.groups.addMember(dept.id, { user_id: mid.user.id, roles: ['admin', 'ops'] });
    const d = groupApi(t, mid.token);
    expect((await d.patch(team.id, { description: 'from the middle' })).status).toBe(200);
    expect((await d.members(team.id)).status).toBe(200);
    expect((await d.patch(dept.id, { description: 'own' })).status).toBe(200);
    expectError(await d.patch(org.id, { description: 'above' }), 403, 'forbidden');
    const mine = Object.fromEntries((await d.userGroups()).body.map((e: { group: G }) => [e.group.id, e]));
    expect(Object.keys(mine).sort()).toEqual([org.id, dept.id].sort());
    expect(mine[dept.id]).toMatchObject({ roles: ['admin', 'ops'], is_admin: true, via: { id: dept.id } });
    expect(mine[org.id]).toMatchObject({ roles: [], is_admin: false, via: { id: dept.id } });
  });

  it('a team member: role changes and leaving reach the inherited org and dept entries at once', async () => {
    const { api, org, dept, team } = await threeLevels();
    const m = await registerUser(t);
    await t.auth.groups.addMember(team.id, { user_id: m.user.id, roles: ['reader'] });
    const g = groupApi(t, m.token);
    expect((await g.members(org.id)).status).toBe(200);
    await api.setRoles(team.id, m.user.id, ['writer']);
    for (const e of (await g.userGroups()).body) expect(e).toMatchObject({ roles: e.group.id === team.id ? ['writer'] : [], is_admin: false });
    expect((await g.removeMember(team.id, 'me')).status).toBe(200);
    expect((await g.userGroups()).body).toEqual([]);
    for (const group of [org, dept, team]) expectError(await g.get(group.id), 404, 'not_found');
    expect((await g.list()).body.groups).toEqual([]);
  });
});
