import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, PASSWORD, registerUser, verifiedUser, type TestApp } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { BASE, expectError, expectIsoUtc, expectUserObject, expectValidation, uniqueName } from './helpers/endpoints.js';
import { groupApi, joinByInvitation } from './helpers/groups.js';
import { rawQuery } from './helpers/database.js';
import { mailbox } from './helpers/mailbox.js';

// Joining a group is an invitation the invitee accepts (contract 5.6): the attack it closes is a
// user who makes a throw-away group and adds anyone to it, learning who has an account on the way.

const box = mailbox();
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ mailer: box.mailer });
});
afterAll(() => t?.close());

type Api = ReturnType<typeof groupApi>;
const NO_SUCH = '00000000-0000-4000-8000-000000000000';

async function ownedGroup(name = 'Crew') {
  // Inviting needs an inviter who proved their address.
  const owner = await verifiedUser(t);
  const api = groupApi(t, owner.token);
  const { group } = (await api.create({ name })).body as { group: { id: string; slug: string; name: string } };
  return { owner, api, group };
}

async function pending(api: Api): Promise<Array<{ id: string; group: { id: string }; roles: string[]; invited_by: Record<string, unknown> }>> {
  const res = await api.invitations();
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** Verifies a user's email, as following the verification link would. */
const verify = (userId: string) => t.auth.users.update(userId, { email_verified: true });

describe('POST /groups/{id}/invitations', () => {
  it('answers 202 {success: true} alike for a known and an unknown username or email, and says nothing else', async () => {
    const { api, group } = await ownedGroup();
    const known = await registerUser(t);
    const answers = [
      await api.invite(group.id, { username: known.username }),
      await api.invite(group.id, { username: `nobody_${Date.now()}` }),
      await api.invite(group.slug, { email: `${known.username}@example.com` }),
      await api.invite(group.id, { email: `nobody_${Date.now()}@example.com` }),
    ];
    for (const res of answers) {
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ success: true });
      expect(res.text).not.toContain(known.user.id);
    }
    // The same headers, bar the ones that always differ.
    const shape = (h: Record<string, string>) =>
      Object.keys(h)
        .filter((k) => !['date', 'etag', 'ratelimit', 'ratelimit-policy'].includes(k))
        .sort();
    expect(new Set(answers.map((r) => JSON.stringify(shape(r.headers as Record<string, string>)))).size).toBe(1);
  });

  it('takes about as long for an unknown username as for a known one (no timing oracle)', async () => {
    const { api, group } = await ownedGroup();
    const known = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(() => registerUser(t)));
    const timed = async (body: Record<string, unknown>) => {
      const start = process.hrtime.bigint();
      expect((await api.invite(group.id, body)).status).toBe(202);
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    const known_ms: number[] = [];
    const unknown_ms: number[] = [];
    // Interleaved, each going first half the time, so drift of the machine weighs on both alike.
    for (let round = 0; round < 4; round++) {
      for (const [i, u] of known.entries()) {
        const ghost = { username: `ghost_${round}_${u.username}` };
        if ((round + i) % 2 === 0) {
          known_ms.push(await timed({ username: u.username }));
          unknown_ms.push(await timed(ghost));
        } else {
          unknown_ms.push(await timed(ghost));
          known_ms.push(await timed({ username: u.username }));
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(unknown_ms) / median(known_ms);
    console.log(`invitation timing: known ${median(known_ms).toFixed(2)} ms, unknown ${median(unknown_ms).toFixed(2)} ms (x${ratio.toFixed(2)})`);
    // Loose bounds on a shared machine: they catch a gross oracle (an early return for an unknown
    // name, a mail sent before answering), not the one insert a known name costs.
    expect(ratio).toBeGreaterThan(0.4);
    expect(ratio).toBeLessThan(2.5);
  });

  it('group admins only: a plain member 403, a stranger 404, a missing group 404; 400 for bad input', async () => {
    const { api, group } = await ownedGroup();
    const member = await registerUser(t);
    const stranger = await registerUser(t);
    await joinByInvitation(t, (await registerAdminToken()).token, group.id, member);
    expectError(await groupApi(t, member.token).invite(group.id, { username: stranger.username }), 403, 'forbidden');
    expectError(await groupApi(t, stranger.token).invite(group.id, { username: member.username }), 404, 'not_found');
    expectError(await api.invite(NO_SUCH, { username: member.username }), 404, 'not_found');
    expectValidation(await api.invite(group.id, {}), 'email');
    expectValidation(await api.invite(group.id, { username: member.username, email: 'a@example.com' }), 'email');
    expectValidation(await api.invite(group.id, { email: 'not an address' }), 'email');
    expectValidation(await api.invite(group.id, { username: member.username, roles: ['Not A Role'] }), 'roles.0');
    expectValidation(await api.invite(group.id, { username: 5 }), 'username');
  });

  it('mails the invitee: an email invitation to the address, a username one to the account only when its address is verified', async () => {
    const { owner, api, group } = await ownedGroup('Mail Club');
    const address = `fresh_${Date.now()}@example.com`;
    await api.invite(group.id, { email: address, roles: ['viewer'] });
    const mail = await box.next('group_invitation', address);
    // Nothing the inviter typed: no group name, no inviter name, no roles (see the B4 test below).
    expect(mail.subject).toBe('express-authlib: you have been invited to join a group');
    for (const chosen of ['Mail Club', owner.username, 'viewer']) expect(mail.subject + mail.text + mail.html).not.toContain(chosen);
    expect(mail.user).toEqual({ id: '', username: '' });
    // By username: an unverified address gets nothing (it may be someone else's), a verified one does.
    const unverified = await registerUser(t);
    await api.invite(group.id, { username: unverified.username });
    const verified = await registerUser(t);
    await verify(verified.user.id);
    await api.invite(group.id, { username: verified.username });
    const second = await box.next('group_invitation', `${verified.username}@example.com`);
    expect(second.user).toEqual({ id: verified.user.id, username: verified.username });
    expect(box.messages.some((m) => m.kind === 'group_invitation' && m.to === `${unverified.username}@example.com`)).toBe(false);
  });
});

async function registerAdminToken() {
  return registerAdmin(t);
}

describe('the invitee lists, accepts or declines', () => {
  it('GET /me/invitations: [{id, group, roles, invited_by: {id, username, real_name}, created_at, expires_at}], seven days', async () => {
    const { owner, api, group } = await ownedGroup();
    const u = await registerUser(t);
    await api.invite(group.id, { username: u.username.toUpperCase(), roles: ['editor', 'billing', 'editor'] });
    const [inv, ...rest] = await pending(groupApi(t, u.token));
    expect(rest).toEqual([]);
    expect(Object.keys(inv!).sort()).toEqual(['created_at', 'expires_at', 'group', 'id', 'invited_by', 'roles']);
    expect(inv).toMatchObject({ group: { id: group.id, slug: group.slug }, roles: ['billing', 'editor'] });
    expect(inv!.invited_by).toEqual({ id: owner.user.id, username: owner.username, real_name: null });
    const { created_at, expires_at } = inv as unknown as { created_at: string; expires_at: string };
    expectIsoUtc(created_at);
    expect(Date.parse(expires_at) - Date.parse(created_at)).toBe(7 * 86_400_000);
    // Also under the own id; anyone else's (a site admin's view included) is 404.
    expect((await groupApi(t, u.token).invitations(u.user.id)).body).toHaveLength(1);
    expectError(await groupApi(t, owner.token).invitations(u.user.id), 404, 'not_found');
    expectError(await groupApi(t, (await registerAdminToken()).token).invitations(u.user.id), 404, 'not_found');
  });

  it('accept: 200 {group, roles}; a member with those roles at once (requireAuth, /me/groups); the invitation is spent', async () => {
    const { api, group } = await ownedGroup();
    const u = await registerUser(t);
    await api.invite(group.id, { username: u.username, roles: ['editor'] });
    const mine = groupApi(t, u.token);
    expectError(await mine.get(group.id), 404, 'not_found');
    const [inv] = await pending(mine);
    const res = await mine.accept(inv!.id);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ group: expect.objectContaining({ id: group.id, slug: group.slug }), roles: ['editor'] });
    expect((await mine.get(group.id)).status).toBe(200);
    expect((await mine.userGroups()).body).toEqual([expect.objectContaining({ group: expect.objectContaining({ id: group.id }), roles: ['editor'] })]);
    expect(await pending(mine)).toEqual([]);
    expectError(await mine.accept(inv!.id), 404, 'not_found');
    const events = await t.auth.events.list({ user_id: u.user.id, type: 'group_invitation_accepted' });
    expect(events[0]).toMatchObject({ data: { group_id: group.id, invitation_id: inv!.id, roles: ['editor'] } });
  });

  it('decline: {success: true}; no membership; the invitation is gone', async () => {
    const { api, group } = await ownedGroup();
    const u = await registerUser(t);
    await api.invite(group.id, { username: u.username });
    const mine = groupApi(t, u.token);
    const [inv] = await pending(mine);
    expect((await mine.decline(inv!.id)).body).toEqual({ success: true });
    expect(await pending(mine)).toEqual([]);
    expectError(await mine.accept(inv!.id), 404, 'not_found');
    expectError(await mine.get(group.id), 404, 'not_found');
    expectError(await mine.decline(inv!.id), 404, 'not_found');
  });

  it("nobody accepts or declines someone else's invitation (404 as for none); malformed ids are 404", async () => {
    const { api, group } = await ownedGroup();
    const [u, eve] = [await registerUser(t), await registerUser(t)];
    await api.invite(group.id, { username: u.username, roles: ['admin'] });
    const [inv] = await pending(groupApi(t, u.token));
    const asEve = groupApi(t, eve.token);
    expectError(await asEve.accept(inv!.id), 404, 'not_found');
    expectError(await asEve.decline(inv!.id), 404, 'not_found');
    expectError(await asEve.accept(inv!.id, u.user.id), 404, 'not_found');
    expectError(await asEve.accept('not-a-uuid'), 404, 'not_found');
    expectError(await asEve.accept(NO_SUCH), 404, 'not_found');
    expectError(await asEve.get(group.id), 404, 'not_found');
    expect(await pending(groupApi(t, u.token))).toHaveLength(1);
  });

  it('an email invitation is acceptable only through that verified address: whoever registers it unverified gets nothing', async () => {
    const { api, group } = await ownedGroup();
    const address = `later_${Date.now()}@example.com`;
    await api.invite(group.id, { email: address, roles: ['admin'] });
    // The squatter: registers the address without being able to read its mail.
    const squatter = await registerUser(t, { email: address });
    const asSquatter = groupApi(t, squatter.token);
    expect(await pending(asSquatter)).toEqual([]);
    const [row] = await rawQuery<{ id: string }>(`select id from "${t.schema}".group_invitations where group_id = $1`, [group.id]);
    expectError(await asSquatter.accept(row!.id), 404, 'not_found');
    expectError(await asSquatter.get(group.id), 404, 'not_found');
    // Once the address is verified (the owner of the mailbox), the invitation is theirs.
    await verify(squatter.user.id);
    const [inv] = await pending(asSquatter);
    expect(inv!.id).toBe(row!.id);
    expect((await asSquatter.accept(inv!.id)).body).toMatchObject({ roles: ['admin'] });
    // Case and spaces of the address do not matter, as for sign-in.
    const other = await ownedGroup();
    const v = await registerUser(t);
    await verify(v.user.id);
    await other.api.invite(other.group.id, { email: ` ${v.username.toUpperCase()}@EXAMPLE.com ` });
    expect(await pending(groupApi(t, v.token))).toEqual([expect.objectContaining({ group: expect.objectContaining({ id: other.group.id }) })]);
  });

  it('inviting again renews one invitation (latest roles and expiry); a member already there gets 409 on accept and may decline', async () => {
    const { owner, api, group } = await ownedGroup();
    const u = await registerUser(t);
    await api.invite(group.id, { username: u.username, roles: ['viewer'] });
    await api.invite(group.id, { username: u.username, roles: ['editor'] });
    const list = await pending(groupApi(t, u.token));
    expect(list).toHaveLength(1);
    expect(list[0]!.roles).toEqual(['editor']);
    // The inviter invites themself: they are a member already.
    await api.invite(group.id, { username: owner.username });
    const [self] = await pending(api);
    expectError(await api.accept(self!.id), 409, 'conflict');
    expect((await api.decline(self!.id)).status).toBe(200);
  });

  it('an invitation ends with its group, its inviter, its expiry, and is void once the inviter no longer administers the group', async () => {
    const u = await registerUser(t);
    const mine = groupApi(t, u.token);
    // The inviter is demoted by a second admin: the invitation is void (listed no more, 404 on accept).
    const a = await ownedGroup('Void');
    const second = await registerUser(t);
    await t.auth.groups.addMember(a.group.id, { user_id: second.user.id, roles: ['admin'] });
    await a.api.invite(a.group.id, { username: u.username });
    const [voided] = await pending(mine);
    expect((await groupApi(t, second.token).setRoles(a.group.id, a.owner.user.id, [])).status).toBe(200);
    expect(await pending(mine)).toEqual([]);
    expectError(await mine.accept(voided!.id), 404, 'not_found');
    // Made admin again, their invitation stands again (it was never theirs to lose on a whim of time).
    await groupApi(t, second.token).setRoles(a.group.id, a.owner.user.id, ['admin']);
    expect(await pending(mine)).toHaveLength(1);
    await mine.decline(voided!.id);
    // The group is deleted.
    const b = await ownedGroup('Gone');
    await b.api.invite(b.group.id, { username: u.username });
    const [ofGone] = await pending(mine);
    await b.api.delete(b.group.id);
    expect(await pending(mine)).toEqual([]);
    expectError(await mine.accept(ofGone!.id), 404, 'not_found');
    // The inviter is deleted.
    const c = await ownedGroup('Orphan');
    await c.api.invite(c.group.id, { username: u.username });
    expect(await pending(mine)).toHaveLength(1);
    await t.auth.users.delete(c.owner.user.id);
    expect(await pending(mine)).toEqual([]);
    // Expired.
    const d = await ownedGroup('Late');
    await d.api.invite(d.group.id, { username: u.username });
    const [late] = await pending(mine);
    await rawQuery(`update "${t.schema}".group_invitations set expires_at = now() - interval '1 second' where id = $1`, [late!.id]);
    expect(await pending(mine)).toEqual([]);
    expectError(await mine.accept(late!.id), 404, 'not_found');
    expectError(await mine.decline(late!.id), 404, 'not_found');
  });

  it('an impersonation token may list the invitations but not accept or decline them (403)', async () => {
    const { api, group } = await ownedGroup();
    const u = await registerUser(t);
    await api.invite(group.id, { username: u.username });
    const admin = await registerAdminToken();
    const { token } = await t.auth.users.impersonate(admin.user.id, u.user.id);
    const asAdmin = groupApi(t, token);
    const [inv] = await pending(asAdmin);
    expectError(await asAdmin.accept(inv!.id), 403, 'forbidden');
    expectError(await asAdmin.decline(inv!.id), 403, 'forbidden');
    expect(await pending(groupApi(t, u.token))).toHaveLength(1);
  });

  it('audits the invitation with the inviter as actor', async () => {
    const { owner, api, group } = await ownedGroup();
    const u = await registerUser(t);
    await api.invite(group.id, { username: u.username, roles: ['viewer'] });
    const [event] = await t.auth.events.list({ user_id: u.user.id, type: 'group_invitation_sent' });
    expect(event).toMatchObject({ actor_id: owner.user.id, data: { group_id: group.id, to: 'username', roles: ['viewer'] } });
  });
});

