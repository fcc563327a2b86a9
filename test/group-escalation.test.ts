import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { bearer, createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { databaseOptions, dropSchema, rawQuery, uniqueSchema } from './helpers/database.js';
import { expectError, expectValidation } from './helpers/endpoints.js';
import { groupApi, joinByInvitation } from './helpers/groups.js';

// The attacks of the review of groups and service keys, each as it was run against the old code
// (a slug that is another group's id, administration and roles passing up through subgroups and
// service keys, permissions granted to any service key, a subtree detached by a subordinate), and
// their variants. Each assertion marked "was" answered the other way before.

interface G {
  id: string;
  slug: string;
}

const permissions = { 'reports:delete': ['reports-admin'], 'payouts:approve': ['finance'] };

/** The host app's routes the attacks aim at, on any instance. */
function mountRoutes(app: express.Express, auth: AuthManager): void {
  const org = (req: express.Request) => req.params.org;
  const show = (req: express.Request, res: express.Response) => res.json({ method: req.auth!.method, groups: req.auth!.groups });
  app.get('/orgs/:org', auth.requireAuth({ group: org }), show);
  app.get('/orgs/:org/admin', auth.requireAuth({ group: org, groupRoles: ['admin'] }), show);
  app.get('/orgs/:org/finance', auth.requireAuth({ group: org, groupRoles: ['finance'] }), show);
  app.get('/orgs/:org/owner-finance', auth.requireAuth({ group: org, groupRoles: ['owner', 'finance'] }), show);
  app.post('/orgs/:org/payouts/approve', auth.requireAuth({ group: org, permission: 'payouts:approve' }), show);
  app.delete('/reports/:id', auth.requireAuth({ permission: 'reports:delete' }), show);
  app.post('/payouts/approve', auth.requireAuth({ permission: 'payouts:approve' }), show);
}

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ permissions, roles: ['admin', 'user', 'finance', 'reports-admin'] });
  mountRoutes(t.app, t.auth);
});
afterAll(() => t?.close());

const get = (path: string, token: string) => t.http.get(path).set(bearer(token));
const asKey = (method: 'get' | 'post' | 'delete', path: string, key: string) => t.http[method](path).set('X-API-Token', key);

/** An organization with a department and a team below it; `owner` administers the organization. */
async function orgChart() {
  const owner = await registerUser(t);
  const api = groupApi(t, owner.token);
  const org = (await api.create({ name: 'Org' })).body.group as G;
  const dept = (await api.create({ name: 'Dept', parent_id: org.id })).body.group as G;
  const team = (await api.create({ name: 'Team', parent_id: dept.id })).body.group as G;
  const lead = await registerUser(t);
  await t.auth.groups.addMember(team.id, { user_id: lead.user.id, roles: ['admin'] });
  return { owner, api, org, dept, team, lead, leadApi: groupApi(t, lead.token) };
}

/** Every spelling of an id that PostgreSQL's uuid type accepts within the slug alphabet. */
function idShapes(id: string): string[] {
  const hex = id.replaceAll('-', '');
  return [id, hex, hex.match(/.{4}/g)!.join('-'), `${hex.slice(0, 16)}-${hex.slice(16)}`];
}

