import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../examples/orgs/app.js';
import { databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';
import { mailbox } from './helpers/mailbox.js';

// examples/orgs: a multi-tenant API where each organization is a group, driven as its users would.
describe('examples/orgs', () => {
  const schema = uniqueSchema('orgs');
  let demo: ReturnType<typeof createApp>;
  let http: ReturnType<typeof request>;
  const box = mailbox();

  beforeAll(async () => {
    demo = createApp({
      ...(await databaseOptions()),
      dbSchema: schema,
      jwtSecret: 'o'.repeat(40),
      bcryptRounds: 4,
      rateLimit: false,
      roles: ['admin', 'user', 'auditor'],
      mailer: box.mailer,
    });
    await demo.auth.ready;
    http = request(demo.app);
  });
  afterAll(async () => {
    await demo.auth.close();
    await dropSchema(schema);
  });

  const register = async (username: string) => {
    const res = await http.post('/api/v1/users/register').send({ username, password: 'correct horse battery', email: `${username}@example.com` });
    expect(res.status).toBe(201);
    return { id: res.body.user.id as string, auth: { Authorization: `Bearer ${res.body.token}` } };
  };

  it('keeps each organization to its members, by their role in it', async () => {
    const alice = await register('alice');
    // Inviting needs a proven address: Alice's is vouched for (as if she confirmed her link with her password).
    await demo.auth.users.update(alice.id, { email_verified: true });
    const bob = await register('bob');
    const carol = await register('carol');

    // Alice founds Acme and becomes its admin; Acme Web is a team inside it.
    const acme = (await http.post('/api/v1/users/groups').set(alice.auth).send({ name: 'Acme' })).body.group;
    expect(acme.slug).toBe('acme');
    const web = (await http.post('/api/v1/users/groups').set(alice.auth).send({ name: 'Acme Web', parent_id: acme.id })).body.group;

    expect((await http.post('/orgs/acme/projects').set(alice.auth).send({ name: 'Website' })).status).toBe(201);
    expect((await http.get('/orgs/acme/projects')).status).toBe(401);
    // Bob is not in Acme: the organization does not exist for him.
    expect((await http.get('/orgs/acme/projects').set(bob.auth)).status).toBe(404);

    // Alice invites Bob; he joins when he accepts (adding him without asking is for site admins).
    expect((await http.post(`/api/v1/users/groups/${acme.id}/members`).set(alice.auth).send({ user_id: bob.id })).status).toBe(403);
    expect((await http.post('/api/v1/users/groups/acme/invitations').set(alice.auth).send({ username: 'bob' })).status).toBe(202);
    expect((await http.get('/orgs/acme/projects').set(bob.auth)).status).toBe(404);
    const [invitation] = (await http.get('/api/v1/users/me/invitations').set(bob.auth)).body;
    expect(invitation).toMatchObject({ group: { slug: 'acme' }, roles: [], invited_by: { username: 'alice' } });
    expect((await http.post(`/api/v1/users/me/invitations/${invitation.id}/accept`).set(bob.auth)).body).toMatchObject({ group: { slug: 'acme' } });

    // A plain member reads, an editor writes, only admins delete.
    const list = await http.get('/orgs/acme/projects').set(bob.auth);
    expect(list.status).toBe(200);
    expect(list.body.projects.map((p: { name: string }) => p.name)).toEqual(['Website']);
    expect((await http.post('/orgs/acme/projects').set(bob.auth).send({ name: 'Blog' })).status).toBe(403);
    await http
      .patch(`/api/v1/users/groups/acme/members/${bob.id}`)
      .set(alice.auth)
      .send({ roles: ['editor'] });
    const blog = await http.post('/orgs/acme/projects').set(bob.auth).send({ name: 'Blog' });
    expect(blog.status).toBe(201);
    expect(blog.body.created_by).toBe('bob');
    expect((await http.delete(`/orgs/acme/projects/${blog.body.id}`).set(bob.auth)).status).toBe(403);
    expect((await http.delete(`/orgs/acme/projects/${blog.body.id}`).set(alice.auth)).status).toBe(200);

    // Carol is invited to the team by her address: the mail tells her; once her address is
    // verified the invitation is hers. In the team, she is in Acme too; she reads but does not write.
    await http.post(`/api/v1/users/groups/${web.id}/invitations`).set(alice.auth).send({ email: 'carol@example.com' });
    // The mail names no group or inviter (user-chosen text); she sees them once signed in.
    expect((await box.next('group_invitation', 'carol@example.com')).subject).toContain('invited to join a group');
    expect((await http.get('/api/v1/users/me/invitations').set(carol.auth)).body).toEqual([]);
    await demo.auth.users.update(carol.id, { email_verified: true });
    const [toCarol] = (await http.get('/api/v1/users/me/invitations').set(carol.auth)).body;
    expect((await http.post(`/api/v1/users/me/invitations/${toCarol.id}/accept`).set(carol.auth)).status).toBe(200);
    expect((await http.get(`/orgs/${acme.id}/projects`).set(carol.auth)).status).toBe(200);
    expect((await http.post('/orgs/acme/projects').set(carol.auth).send({ name: 'x' })).status).toBe(403);

    // The report needs `auditor` in Acme itself: not a site role, not a role in the team below.
    expect((await http.get('/orgs/acme/report').set(carol.auth)).status).toBe(403);
    await demo.auth.users.setRoles(carol.id, ['user', 'auditor']);
    const relogin = await http.post('/api/v1/users/login').send({ username: 'carol', password: 'correct horse battery' });
    carol.auth = { Authorization: `Bearer ${relogin.body.token}` };
    expect((await http.get('/orgs/acme/report').set(carol.auth)).status).toBe(403);
    await http
      .patch(`/api/v1/users/groups/${web.id}/members/${carol.id}`)
      .set(alice.auth)
      .send({ roles: ['auditor', 'editor'] });
    expect((await http.get('/orgs/acme/report').set(carol.auth)).status).toBe(403);
    expect((await http.post('/orgs/acme/projects').set(carol.auth).send({ name: 'x' })).status).toBe(403);
    await http
      .patch(`/api/v1/users/groups/acme/members/${bob.id}`)
      .set(alice.auth)
      .send({ roles: ['auditor', 'editor'] });
    expect((await http.get('/orgs/acme/report').set(bob.auth)).body).toEqual({ org: 'acme', projects: 1 });
    // An id in upper case names the same organization.
    expect((await http.get(`/orgs/${acme.id.toUpperCase()}/report`).set(bob.auth)).body).toEqual({ org: 'acme', projects: 1 });

    // Removing Bob closes Acme to him at once.
    await http.delete(`/api/v1/users/groups/acme/members/${bob.id}`).set(alice.auth);
    expect((await http.get('/orgs/acme/projects').set(bob.auth)).status).toBe(404);

    // A service key of Acme reads its projects; it cannot write without a role-like scope.
    const key = (
      await http
        .post('/api/v1/users/groups/acme/api-tokens')
        .set(alice.auth)
        .send({ name: 'ci', scopes: ['editor'] })
    ).body.token;
    expect((await http.get('/orgs/acme/projects').set('X-API-Token', key)).status).toBe(200);
    const byKey = await http.post('/orgs/acme/projects').set('X-API-Token', key).send({ name: 'Nightly' });
    expect(byKey.status).toBe(201);
    expect(byKey.body.created_by).toBe('service key of acme');
    const other = (await http.post('/api/v1/users/groups').set(bob.auth).send({ name: 'Other Co' })).body.group;
    expect((await http.get(`/orgs/${other.slug}/projects`).set('X-API-Token', key)).status).toBe(404);
    // A key's scopes are its roles in its own group: `auditor` reads Acme's report.
    const auditKey = (
      await http
        .post('/api/v1/users/groups/acme/api-tokens')
        .set(alice.auth)
        .send({ name: 'audit', scopes: ['auditor'] })
    ).body.token;
    expect((await http.get('/orgs/acme/report').set('X-API-Token', auditKey)).body).toEqual({ org: 'acme', projects: 2 });
    expect((await http.get('/orgs/acme/report').set('X-API-Token', key)).status).toBe(403);
    // A key of the team is a plain member of Acme, whatever its scopes there; `*` is no scope of a key.
    const teamKey = await http
      .post(`/api/v1/users/groups/${web.id}/api-tokens`)
      .set(alice.auth)
      .send({ name: 'team', scopes: ['admin', 'editor', 'auditor'] });
    expect(teamKey.status).toBe(201);
    expect((await http.get('/orgs/acme/projects').set('X-API-Token', teamKey.body.token)).status).toBe(200);
    expect((await http.post('/orgs/acme/projects').set('X-API-Token', teamKey.body.token).send({ name: 'x' })).status).toBe(403);
    expect((await http.get('/orgs/acme/report').set('X-API-Token', teamKey.body.token)).status).toBe(403);
    const star = await http
      .post('/api/v1/users/groups/acme/api-tokens')
      .set(alice.auth)
      .send({ name: 'all', scopes: ['*'] });
    expect(star.status).toBe(400);
    expect(star.body.code).toBe('validation_error');
  });
});