describe('auth.groups invitations', () => {
  it('invite as an actor, list, accept and decline; without an actor it is a TypeError (trusted code adds members directly)', async () => {
    const { owner, group } = await ownedGroup();
    const [u, v] = [await registerUser(t), await registerUser(t)];
    await t.auth.groups.invite(group.id, { username: u.username, roles: ['viewer'] }, { actor: owner.user.id });
    await t.auth.groups.invite(group.id, { username: v.username }, { actor: owner.user.id });
    const [inv] = await t.auth.groups.invitations(u.user.id);
    expect(inv).toMatchObject({ group: { id: group.id }, roles: ['viewer'], invited_by: { id: owner.user.id } });
    expect(await t.auth.groups.acceptInvitation(u.user.id, inv!.id)).toEqual({ group: expect.objectContaining({ id: group.id }), roles: ['viewer'] });
    const [other] = await t.auth.groups.invitations(v.user.id);
    await t.auth.groups.declineInvitation(v.user.id, other!.id);
    expect(await t.auth.groups.invitations(v.user.id)).toEqual([]);
    await expect(t.auth.groups.invite(group.id, { username: v.username }, {} as { actor: string })).rejects.toThrow(TypeError);
    // An actor who is no admin of the group: 403, as over HTTP.
    const err = await t.auth.groups.invite(group.id, { username: v.username }, { actor: u.user.id }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('forbidden');
  });
});

describe('what group responses show of other users', () => {
  it('members, added and patched members show {id, username, real_name} to group admins and members; the full user to site admins', async () => {
    const { api, group } = await ownedGroup();
    const u = await registerUser(t);
    await joinByInvitation(t, (await registerAdminToken()).token, group.id, u);
    const summary = (m: { user: Record<string, unknown> }) => Object.keys(m.user).sort();
    for (const token of [u.token]) {
      const list = await groupApi(t, token).members(group.id);
      for (const m of list.body.members) expect(summary(m)).toEqual(['id', 'real_name', 'username']);
      expect(list.text).not.toContain('@example.com');
    }
    const patched = await api.setRoles(group.id, u.user.id, ['editor']);
    expect(patched.status).toBe(200);
    expect(patched.body.user).toEqual({ id: u.user.id, username: u.username, real_name: null });
    const members = await api.members(group.id);
    expect(members.text).not.toContain('@example.com');
    expect(members.text).not.toContain('"roles":["user"]');
    // A site admin sees everything.
    const site = groupApi(t, (await registerAdminToken()).token);
    for (const m of (await site.members(group.id)).body.members) expectUserObject(m.user);
    expectUserObject((await site.setRoles(group.id, u.user.id, ['viewer'])).body.user);
    const v = await registerUser(t);
    expectUserObject((await site.addMember(group.id, { user_id: v.user.id })).body.user);
  });
});

describe('rate limit', () => {
  it('counts every invitation an account sends, known invitee or not (429 rate_limited after the limit)', async () => {
    const limited = await createTestApp({ rateLimit: { invitation: { limit: 3, windowSeconds: 3600 } } });
    try {
      const owner = await verifiedUser(limited);
      const api = groupApi(limited, owner.token);
      const { group } = (await api.create({ name: 'Busy' })).body;
      const real = await registerUser(limited);
      for (const body of [{ username: 'ghost-a' }, { username: real.username }, { email: 'ghost@example.com' }])
        expect((await api.invite(group.id, body)).status).toBe(202);
      const refused = await api.invite(group.id, { username: 'ghost-b' });
      expectError(refused, 429, 'rate_limited');
      expectError(await api.invite(group.id, { username: real.username }), 429, 'rate_limited');
      // Per inviting account: another admin is not held back.
      const other = await verifiedUser(limited);
      const otherGroup = (await groupApi(limited, other.token).create({ name: 'Calm' })).body.group;
      expect((await groupApi(limited, other.token).invite(otherGroup.id, { username: real.username })).status).toBe(202);
    } finally {
      await limited.close();
    }
  });
});

describe('an address squatter gets no invitation addressed to it (B2)', () => {
  it("the owner's bare click on the squatter's verification link does not hand him the invitation; the owner's recovery does, to the owner", async () => {
    const address = `${uniqueName('victim')}@example.com`;
    // The squatter registers the victim's address and asks for a verification link (it goes to the victim).
    const squatter = await registerUser(t, { email: address });
    expect((await t.http.post(`${BASE}/request-verification`).send({ email: address })).status).toBe(202);
    const link = await box.next('verification', address);
    // A site admin invites that address as a group admin.
    const admin = await registerAdminToken();
    const { group } = (await groupApi(t, admin.token).create({ name: 'Operations' })).body as { group: { id: string } };
    expect((await groupApi(t, admin.token).invite(group.id, { email: address, roles: ['admin'] })).status).toBe(202);
    const invitationId = (await rawQuery<{ id: string }>(`SELECT id FROM "${t.schema}".group_invitations WHERE email = $1`, [address]))[0]!.id;
    // The victim clicks the link: verified, but whoever holds the password is not proven.
    const clicked = await t.http.post(`${BASE}/confirm-verification`).send({ token: link.token });
    expect(clicked.status).toBe(200);
    expect(clicked.body.user.email_verified).toBe(true);
    // The squatter neither sees nor takes it.
    const mine = groupApi(t, squatter.token);
    expect(await pending(mine)).toEqual([]);
    expectError(await mine.accept(invitationId), 404, 'not_found');
    expectError(await mine.decline(invitationId), 404, 'not_found');
    expect((await mine.userGroups()).body).toEqual([]);
    // So no group admin, no service key, no invitation of his own real account.
    expectError(await mine.createKey(group.id, { name: 'backdoor' }), 404, 'not_found');
    const accomplice = await verifiedUser(t);
    expectError(await mine.invite(group.id, { username: accomplice.username, roles: ['admin'] }), 404, 'not_found');
    // The owner recovers the address: now the invitation is theirs, and only theirs.
    expect((await t.http.post(`${BASE}/request-password-reset`).send({ email: address })).status).toBe(202);
    const reset = await box.next('password_reset', address);
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: reset.token, password: 'the owner chose this one' })).status).toBe(200);
    const login = await t.http.post(`${BASE}/login`).send({ username: address, password: 'the owner chose this one' });
    expect(login.status).toBe(200);
    const owner = groupApi(t, login.body.token);
    expect((await pending(owner)).map((i) => i.id)).toEqual([invitationId]);
    expect((await owner.accept(invitationId)).status).toBe(200);
    const { members } = (await groupApi(t, admin.token).members(group.id)).body as { members: Array<{ user: { id: string }; roles: string[] }> };
    expect(members.find((m) => m.user.id === squatter.user.id)?.roles).toEqual(['admin']);
    // The same account row, but the squatter's password and tokens are gone.
    expectError(await t.http.post(`${BASE}/login`).send({ username: squatter.username, password: PASSWORD }), 401, 'invalid_credentials');
    expect((await mine.invitations()).status).toBe(401);
  });

  it('listing and accepting read the address as it stands: an address that became unproven again (changed by an admin) loses it', async () => {
    const { api, group } = await ownedGroup();
    const invitee = await verifiedUser(t);
    const address = `${invitee.username}@example.com`;
    await api.invite(group.id, { email: address });
    const mine = groupApi(t, invitee.token);
    const [invitation] = await pending(mine);
    expect(invitation).toBeDefined();
    // An admin marks the address unverified again: neither listed nor acceptable.
    await t.auth.users.update(invitee.user.id, { email_verified: false });
    expect(await pending(mine)).toEqual([]);
    expectError(await mine.accept(invitation!.id), 404, 'not_found');
  });
});