describe('1. a slug is never an id', () => {
  it('refuses every id-shaped slug on create and PATCH (400), for an existing id or any other (was 201)', async () => {
    const { api, org } = await orgChart();
    const eve = groupApi(t, (await registerUser(t)).token);
    const own = (await eve.create({ name: 'Eve Co' })).body.group as G;
    const stranger = '3f2a9c1e-5b7d-4e2f-9a1b-0c8d7e6f5a4b';
    for (const slug of [...idShapes(org.id), ...idShapes(stranger)]) {
      expectValidation(await eve.create({ name: 'Trap', slug }), 'slug');
      expectValidation(await eve.patch(own.id, { slug }), 'slug');
      expectValidation(await api.patch(org.id, { slug }), 'slug');
    }
    // Upper case was never a slug; still a 400, not a group.
    expectValidation(await eve.create({ name: 'Trap', slug: org.id.toUpperCase() }), 'slug');
    // A name that is an id gives a slug that is not one.
    const named = (await eve.create({ name: org.id })).body.group as G;
    expect(named.slug).toBe(`group-${org.id}`);
    expect((await eve.get(org.id)).status).toBe(404);
    expect((await api.get(org.id)).body.group.id).toBe(org.id);
    // 31 hex digits: `-2` would make 32; the next free suffix that is not id-shaped is used.
    const thirtyOne = 'abcdef0123456789abcdef012345678';
    expect((await eve.create({ name: thirtyOne })).body.group.slug).toBe(thirtyOne);
    expect((await eve.create({ name: thirtyOne })).body.group.slug).toBe(`${thirtyOne}-10`);
  });

  it('the review`s attack: a group slugged with the victim`s id gives no standing in the victim`s org (was org admin)', async () => {
    const { owner, org } = await orgChart();
    const eve = await registerUser(t);
    const e = groupApi(t, eve.token);
    expectValidation(await e.create({ name: 'Mine', slug: org.id }), 'slug');
    const mine = (await e.create({ name: 'Mine' })).body.group as G;
    expectValidation(await e.patch(mine.id, { slug: org.id }), 'slug');
    // Eve warms the cache with her own group, then aims at the victim's id.
    expect((await get(`/orgs/${mine.slug}/admin`, eve.token)).status).toBe(200);
    for (const ref of [org.id, org.id.toUpperCase()]) {
      expectError(await get(`/orgs/${ref}/admin`, eve.token), 404, 'not_found');
      expect((await get(`/orgs/${ref}/admin`, owner.token)).status).toBe(200);
      const guarded = await t.auth.guard(eve.token, { group: ref, groupRoles: ['admin'] });
      expect(guarded).toMatchObject({ is_authenticated: true, is_authorized: false, error: { code: 'not_found' } });
      expect((await t.auth.guard(owner.token, { group: ref, groupRoles: ['admin'] })).is_authorized).toBe(true);
    }
  });

  it('the insider variant: a viewer of a team reads the org id from /me/groups and cannot turn it into a slug (was org admin)', async () => {
    const { org, team } = await orgChart();
    const viewer = await registerUser(t);
    await t.auth.groups.addMember(team.id, { user_id: viewer.user.id, roles: ['viewer'] });
    const v = groupApi(t, viewer.token);
    const seen = (await v.userGroups()).body.map((e: { group: G }) => e.group.id);
    expect(seen).toContain(org.id);
    for (const slug of idShapes(org.id)) expectValidation(await v.create({ name: 'Org?', slug }), 'slug');
    expectError(await get(`/orgs/${org.id}/admin`, viewer.token), 403, 'forbidden');
    expect((await get(`/orgs/${org.id}`, viewer.token)).status).toBe(200);
  });

  it('an id in upper case names the same group and is served from memory (no query per request)', async () => {
    // An app of its own: no hierarchy change is announced in it, so nothing drops its cache meanwhile.
    const fresh = await createTestApp();
    try {
      const owner = await registerUser(fresh);
      const api = groupApi(fresh, owner.token);
      const group = (await api.create({ name: 'Cached' })).body.group as G;
      expect((await fresh.auth.guard(owner.token, { group: group.id })).context?.organization?.name).toBe('Cached');
      // Renamed behind the library's back (no announcement): only a cached entry still has the old name.
      await rawQuery(`update "${fresh.schema}".groups set name = 'Renamed' where id = $1`, [group.id]);
      const upper = await fresh.auth.guard(owner.token, { group: group.id.toUpperCase(), groupRoles: ['admin'] });
      expect(upper.is_authorized).toBe(true);
      expect(upper.context?.organization?.name).toBe('Cached'); // was 'Renamed': read again on every request
      // The library's own endpoints take an upper-case id too.
      expect((await api.get(group.id.toUpperCase())).body.group.id).toBe(group.id);
    } finally {
      await fresh.close();
    }
  });

  it('a renamed slug and a deleted group`s slug taken by another group name the new group at once', async () => {
    const alice = await registerUser(t);
    const eve = await registerUser(t);
    const a = groupApi(t, alice.token);
    const e = groupApi(t, eve.token);
    const first = (await a.create({ name: 'Renamed', slug: 'renamed-1' })).body.group as G;
    expect((await get('/orgs/renamed-1/admin', alice.token)).status).toBe(200);
    expect((await a.patch(first.id, { slug: 'renamed-2' })).status).toBe(200);
    await e.create({ name: 'Squatter', slug: 'renamed-1' });
    expectError(await get('/orgs/renamed-1', alice.token), 404, 'not_found');
    expect((await get('/orgs/renamed-1/admin', eve.token)).status).toBe(200);
    expect((await get('/orgs/renamed-2/admin', alice.token)).status).toBe(200);

    const gone = (await a.create({ name: 'Gone', slug: 'gone-1' })).body.group as G;
    expect((await get('/orgs/gone-1/admin', alice.token)).status).toBe(200);
    expect((await a.delete(gone.id)).status).toBe(200);
    await e.create({ name: 'Reused', slug: 'gone-1' });
    expectError(await get('/orgs/gone-1', alice.token), 404, 'not_found');
    expect((await get('/orgs/gone-1/admin', eve.token)).status).toBe(200);
    expectError(await get(`/orgs/${gone.id}`, alice.token), 404, 'not_found');
  });
});

