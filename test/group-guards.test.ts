import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { bearer, createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { databaseOptions, DB_KIND } from './helpers/database.js';
import { groupApi, joinByInvitation } from './helpers/groups.js';

// requireAuth({ group, groupRoles, permission, allowServiceKeys }), req.auth.groups, service keys
// and the guard context, through HTTP on routes of the host app (contract 5.6).

interface G {
  id: string;
  slug: string;
}

/** The host app's routes that these tests call, on any instance. */
function mountRoutes(app: express.Express, auth: AuthManager): void {
  // Typed as Express's own Request, as a host app writes it.
  const org = (req: express.Request) => req.params.org;
  const show = (req: express.Request, res: express.Response) => {
    res.json({ method: req.auth!.method, user: req.auth!.user, group: req.auth!.group ?? null, groups: req.auth!.groups, roles: req.auth!.roles });
  };
  app.get('/orgs/:org', auth.requireAuth({ group: org }), show);
  app.get('/orgs/:org/admin', auth.requireAuth({ group: org, groupRoles: ['admin'] }), show);
  app.get('/orgs/:org/edit', auth.requireAuth({ group: org, groupRoles: ['editor', 'admin'] }), show);
  app.get('/orgs/:org/reports', auth.requireAuth({ group: org, permission: 'reports:read' }), show);
  app.get('/acme-only', auth.requireAuth({ group: 'acme' }), show);
  app.get('/keys-welcome', auth.requireAuth({ allowServiceKeys: true }), show);
  app.get('/any', auth.requireAuth(), show);
  app.get('/permitted-reports', auth.requireAuth({ permission: 'reports:read' }), show);
}

const permissions = { 'reports:read': ['auditor'] };
let t: TestApp;
let owner: Awaited<ReturnType<typeof registerUser>>;
let acme: G;
let dept: G;
let team: G;

beforeAll(async () => {
  t = await createTestApp({ permissions, roles: ['admin', 'user', 'auditor'] });
  mountRoutes(t.app, t.auth);
  owner = await registerUser(t);
  const api = groupApi(t, owner.token);
  acme = (await api.create({ name: 'Acme', slug: 'acme' })).body.group;
  dept = (await api.create({ name: 'Acme R&D', parent_id: acme.id })).body.group;
  team = (await api.create({ name: 'Acme R&D Web', parent_id: dept.id })).body.group;
});
afterAll(() => t?.close());

const get = (path: string, token: string, header: 'bearer' | 'api' = 'bearer') =>
  t.http.get(path).set(header === 'bearer' ? bearer(token) : { 'X-API-Token': token });

describe('requireAuth({ group })', () => {
  it('lets members in, by slug or id, through a descendant too; others get 404 as for no group at all', async () => {
    const member = await registerUser(t);
    const outsider = await registerUser(t);
    expect((await joinByInvitation(t, owner.token, team.id, member, ['viewer'])).status).toBe(200);

    for (const ref of [acme.slug, acme.id, dept.slug, team.id]) {
      const res = await get(`/orgs/${ref}`, member.token);
      expect(res.status).toBe(200);
    }
    const direct = await get(`/orgs/${team.slug}`, member.token);
    expect(direct.body.groups.map((g: G) => g.slug).sort()).toEqual([acme.slug, dept.slug, team.slug].sort());
    expect(direct.body.groups.find((g: G) => g.id === team.id).roles).toEqual(['viewer']);

    for (const ref of [acme.slug, team.slug]) {
      const res = await get(`/orgs/${ref}`, outsider.token);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: 'group not found', code: 'not_found', status_code: 404 });
    }
    expect((await get('/orgs/no-such-group', member.token)).status).toBe(404);
    expect((await get(`/orgs/${'x'.repeat(300)}`, member.token)).status).toBe(404);
    expect((await get('/acme-only', member.token)).status).toBe(200);
    expect((await get('/acme-only', outsider.token)).status).toBe(404);
    // Unauthenticated: 401 first, the group is not looked at.
    expect((await t.http.get(`/orgs/${acme.slug}`)).status).toBe(401);
  });

  it('groupRoles: a member needs one of them; admin flows down the hierarchy, never up', async () => {
    const viewer = await registerUser(t);
    const editor = await registerUser(t);
    const teamAdmin = await registerUser(t);
    await t.auth.groups.addMember(acme.id, { user_id: viewer.user.id, roles: ['viewer'] });
    await t.auth.groups.addMember(acme.id, { user_id: editor.user.id, roles: ['editor'] });
    await t.auth.groups.addMember(team.id, { user_id: teamAdmin.user.id, roles: ['admin'] });

    expect((await get(`/orgs/acme/edit`, viewer.token)).status).toBe(403);
    expect((await get(`/orgs/acme/edit`, viewer.token)).body.code).toBe('forbidden');
    expect((await get(`/orgs/acme/edit`, editor.token)).status).toBe(200);
    expect((await get(`/orgs/acme/admin`, editor.token)).status).toBe(403);
    // The owner administers acme, so every group below it, without being a member there.
    expect((await get(`/orgs/${team.slug}/admin`, owner.token)).status).toBe(200);
    // A team admin is a member of acme (through the team) but not its admin.
    expect((await get(`/orgs/acme`, teamAdmin.token)).status).toBe(200);
    expect((await get(`/orgs/acme/admin`, teamAdmin.token)).status).toBe(403);
    expect((await get(`/orgs/${team.slug}/admin`, teamAdmin.token)).status).toBe(200);
  });

  it('a site admin acts as an admin of every group', async () => {
    const site = await registerAdmin(t);
    expect((await get(`/orgs/${team.slug}/admin`, site.token)).status).toBe(200);
  });

  it('membership changes apply to the next request: added, role changed, removed', async () => {
    const u = await registerUser(t);
    const api = groupApi(t, owner.token);
    expect((await get(`/orgs/acme`, u.token)).status).toBe(404); // and the instance has the user cached now
    await t.auth.groups.addMember(acme.id, { user_id: u.user.id });
    expect((await get(`/orgs/acme`, u.token)).status).toBe(200);
    expect((await get(`/orgs/acme/edit`, u.token)).status).toBe(403);
    await api.setRoles(acme.id, u.user.id, ['editor']);
    expect((await get(`/orgs/acme/edit`, u.token)).status).toBe(200);
    await api.removeMember(acme.id, u.user.id);
    expect((await get(`/orgs/acme`, u.token)).status).toBe(404);
  });

  it('hierarchy changes apply to the next request: a detached team takes its members out of the organization', async () => {
    const u = await registerUser(t);
    const api = groupApi(t, owner.token);
    const squad = (await api.create({ name: 'Squad', parent_id: dept.id })).body.group as G;
    await t.auth.groups.addMember(squad.id, { user_id: u.user.id });
    expect((await get(`/orgs/acme`, u.token)).status).toBe(200);
    expect((await api.removeChild(dept.id, squad.id)).status).toBe(200);
    expect((await get(`/orgs/acme`, u.token)).status).toBe(404);
    expect((await get(`/orgs/${squad.slug}`, u.token)).status).toBe(200);
    // A renamed slug: the old one names nothing at once, the new one works.
    expect((await api.patch(squad.id, { slug: 'squad-renamed' })).status).toBe(200);
    expect((await get(`/orgs/${squad.slug}`, u.token)).status).toBe(404);
    expect((await get('/orgs/squad-renamed', u.token)).status).toBe(200);
  });

  it("a user's API token: group and permission checks, with the token's scopes and the user's roles in the group", async () => {
    const auditor = await registerUser(t);
    await t.auth.groups.addMember(acme.id, { user_id: auditor.user.id, roles: ['auditor'] });
    const scoped = (await t.auth.apiTokens.create(auditor.user.id, { name: 'r', scopes: ['reports:read'] })).token;
    const unscoped = (await t.auth.apiTokens.create(auditor.user.id, { name: 'n', scopes: [] })).token;
    expect((await get('/orgs/acme/reports', scoped, 'api')).status).toBe(200);
    expect((await get('/orgs/acme/reports', unscoped, 'api')).status).toBe(403);
    expect((await get('/orgs/acme', unscoped, 'api')).body.groups.map((g: G) => g.slug)).toEqual(['acme']);
    // The site-wide `auditor` role does not grant it inside a group: the roles in that group do.
    const siteAuditor = await registerUser(t);
    await t.auth.users.setRoles(siteAuditor.user.id, ['user', 'auditor']);
    await t.auth.groups.addMember(acme.id, { user_id: siteAuditor.user.id });
    const { token: siteAuditorToken } = await t.auth.issueTokens(siteAuditor.user.id);
    expect((await get('/orgs/acme/reports', siteAuditorToken)).status).toBe(403);
    expect((await get('/permitted-reports', siteAuditorToken)).status).toBe(200);
    const stranger = await registerUser(t);
    const strangerKey = (await t.auth.apiTokens.create(stranger.user.id, { name: 's', scopes: ['reports:read'] })).token;
    expect((await get('/orgs/acme/reports', strangerKey, 'api')).status).toBe(404);
  });

  it('is a TypeError at setup when misused', () => {
    const bad: unknown[] = [{ group: '' }, { group: 42 }, { groupRoles: ['admin'] }, { group: 'acme', groupRoles: 'admin' }, { allowServiceKeys: 'yes' }];
    for (const options of bad) expect(() => t.auth.requireAuth(options as never)).toThrow(TypeError);
  });
});

