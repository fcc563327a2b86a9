import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { expectError, loginOk } from './helpers/endpoints.js';
import { groupApi } from './helpers/groups.js';

// Site admin is the held `adminRole` only: a role that implies it (roleImplications) gives its
// holder the admin's effective roles for guards, but not the site admin's power over groups. On the
// old code an `owner` (implying `admin`) read, edited, joined and dismantled every group.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({
    roles: ['admin', 'user', 'owner', 'chief', 'deputy'],
    roleImplications: { owner: ['admin'], chief: ['deputy'], deputy: ['admin'] },
  });
});
afterAll(() => t?.close());

describe('a role that implies adminRole is not a site admin of groups', () => {
  for (const role of ['owner', 'chief']) {
    it(`${role}: no group it is not in is seen, edited, joined or dismantled`, async () => {
      const alice = await registerUser(t);
      const alices = groupApi(t, alice.token);
      const org = (await alices.create({ name: `Org ${role}` })).body.group as { id: string; slug: string };
      const team = (await alices.create({ name: `Team ${role}`, parent_id: org.id })).body.group as { id: string };
      const holder = await registerUser(t);
      await t.auth.users.setRoles(holder.user.id, ['user', role]);
      const api = groupApi(t, (await loginOk(t, holder.username)).token);
      expect(((await api.list()).body.groups as Array<{ id: string }>).map((g) => g.id)).not.toContain(org.id);
      expectError(await api.get(org.id), 404, 'not_found');
      expectError(await api.members(org.id), 404, 'not_found');
      expectError(await api.patch(org.slug, { name: 'taken' }), 404, 'not_found');
      expectError(await api.addMember(org.id, { user_id: holder.user.id, roles: ['admin'] }), 404, 'not_found');
      expectError(await api.invite(org.id, { username: holder.username, roles: ['admin'] }), 404, 'not_found');
      expectError(await api.setRoles(org.id, alice.user.id, []), 404, 'not_found');
      expectError(await api.removeChild(org.id, team.id), 404, 'not_found');
      expectError(await api.delete(team.id), 404, 'not_found');
      expect((await alices.get(org.id)).body.children).toHaveLength(1);
    });
  }
});