describe('2. service keys carry nothing upward', () => {
  it('a team admin`s key: `*` is refused; `admin`, `owner`, `finance` hold in the team only, a plain member above (was 200 at the org)', async () => {
    const { org, dept, team, leadApi } = await orgChart();
    for (const scopes of [['*'], ['admin', '*'], ['Admin'], ['a b']]) {
      const res = await leadApi.createKey(team.id, { name: 'k', scopes });
      expectError(res, 400, 'validation_error');
    }
    const res = await leadApi.createKey(team.id, { name: 'k', scopes: ['admin', 'owner', 'finance'] });
    expect(res.status).toBe(201);
    const key = res.body.token as string;
    for (const path of ['admin', 'finance', 'owner-finance']) {
      expect((await asKey('get', `/orgs/${team.slug}/${path}`, key)).status).toBe(200);
      for (const above of [org, dept]) {
        for (const ref of [above.id, above.slug, above.id.toUpperCase()]) {
          expectError(await asKey('get', `/orgs/${ref}/${path}`, key), 403, 'forbidden');
        }
      }
    }
    for (const above of [org, dept]) {
      expect((await asKey('get', `/orgs/${above.id}`, key)).status).toBe(200);
      const seen = await t.auth.guard(key, { group: above.id, groupRoles: ['admin'] });
      expect(seen).toMatchObject({ is_authenticated: true, is_authorized: false });
    }
    expect((await t.auth.guard(key, { group: team.id, groupRoles: ['admin'] })).is_authorized).toBe(true);
    // Its groups: its own with its scopes as roles is what guards use; the ancestors as plain memberships.
    const groups = (await asKey('get', `/orgs/${org.id}`, key)).body.groups as Array<{ id: string; roles: string[] }>;
    expect(groups.filter((g) => g.id !== team.id).every((g) => g.roles.length === 0)).toBe(true);
    expect(groups.find((g) => g.id === team.id)!.roles).toEqual(['admin', 'owner', 'finance']);
    // And no site-level right.
    expectError(await asKey('get', '/admin', key), 403, 'forbidden');
  });

  it('an existing `*` key (from before) stands for no role', async () => {
    const { org, team, leadApi } = await orgChart();
    const res = await leadApi.createKey(team.id, { name: 'old', scopes: ['editor'] });
    await rawQuery(`update "${t.schema}".api_tokens set scopes = '["*"]'::jsonb where id = $1`, [res.body.id]);
    const key = res.body.token as string;
    expect((await asKey('get', `/orgs/${team.id}`, key)).status).toBe(200);
    for (const g of [team, org]) expectError(await asKey('get', `/orgs/${g.id}/admin`, key), 403, 'forbidden');
    expectError(await asKey('post', `/orgs/${team.id}/payouts/approve`, key), 403, 'forbidden');
    expectError(await asKey('delete', '/reports/42', key), 403, 'forbidden');
  });
});