describe('service keys', () => {
  let key: string;
  let keyId: string;

  beforeAll(async () => {
    const res = await groupApi(t, owner.token).createKey(dept.id, { name: 'ci', scopes: ['reports:read', 'editor'] });
    expect(res.status).toBe(201);
    key = res.body.token;
    keyId = res.body.id;
  });

  it('act for their group, not a person: refused by plain guards, admitted by allowServiceKeys', async () => {
    for (const header of ['bearer', 'api'] as const) {
      const plain = await get('/any', key, header);
      expect(plain.status).toBe(403);
      expect(plain.body.code).toBe('forbidden');
      const welcome = await get('/keys-welcome', key, header);
      expect(welcome.status).toBe(200);
      expect(welcome.body).toMatchObject({ method: 'service_key', user: null, roles: [], group: { id: dept.id, slug: dept.slug } });
      expect(welcome.body.groups.map((g: G) => g.id).sort()).toEqual([acme.id, dept.id].sort());
    }
  });

  it('pass group guards of their group with their scopes as roles, and of its ancestors as plain members', async () => {
    expect((await get(`/orgs/${dept.slug}`, key, 'api')).status).toBe(200);
    expect((await get('/orgs/acme', key, 'api')).status).toBe(200);
    expect((await get(`/orgs/${team.slug}`, key, 'api')).status).toBe(404);
    expect((await get(`/orgs/${dept.slug}/edit`, key, 'api')).status).toBe(200); // scope `editor`, in its own group
    expect((await get('/orgs/acme/edit', key, 'api')).status).toBe(403); // a plain member of the org
    expect((await get(`/orgs/${dept.slug}/admin`, key, 'api')).status).toBe(403);
    expect((await get('/orgs/acme/admin', key, 'api')).status).toBe(403);
    // Its scopes are roles: `reports:read` names an operation, not the role (`auditor`) that grants it.
    expect((await get(`/orgs/${dept.slug}/reports`, key, 'api')).status).toBe(403);
    const auditorKey = (await groupApi(t, owner.token).createKey(dept.id, { name: 'audit', scopes: ['auditor'] })).body.token;
    expect((await get(`/orgs/${dept.slug}/reports`, auditorKey, 'api')).status).toBe(200);
    expect((await get('/orgs/acme/reports', auditorKey, 'api')).status).toBe(403);
    // A permission alone is a site-level right: never a service key's.
    expect((await get('/permitted-reports', key, 'api')).status).toBe(403);
    expect((await get('/permitted-reports', auditorKey, 'api')).status).toBe(403);
    // A guard asking only for scopes does not say what a key is for: refused.
    expect((await get('/reports', key, 'api')).status).toBe(403);
  });

  it('never reach the library’s own endpoints', async () => {
    const reads = ['/login/profile', '/me/api-tokens', '/me/groups', '/me/integrations', '/me/identities', '/groups', `/groups/${dept.id}/members`];
    const adminReads = ['/admin/users', '/admin/roles', '/admin/events', `/admin/users/${owner.user.id}`];
    for (const path of [...reads, ...adminReads, '/mfa']) {
      for (const header of ['bearer', 'api'] as const) {
        const res = await get(`/api/v1/users${path}`, key, header);
        expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status: 403, code: 'forbidden' });
      }
    }
    // Writes too, including those that act on the key's own group or mint credentials.
    const writes: Array<[string, string, object]> = [
      ['post', `/groups/${dept.id}/api-tokens`, { name: 'minted by a key' }],
      ['post', `/groups/${dept.id}/members`, { user_id: owner.user.id }],
      ['post', '/groups', { name: 'made by a key' }],
      ['post', '/me/api-tokens', { name: 'x' }],
      ['post', '/logout-all', {}],
      ['post', `/${owner.user.id}/impersonate`, {}],
      ['post', '/admin/users', { username: 'bykey', email: 'bykey@example.com' }],
      ['delete', `/groups/${dept.id}/api-tokens/${keyId}`, {}],
    ];
    for (const [method, path, body] of writes) {
      const res = await t.http[method as 'post' | 'delete'](`/api/v1/users${path}`).set('X-API-Token', key).send(body);
      expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status: 403, code: 'forbidden' });
    }
    // And the key still works where it is meant to.
    expect((await get('/keys-welcome', key, 'api')).status).toBe(200);
  });

  it('a deleted key is refused at once', async () => {
    const extra = (await groupApi(t, owner.token).createKey(acme.id, { name: 'temp' })).body;
    expect((await get('/keys-welcome', extra.token, 'api')).status).toBe(200);
    expect((await groupApi(t, owner.token).deleteKey(acme.id, extra.id)).status).toBe(200);
    expect((await get('/keys-welcome', extra.token, 'api')).status).toBe(401);
    expect(keyId).toBeTruthy();
  });
});