describe('invitation mail carries no attacker text and floods no inbox (B4)', () => {
  it('an inviter whose address is unverified, or verified by a bare click only, gets 403 email_not_verified: nothing stored, nothing mailed', async () => {
    const target = `${uniqueName('target')}@example.com`;
    const fresh = await registerUser(t);
    const api = groupApi(t, fresh.token);
    const { group } = (await api.create({ name: 'Security Team - verify at https://evil.example' })).body as { group: { id: string } };
    expectError(await api.invite(group.id, { email: target }), 403, 'email_not_verified');
    expectError(await api.invite(group.id, { username: (await verifiedUser(t)).username }), 403, 'email_not_verified');
    // A squatter's account the owner verified by a bare click does not count as proven either.
    const squatted = `${uniqueName('victim')}@example.com`;
    const squatter = await registerUser(t, { email: squatted });
    expect((await t.http.post(`${BASE}/request-verification`).send({ email: squatted })).status).toBe(202);
    expect((await t.http.post(`${BASE}/confirm-verification`).send({ token: (await box.next('verification', squatted)).token })).status).toBe(200);
    const sq = groupApi(t, squatter.token);
    const own = (await sq.create({ name: 'Payroll' })).body.group as { id: string };
    expectError(await sq.invite(own.id, { email: target }), 403, 'email_not_verified');
    // Trusted code acting as such an account is held to the same rule.
    await expect(t.auth.groups.invite(group.id, { email: target }, { actor: fresh.user.id })).rejects.toMatchObject({ code: 'email_not_verified' });
    const stored = await rawQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${t.schema}".group_invitations WHERE email = $1`, [target]);
    expect(stored[0]!.n).toBe(0);
    // A site admin is exempt (the app appointed them), proven or not.
    const admin = await registerAdminToken();
    expect((await groupApi(t, admin.token).invite(group.id, { email: target })).status).toBe(202);
    await box.next('group_invitation', target);
  });

  it('the default mail names no group, inviter or role; an app template still gets them', async () => {
    const templated = mailbox();
    const app = await createTestApp({
      mailer: templated.mailer,
      issuer: 'Acme',
      mailTemplates: {
        group_invitation: (d) => ({
          subject: `custom ${d.invitation!.group.name}`,
          text: `${d.invitation!.invitedBy} ${d.invitation!.roles.join()}`,
          html: '',
        }),
      },
    });
    try {
      const inviter = await verifiedUser(app, { username: `Support_Desk_${Date.now()}` });
      const api = groupApi(app, inviter.token);
      const { group } = (await api.create({ name: 'Custom Crew' })).body as { group: { id: string } };
      await api.invite(group.id, { email: 'custom@example.com', roles: ['viewer'] });
      const custom = await templated.next('group_invitation', 'custom@example.com');
      expect(custom.subject).toBe('custom Custom Crew');
      expect(custom.text).toBe(`${inviter.username} viewer`);
    } finally {
      await app.close();
    }
    const evilName = 'Security Team - verify at https://evil.example';
    const inviter = await verifiedUser(t, { username: `IT_Helpdesk_${Date.now()}` });
    const api = groupApi(t, inviter.token);
    const { group } = (await api.create({ name: evilName })).body as { group: { id: string } };
    const target = `${uniqueName('target')}@example.com`;
    await api.invite(group.id, { email: target, roles: ['admin'] });
    const mail = await box.next('group_invitation', target);
    const all = `${mail.subject}\n${mail.text}\n${mail.html}`;
    for (const chosen of [evilName, 'evil.example', inviter.username, 'admin']) expect(all).not.toContain(chosen);
    expect(mail.subject).toBe('express-authlib: you have been invited to join a group');
    expect(mail.text).toContain('You have been invited to join a group on express-authlib.');
    expect(mail.text).toContain('Sign in to express-authlib to see the invitation and accept or decline it.');
  });

  it('at most 5 invitation mails per target address an hour, whoever invites; beyond that the same 202, the invitation renewed, no mail', async () => {
    const limitedBox = mailbox();
    const loose = { limit: 1000, windowSeconds: 60 };
    const app = await createTestApp({ mailer: limitedBox.mailer, rateLimit: { register: loose, invitation: loose } });
    let invitee: Awaited<ReturnType<typeof verifiedUser>>;
    const target = `${uniqueName('target')}@example.com`;
    const other = `${uniqueName('other')}@example.com`;
    try {
      const inviter = await verifiedUser(app);
      const api = groupApi(app, inviter.token);
      const { group } = (await api.create({ name: 'Flood' })).body as { group: { id: string } };
      const { group: second } = (await api.create({ name: 'Flood Two' })).body as { group: { id: string } };
      // 12 invitations to one address (two groups, as any inviter could): each answered alike.
      for (let i = 0; i < 12; i++) {
        const res = await api.invite(i % 2 === 0 ? group.id : second.id, { email: target });
        expect(res.status).toBe(202);
        expect(res.body).toEqual({ success: true });
      }
      // Another address is not held back.
      expect((await api.invite(group.id, { email: other })).status).toBe(202);
      // By username: the account's address is the target counted.
      invitee = await verifiedUser(app);
      for (let i = 0; i < 8; i++) expect((await api.invite(i % 2 === 0 ? group.id : second.id, { username: invitee.username })).status).toBe(202);
      // The invitations stand: the address's proven owner sees both.
      const owner = await verifiedUser(app, { email: target });
      expect((await pending(groupApi(app, owner.token))).map((i) => i.group.id).sort()).toEqual([group.id, second.id].sort());
      expect(await pending(groupApi(app, invitee.token))).toHaveLength(2);
    } finally {
      await app.close(); // waits for the mail sent after the answers
    }
    const to = (address: string) => limitedBox.messages.filter((m) => m.kind === 'group_invitation' && m.to === address).length;
    expect(to(target)).toBe(5);
    expect(to(other)).toBe(1);
    expect(to(`${invitee!.username}@example.com`)).toBe(5);
  });
});