describe('3. a permission alone is never a service key`s; with a group it is the caller`s roles there', () => {
  it('Eve`s key of her own group passes no site permission (was 200 on DELETE /reports/42 and POST /payouts/approve)', async () => {
    const eve = await registerUser(t);
    const e = groupApi(t, eve.token);
    expectError(await t.http.delete('/reports/42').set(bearer(eve.token)), 403, 'forbidden');
    const personal = await t.auth.apiTokens.create(eve.user.id, { name: 'mine', scopes: ['*'] });
    expectError(await asKey('delete', '/reports/42', personal.token), 403, 'forbidden');
    const own = (await e.create({ name: 'Eve Inc' })).body.group as G;
    expectValidation(await e.createKey(own.id, { name: 'all', scopes: ['*'] }), 'scopes.0');
    const key = (await e.createKey(own.id, { name: 'roles', scopes: ['reports-admin', 'finance', 'admin'] })).body.token as string;
    for (const header of [{ 'X-API-Token': key }, bearer(key)]) {
      expectError(await t.http.delete('/reports/42').set(header), 403, 'forbidden');
      expectError(await t.http.post('/payouts/approve').set(header), 403, 'forbidden');
    }
    // In her own group, the key's roles there do grant it: that is the group's business only.
    expect((await asKey('post', `/orgs/${own.slug}/payouts/approve`, key)).status).toBe(200);
    expect((await t.auth.guard(key, { operation: 'payouts:approve' })).is_authorized).toBe(false);
    expect((await t.auth.guard(key, { operation: 'reports:delete' })).is_authorized).toBe(false);
    expect((await t.auth.guard(key, { operation: 'payouts:approve', group: own.id })).is_authorized).toBe(true);
    // Eve herself, as the group's admin, holds no `finance` there.
    expectError(await t.http.post(`/orgs/${own.slug}/payouts/approve`).set(bearer(eve.token)), 403, 'forbidden');
  });

  it('with a group: roles in that group grant it, not site roles, not roles below (users and keys alike)', async () => {
    const { owner, api, org, team } = await orgChart();
    const siteFinance = await registerUser(t);
    await t.auth.users.setRoles(siteFinance.user.id, ['user', 'finance']);
    await t.auth.groups.addMember(org.id, { user_id: siteFinance.user.id });
    const { token: siteToken } = await t.auth.issueTokens(siteFinance.user.id);
    expect((await t.http.post('/payouts/approve').set(bearer(siteToken))).status).toBe(200);
    expectError(await t.http.post(`/orgs/${org.id}/payouts/approve`).set(bearer(siteToken)), 403, 'forbidden');
    expect((await t.auth.guard(siteToken, { operation: 'payouts:approve', group: org.id })).is_authorized).toBe(false);

    const teamFinance = await registerUser(t);
    await t.auth.groups.addMember(team.id, { user_id: teamFinance.user.id, roles: ['finance'] });
    expect((await t.http.post(`/orgs/${team.id}/payouts/approve`).set(bearer(teamFinance.token))).status).toBe(200);
    expectError(await t.http.post(`/orgs/${org.id}/payouts/approve`).set(bearer(teamFinance.token)), 403, 'forbidden');

    const orgFinance = await registerUser(t);
    await t.auth.groups.addMember(org.id, { user_id: orgFinance.user.id, roles: ['finance'] });
    expect((await t.http.post(`/orgs/${org.slug}/payouts/approve`).set(bearer(orgFinance.token))).status).toBe(200);
    expect((await t.auth.guard(orgFinance.token, { operation: 'payouts:approve', group: org.id.toUpperCase() })).is_authorized).toBe(true);
    // A personal API token must also carry the operation.
    const narrow = await t.auth.apiTokens.create(orgFinance.user.id, { name: 'n', scopes: ['other'] });
    const wide = await t.auth.apiTokens.create(orgFinance.user.id, { name: 'w', scopes: ['payouts:approve'] });
    expectError(await asKey('post', `/orgs/${org.id}/payouts/approve`, narrow.token), 403, 'forbidden');
    expect((await asKey('post', `/orgs/${org.id}/payouts/approve`, wide.token)).status).toBe(200);

    const teamKey = (await api.createKey(team.id, { name: 'f', scopes: ['finance'] })).body.token as string;
    expect((await asKey('post', `/orgs/${team.id}/payouts/approve`, teamKey)).status).toBe(200);
    expectError(await asKey('post', `/orgs/${org.id}/payouts/approve`, teamKey), 403, 'forbidden');
    expect(owner.user.id).toBeTruthy();
  });
});