describe('auth.guard context', () => {
  it('names the organization: the group asked for, else the only top-level group, else null', async () => {
    const u = await registerUser(t);
    await t.auth.groups.addMember(team.id, { user_id: u.user.id, roles: ['viewer'] });
    const asked = await t.auth.guard(u.token, { group: team.slug });
    expect(asked.is_authorized).toBe(true);
    expect(asked.context?.organization).toEqual({ id: team.id, slug: team.slug, name: 'Acme R&D Web' });
    expect(asked.context?.user?.id).toBe(u.user.id);

    const only = await t.auth.guard(u.token);
    expect(only.context?.organization).toEqual({ id: acme.id, slug: 'acme', name: 'Acme' });
    expect(only.context?.groups.map((g) => g.slug).sort()).toEqual([acme.slug, dept.slug, team.slug].sort());

    const other = (await groupApi(t, u.token).create({ name: 'Side project' })).body.group as G;
    const fresh = await t.auth.issueTokens(u.user.id);
    const two = await t.auth.guard(fresh.token);
    expect(two.context?.organization).toBeNull();
    expect(two.context?.groups.map((g) => g.id)).toContain(other.id);

    const refused = await t.auth.guard(u.token, { group: team.slug, groupRoles: ['admin'] });
    expect(refused).toMatchObject({ is_authenticated: true, is_authorized: false });
    expect(refused.error?.code).toBe('forbidden');
    const unseen = await t.auth.guard((await registerUser(t)).token, { group: 'acme' });
    expect(unseen.is_authorized).toBe(false);
    expect(unseen.error?.code).toBe('not_found');
    expect(unseen.context?.organization).toBeNull();
  });

  it('for a service key: no user, its group root as the organization', async () => {
    const key = (await groupApi(t, owner.token).createKey(team.id, { name: 'ctx' })).body.token as string;
    const result = await t.auth.guard(key);
    expect(result.auth?.method).toBe('service_key');
    expect(result.context).toMatchObject({ user: null, organization: { id: acme.id, slug: 'acme' } });
  });

  it('never throws, whatever it is given', async () => {
    for (const need of [{ group: 42 }, { group: '' }, { group: 'x'.repeat(500) }, { groupRoles: 'admin', group: 'acme' }]) {
      const r = await t.auth.guard(owner.token, need as never);
      expect(r.is_authenticated).toBe(true);
      expect(r.is_authorized).toBe(false);
    }
    expect((await t.auth.guard('garbage', { group: 'acme' })).context).toBeNull();
  });
});

