import { bearer, type TestApp } from './app.js';
import { BASE } from './endpoints.js';

/** Requests to the group endpoints as `token`. */
export function groupApi(t: TestApp, token: string) {
  const auth = bearer(token);
  const g = (id: string) => `${BASE}/groups/${encodeURIComponent(id)}`;
  return {
    list: (query = '') => t.http.get(`${BASE}/groups${query}`).set(auth),
    create: (body: Record<string, unknown>) => t.http.post(`${BASE}/groups`).set(auth).send(body),
    get: (id: string) => t.http.get(g(id)).set(auth),
    patch: (id: string, body: Record<string, unknown>) => t.http.patch(g(id)).set(auth).send(body),
    delete: (id: string) => t.http.delete(g(id)).set(auth),
    members: (id: string, query = '') => t.http.get(`${g(id)}/members${query}`).set(auth),
    addMember: (id: string, body: Record<string, unknown>) =>
      t.http
        .post(`${g(id)}/members`)
        .set(auth)
        .send(body),
    setRoles: (id: string, userId: string, roles: unknown) =>
      t.http
        .patch(`${g(id)}/members/${userId}`)
        .set(auth)
        .send({ roles }),
    removeMember: (id: string, userId: string) => t.http.delete(`${g(id)}/members/${userId}`).set(auth),
    addChild: (id: string, childId: string) =>
      t.http
        .post(`${g(id)}/children`)
        .set(auth)
        .send({ child_id: childId }),
    removeChild: (id: string, childId: string) => t.http.delete(`${g(id)}/children/${encodeURIComponent(childId)}`).set(auth),
    invite: (id: string, body: Record<string, unknown>) =>
      t.http
        .post(`${g(id)}/invitations`)
        .set(auth)
        .send(body),
    invitations: (user = 'me') => t.http.get(`${BASE}/${user}/invitations`).set(auth),
    accept: (invitationId: string, user = 'me') => t.http.post(`${BASE}/${user}/invitations/${invitationId}/accept`).set(auth),
    decline: (invitationId: string, user = 'me') => t.http.post(`${BASE}/${user}/invitations/${invitationId}/decline`).set(auth),
    userGroups: (user = 'me') => t.http.get(`${BASE}/${user}/groups`).set(auth),
    createKey: (id: string, body: Record<string, unknown>) =>
      t.http
        .post(`${g(id)}/api-tokens`)
        .set(auth)
        .send(body),
    listKeys: (id: string) => t.http.get(`${g(id)}/api-tokens`).set(auth),
    deleteKey: (id: string, tokenId: string) => t.http.delete(`${g(id)}/api-tokens/${tokenId}`).set(auth),
  };
}

/**
 * Brings `invitee` into the group the way an app does: the admin (`adminToken`) invites them by
 * username and they accept their newest invitation. Returns the accept response. Inviting needs an
 * inviter who proved their address, so the admin's address is first marked verified (as an
 * administrator vouching for it does) if it is not yet.
 */
export async function joinByInvitation(t: TestApp, adminToken: string, groupId: string, invitee: { username: string; token: string }, roles: string[] = []) {
  await proveAddressOf(t, adminToken);
  const sent = await groupApi(t, adminToken).invite(groupId, { username: invitee.username, roles });
  if (sent.status !== 202) throw new Error(`invite: ${sent.status} ${JSON.stringify(sent.body)}`);
  const mine = groupApi(t, invitee.token);
  const pending = (await mine.invitations()).body as Array<{ id: string; group: { id: string; slug: string } }>;
  const invitation = pending.find((i) => i.group.id === groupId || i.group.slug === groupId);
  if (!invitation) throw new Error(`no invitation into ${groupId} for ${invitee.username}`);
  return mine.accept(invitation.id);
}

/** Marks the address of the token's user verified (and so proven), as an administrator vouching for it does; nothing for one already verified or without an address. */
export async function proveAddressOf(t: TestApp, token: string): Promise<void> {
  const me = await t.http.get(`${BASE}/login/profile`).set(bearer(token));
  if (me.status !== 200) return;
  const user = (me.body as { user: { id: string; email: string | null; email_verified: boolean } }).user;
  if (user.email !== null && !user.email_verified) await t.auth.users.update(user.id, { email_verified: true });
}