describe('4. group roles hold only where granted', () => {
  it('a team admin giving himself `finance` in the team does not pass the org`s `finance` guard (was 200)', async () => {
    const { org, dept, team, lead, leadApi } = await orgChart();
    expect((await leadApi.setRoles(team.id, lead.user.id, ['admin', 'finance', 'owner'])).status).toBe(200);
    expect((await get(`/orgs/${team.id}/finance`, lead.token)).status).toBe(200);
    for (const g of [org, dept]) {
      for (const path of ['finance', 'owner-finance', 'admin']) expectError(await get(`/orgs/${g.id}/${path}`, lead.token), 403, 'forbidden');
      expect((await t.auth.guard(lead.token, { group: g.slug, groupRoles: ['finance'] })).is_authorized).toBe(false);
    }
    const groups = Object.fromEntries(
      ((await get(`/orgs/${org.id}`, lead.token)).body.groups as Array<{ id: string; roles: string[] }>).map((g) => [g.id, g.roles]),
    );
    expect(groups).toEqual({ [org.id]: [], [dept.id]: [], [team.id]: ['admin', 'finance', 'owner'] });
    // Nor can he hand an org-level role to anyone through the team.
    const friend = await registerUser(t);
    await joinByInvitation(t, lead.token, team.id, { username: friend.user.username, token: friend.token }, ['finance']);
    expectError(await get(`/orgs/${org.id}/finance`, friend.token), 403, 'forbidden');
    const mine = (await groupApi(t, friend.token).userGroups()).body as Array<{ group: G; roles: string[] }>;
    expect(Object.fromEntries(mine.map((m) => [m.group.id, m.roles]))).toEqual({ [org.id]: [], [dept.id]: [], [team.id]: ['finance'] });
  });

  it('admin still flows down: an org admin holds `admin` in the team, not its other roles', async () => {
    const { owner, team } = await orgChart();
    expect((await get(`/orgs/${team.id}/admin`, owner.token)).status).toBe(200);
    expectError(await get(`/orgs/${team.id}/finance`, owner.token), 403, 'forbidden');
  });
});