describe.runIf(DB_KIND === 'postgres')('membership changes on another instance', () => {
  it('reach requireAuth({ group }) within 1 s', async () => {
    const appB = express();
    const b = new AuthManager(appB, {
      ...(await databaseOptions()),
      dbSchema: t.schema,
      jwtSecret: t.secret,
      rateLimit: false,
      permissions,
    });
    await b.ready;
    mountRoutes(appB, b);
    const httpB = request(appB);
    try {
      const u = await registerUser(t);
      const api = groupApi(t, owner.token);
      await t.auth.groups.addMember(acme.id, { user_id: u.user.id });
      const until = async (path: string, status: number) => {
        const start = Date.now();
        for (;;) {
          const res = await httpB.get(path).set(bearer(u.token));
          if (res.status === status) return Date.now() - start;
          if (Date.now() - start > 1000) throw new Error(`${path}: still ${res.status} after 1 s`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      await until('/orgs/acme', 200); // B has the user and the group cached now
      await api.removeMember(acme.id, u.user.id);
      expect(await until('/orgs/acme', 404)).toBeLessThan(1000);
      const squad = (await api.create({ name: 'Squad B', parent_id: acme.id })).body.group as G;
      await t.auth.groups.addMember(squad.id, { user_id: u.user.id });
      await until('/orgs/acme', 200);
      await api.removeChild(acme.id, squad.id);
      expect(await until('/orgs/acme', 404)).toBeLessThan(1000);
    } finally {
      await b.close();
    }
  });
});