describe('9. detaching or deleting cannot take a group away from the admins above', () => {
  it('a team admin who made himself admin of a child group cannot detach it from the org`s subtree (was 200)', async () => {
    const { owner, api, org, team, lead, leadApi } = await orgChart();
    // He creates the child under his team, so he is its direct admin.
    const child = (await leadApi.create({ name: 'Child', parent_id: team.id })).body.group as G;
    expect((await api.members(child.id)).body.members.map((m: { user: { id: string } }) => m.user.id)).toEqual([lead.user.id]);
    expectError(await leadApi.removeChild(team.id, child.id), 403, 'forbidden');
    expectError(await leadApi.delete(team.id), 403, 'forbidden');
    // Nothing changed: the org's admin still administers the child.
    expect((await api.patch(child.id, { description: 'still mine' })).status).toBe(200);
    expect((await get(`/orgs/${child.id}/admin`, owner.token)).status).toBe(200);
    // An org admin may detach it (and a site admin may do anything).
    expect((await api.removeChild(team.id, child.id)).status).toBe(200);
    expectError(await api.get(child.id), 404, 'not_found');
    const admin = groupApi(t, (await registerAdmin(t)).token);
    const again = (await leadApi.create({ name: 'Child 2', parent_id: team.id })).body.group as G;
    expect((await admin.removeChild(team.id, again.id)).status).toBe(200);
    expect(org.id).toBeTruthy();
  });

  it('detaching is fine when nothing leaves anyone`s subtree, or the caller administers everything it leaves', async () => {
    const { api, org, dept, team, lead, leadApi } = await orgChart();
    const child = (await leadApi.create({ name: 'Twice', parent_id: team.id })).body.group as G;
    // Also a child of the org itself: detaching it from the team would still take it out of the
    // dept's subtree, which he does not administer.
    expect((await api.addChild(org.id, child.id)).status).toBe(201);
    expectError(await leadApi.removeChild(team.id, child.id), 403, 'forbidden');
    // Also a child of the dept: only the team loses it, and he administers the team.
    expect((await api.addChild(dept.id, child.id)).status).toBe(201);
    expect((await leadApi.removeChild(team.id, child.id)).status).toBe(200);
    // A team of his own at the top: he administers everything above the child.
    const own = (await leadApi.create({ name: 'Own' })).body.group as G;
    const sub = (await leadApi.create({ name: 'Own sub', parent_id: own.id })).body.group as G;
    expect((await leadApi.removeChild(own.id, sub.id)).status).toBe(200);
    // Deleting his team (no children left) is his to do.
    expect((await leadApi.delete(team.id)).status).toBe(200);
    expect(lead.user.id).toBeTruthy();
  });
});

describe('two instances', () => {
  let b: AuthManager;
  let httpB: ReturnType<typeof request>;
  beforeAll(async () => {
    const appB = express();
    b = new AuthManager(appB, { ...(await databaseOptions()), dbSchema: t.schema, jwtSecret: t.secret, rateLimit: false, logger: false, permissions });
    await b.ready;
    mountRoutes(appB, b);
    httpB = request(appB);
  });
  afterAll(() => b?.close());

  /** GET `path` on instance B as `token` until it answers `status` (within 1 s). */
  async function untilB(path: string, token: string, status: number): Promise<void> {
    const start = Date.now();
    for (;;) {
      const res = await httpB.get(path).set(bearer(token));
      if (res.status === status) return;
      if (Date.now() - start > 1000) throw new Error(`${path}: still ${res.status} after 1 s, not ${status}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('a renamed or deleted group`s slug taken by another group never reaches the old entry on the other instance', async () => {
    const alice = await registerUser(t);
    const eve = await registerUser(t);
    const a = groupApi(t, alice.token);
    const e = groupApi(t, eve.token);
    const first = (await a.create({ name: 'Moving', slug: 'moving-b' })).body.group as G;
    await untilB('/orgs/moving-b/admin', alice.token, 200); // cached on B by slug and id
    await untilB(`/orgs/${first.id.toUpperCase()}/admin`, alice.token, 200);
    expect((await a.patch(first.id, { slug: 'moved-b' })).status).toBe(200);
    await e.create({ name: 'Taker', slug: 'moving-b' });
    await untilB('/orgs/moving-b/admin', eve.token, 200);
    await untilB('/orgs/moving-b', alice.token, 404);
    await untilB('/orgs/moved-b/admin', alice.token, 200);

    const doomed = (await a.create({ name: 'Doomed', slug: 'doomed-b' })).body.group as G;
    await untilB('/orgs/doomed-b/admin', alice.token, 200);
    expect((await a.delete(doomed.id)).status).toBe(200);
    await e.create({ name: 'Heir', slug: 'doomed-b' });
    await untilB('/orgs/doomed-b/admin', eve.token, 200);
    await untilB('/orgs/doomed-b', alice.token, 404);
    await untilB(`/orgs/${doomed.id}`, alice.token, 404);
  });

  it('a key of a team on the other instance: its roles in the team, a plain member of every ancestor', async () => {
    const { org, dept, team, leadApi, lead } = await orgChart();
    const key = (await leadApi.createKey(team.id, { name: 'b', scopes: ['admin', 'finance'] })).body.token as string;
    for (const path of ['admin', 'finance']) {
      expect((await httpB.get(`/orgs/${team.id.toUpperCase()}/${path}`).set('X-API-Token', key)).status).toBe(200);
      for (const g of [org, dept]) expect((await httpB.get(`/orgs/${g.slug}/${path}`).set('X-API-Token', key)).status).toBe(403);
    }
    expect((await httpB.post('/payouts/approve').set('X-API-Token', key)).status).toBe(403);
    // A role given in the team reaches B at once, and only in the team.
    await untilB(`/orgs/${team.id}/finance`, lead.token, 403);
    expect((await leadApi.setRoles(team.id, lead.user.id, ['admin', 'finance'])).status).toBe(200);
    await untilB(`/orgs/${team.id}/finance`, lead.token, 200);
    await untilB(`/orgs/${org.id}/finance`, lead.token, 403);
  });
});

describe('migration 0011', () => {
  it('renames id-shaped slugs (recorded as events), strips `*` from service keys, and the database refuses such slugs from then on', async () => {
    const schema = uniqueSchema('slugs');
    const options = { ...(await databaseOptions()), dbSchema: schema, jwtSecret: t.secret, bcryptRounds: 4, rateLimit: false as const, logger: false as const };
    const before = new AuthManager(null, options);
    try {
      await before.ready;
      const victim = await before.groups.create({ name: 'Victim' });
      const squatter = await before.groups.create({ name: 'Squatter' });
      const hex = await before.groups.create({ name: 'Hex' });
      const key = await before.groups.serviceKeys.create(squatter.id, { name: 'old', scopes: ['editor'] });
      // The schema as the previous release left it: no constraint, 0011 not applied, such rows present.
      await rawQuery(`alter table "${schema}".groups drop constraint groups_slug_not_id_shaped`);
      // 0011 and every later migration run again (those after it are written to be re-runnable).
      await rawQuery(`delete from "${schema}".authlib_migrations where name >= '0011'`);
      await rawQuery(`update "${schema}".groups set slug = $1 where id = $2`, [victim.id, squatter.id]);
      await rawQuery(`update "${schema}".groups set slug = $1 where id = $2`, [victim.id.replaceAll('-', ''), hex.id]);
      // The name the squatter would get is taken already: the next one is used.
      const wanted = `group-${squatter.id.replaceAll('-', '').slice(0, 8)}`;
      await before.groups.create({ name: 'Taken', slug: wanted });
      await rawQuery(`update "${schema}".api_tokens set scopes = '["*", "editor"]'::jsonb where id = $1`, [key.id]);
    } finally {
      await before.close();
    }
    const after = new AuthManager(null, options);
    try {
      await after.ready;
      const rows = await rawQuery<{ id: string; slug: string }>(`select id, slug from "${schema}".groups`);
      const slugs = new Map(rows.map((r) => [r.id, r.slug]));
      const squatterId = rows.find((r) => r.slug.startsWith('group-') && r.slug.endsWith('-2'))!.id;
      expect(slugs.get(squatterId)).toBe(`group-${squatterId.replaceAll('-', '').slice(0, 8)}-2`);
      for (const slug of slugs.values()) expect(slug.replaceAll('-', '')).not.toMatch(/^[0-9a-f]{32}$/);
      const events = await rawQuery<{ data: { group_id: string; previous_slug: string; slug: string; reason: string } }>(
        `select data from "${schema}".auth_events where type = 'group_updated' order by data->>'slug'`,
      );
      expect(events.map((e) => e.data.reason)).toEqual(['slug_shaped_like_an_id', 'slug_shaped_like_an_id']);
      expect(events.map((e) => e.data.slug).sort()).toEqual(events.map((e) => slugs.get(e.data.group_id)).sort());
      const keys = await rawQuery<{ scopes: string[] }>(`select scopes from "${schema}".api_tokens where group_id is not null`);
      expect(keys.map((k) => k.scopes)).toEqual([['editor']]);
      await expect(rawQuery(`update "${schema}".groups set slug = $1 where id = $2`, [squatterId, squatterId])).rejects.toMatchObject({ code: '23514' });
    } finally {
      await after.close();
      await dropSchema(schema);
    }
  });
});
