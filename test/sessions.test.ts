import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager, type AuthError } from '../src/index.js';
import { bearer, closedAfterEach, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { databaseOptions, rawQuery } from './helpers/database.js';
import { BASE, expectError } from './helpers/endpoints.js';
import { mailbox } from './helpers/mailbox.js';

// Contract 5.8: each login is a session a user can see and end. Ending one stops its refresh token
// and its access tokens at once, on every instance.

const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';
const FIREFOX_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0';
const SAFARI_IOS =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1 call +1-555-0100';

interface Listed {
  id: string;
  created_at: string;
  last_used_at: string;
  ip: string | null;
  device: string | null;
  current: boolean;
}

async function login(t: TestApp, username: string, userAgent?: string) {
  let req = t.http.post(`${BASE}/login`);
  if (userAgent) req = req.set('User-Agent', userAgent);
  const res = await req.send({ username, password: PASSWORD });
  expect(res.status, res.text).toBe(200);
  return { token: res.body.token as string, refresh_token: res.body.refresh_token as string };
}

/** The session id (`sid`) an access token carries. */
const sidOf = (token: string): string => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid;

const list = (t: TestApp, token: string, user = 'me') => t.http.get(`${BASE}/${user}/sessions`).set(bearer(token));
const end = (t: TestApp, token: string, id: string, user = 'me') => t.http.delete(`${BASE}/${user}/sessions/${id}`).set(bearer(token));

describe('GET and DELETE /{user}/sessions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('lists each live login with when, where from and a device summary (never the User-Agent), marking the current one', async () => {
    const u = await registerUser(t);
    const mac = await login(t, u.username, CHROME_MAC);
    const win = await login(t, u.username, FIREFOX_WIN);
    const phone = await login(t, u.username, SAFARI_IOS);
    const res = await list(t, win.token);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const sessions = res.body as Listed[];
    // Registration's login, and the three above.
    expect(sessions).toHaveLength(4);
    for (const s of sessions) expect(Object.keys(s).sort()).toEqual(['created_at', 'current', 'device', 'id', 'ip', 'last_used_at']);
    const byId = new Map(sessions.map((s) => [s.id, s]));
    expect(byId.get(sidOf(mac.token))!.device).toBe('Chrome on macOS');
    expect(byId.get(sidOf(win.token))!.device).toBe('Firefox on Windows');
    expect(byId.get(sidOf(phone.token))!.device).toBe('Safari on iOS');
    expect(sessions.filter((s) => s.current).map((s) => s.id)).toEqual([sidOf(win.token)]);
    expect(byId.get(sidOf(mac.token))!.ip).toMatch(/127\.0\.0\.1$/);
    // The requester's free text is nowhere in the answer.
    expect(res.text).not.toContain('Mozilla');
    expect(res.text).not.toContain('+1-555-0100');
    // Most recently used first.
    const times = sessions.map((s) => Date.parse(s.last_used_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('a refresh is a use: last_used_at moves and the login comes first', async () => {
    const u = await registerUser(t);
    const old = await login(t, u.username, CHROME_MAC);
    const recent = await login(t, u.username, FIREFOX_WIN);
    const before = ((await list(t, recent.token)).body as Listed[]).find((s) => s.id === sidOf(old.token))!;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const refreshed = await t.http.post(`${BASE}/token-refresh`).set('User-Agent', CHROME_MAC).send({ refresh_token: old.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(sidOf(refreshed.body.token)).toBe(sidOf(old.token));
    const after = (await list(t, recent.token)).body as Listed[];
    expect(after[0]!.id).toBe(sidOf(old.token));
    expect(Date.parse(after[0]!.last_used_at)).toBeGreaterThan(Date.parse(before.last_used_at));
    expect(after[0]!.created_at).toBe(before.created_at);
    // Still one session for that login, however often it is refreshed.
    expect(after.filter((s) => s.id === sidOf(old.token))).toHaveLength(1);
  });

  it('ending a session stops its access and refresh tokens at once; the others keep working', async () => {
    const u = await registerUser(t);
    const victim = await login(t, u.username, CHROME_MAC);
    const mine = await login(t, u.username, FIREFOX_WIN);
    expect((await t.http.get('/me').set(bearer(victim.token))).status).toBe(200);
    const done = await end(t, mine.token, sidOf(victim.token));
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ success: true });
    expectError(await t.http.get('/me').set(bearer(victim.token)), 401, 'invalid_token');
    expectError(await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: victim.refresh_token }), 401, 'invalid_token');
    expect((await t.http.get('/me').set(bearer(mine.token))).status).toBe(200);
    expect(((await list(t, mine.token)).body as Listed[]).map((s) => s.id)).not.toContain(sidOf(victim.token));
    // Once over, it is not found again.
    expectError(await end(t, mine.token, sidOf(victim.token)), 404, 'not_found');
    // Audited, with the session's id.
    const events = await t.auth.events.list({ user_id: u.user.id, type: 'session_revoked' });
    expect(events.map((e) => e.data.session_id)).toEqual([sidOf(victim.token)]);
  });

  it('ending the current session is a logout of this login', async () => {
    const u = await registerUser(t);
    const here = await login(t, u.username, CHROME_MAC);
    expect((await end(t, here.token, sidOf(here.token))).status).toBe(200);
    expectError(await t.http.get('/me').set(bearer(here.token)), 401, 'invalid_token');
  });

  it("another user's session, a malformed id and an unknown one all answer 404, and nothing ends", async () => {
    const alice = await registerUser(t);
    const mallory = await registerUser(t);
    const aliceLogin = await login(t, alice.username);
    expectError(await end(t, mallory.token, sidOf(aliceLogin.token)), 404, 'not_found');
    expectError(await end(t, mallory.token, 'not-a-uuid'), 404, 'not_found');
    expectError(await end(t, mallory.token, '00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    // Nor through alice's id in the path.
    expectError(await end(t, mallory.token, sidOf(aliceLogin.token), alice.user.id), 404, 'not_found');
    expectError(await list(t, mallory.token, alice.user.id), 404, 'not_found');
    expect((await t.http.get('/me').set(bearer(aliceLogin.token))).status).toBe(200);
  });

  it('needs an access JWT: an API token (whatever its scopes) gets 403, no credentials 401', async () => {
    const u = await registerUser(t);
    const created = await t.http
      .post(`${BASE}/me/api-tokens`)
      .set(bearer(u.token))
      .send({ name: 'ci', scopes: ['*'] });
    expect(created.status).toBe(201);
    expectError(await t.http.get(`${BASE}/me/sessions`).set('X-API-Token', created.body.token), 403, 'forbidden');
    expectError(await t.http.delete(`${BASE}/me/sessions/${sidOf(u.token)}`).set(bearer(created.body.token)), 403, 'forbidden');
    expectError(await t.http.get(`${BASE}/me/sessions`), 401, 'unauthorized');
    expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(200);
  });

  it('logout-all and a password change leave no session listed but the new one', async () => {
    const u = await registerUser(t);
    await login(t, u.username, CHROME_MAC);
    const changed = await t.http
      .post(`${BASE}/change-password`)
      .set(bearer(u.token))
      .set('User-Agent', FIREFOX_WIN)
      .send({ current_password: PASSWORD, password: `${PASSWORD} again` });
    expect(changed.status).toBe(200);
    const after = (await list(t, changed.body.token)).body as Listed[];
    expect(after.map((s) => [s.id, s.device, s.current])).toEqual([[sidOf(changed.body.token), 'Firefox on Windows', true]]);
    expect((await t.http.post(`${BASE}/logout-all`).set(bearer(changed.body.token))).status).toBe(200);
    expect(await t.auth.sessions.list(u.user.id)).toEqual([]);
  });

  it("site admins list and end anyone's sessions: /{user}/sessions, /admin/users/{id}/sessions, and an admin API token with scope admin", async () => {
    const admin = await registerAdmin(t);
    const u = await registerUser(t);
    const one = await login(t, u.username, CHROME_MAC);
    const two = await login(t, u.username, FIREFOX_WIN);
    const viaUser = await list(t, admin.token, u.user.id);
    expect(viaUser.status).toBe(200);
    // The admin's own login is not the user's: nothing is current.
    expect((viaUser.body as Listed[]).some((s) => s.current)).toBe(false);
    const viaAdmin = await t.http.get(`${BASE}/admin/users/${u.user.id}/sessions`).set(bearer(admin.token));
    expect(viaAdmin.status).toBe(200);
    expect((viaAdmin.body as Listed[]).map((s) => s.id).sort()).toEqual((viaUser.body as Listed[]).map((s) => s.id).sort());

    expect((await end(t, admin.token, sidOf(one.token), u.user.id)).status).toBe(200);
    expectError(await t.http.get('/me').set(bearer(one.token)), 401, 'invalid_token');
    const key = await t.http
      .post(`${BASE}/me/api-tokens`)
      .set(bearer(admin.token))
      .send({ name: 'ops', scopes: ['admin'] });
    const viaKey = await t.http.delete(`${BASE}/admin/users/${u.user.id}/sessions/${sidOf(two.token)}`).set('X-API-Token', key.body.token);
    expect(viaKey.status).toBe(200);
    expectError(await t.http.get('/me').set(bearer(two.token)), 401, 'invalid_token');
    const events = await t.auth.events.list({ user_id: u.user.id, type: 'session_revoked' });
    expect(events.map((e) => e.actor_id)).toEqual([admin.user.id, admin.user.id]);

    // Not for others: 403 on the admin routes, and 404 for an unknown user.
    expectError(await t.http.get(`${BASE}/admin/users/${admin.user.id}/sessions`).set(bearer(u.token)), 403, 'forbidden');
    expectError(await t.http.get(`${BASE}/admin/users/00000000-0000-4000-8000-000000000000/sessions`).set(bearer(admin.token)), 404, 'not_found');
  });

  it('an impersonation token may look at the sessions but not end one', async () => {
    const admin = await registerAdmin(t);
    const u = await registerUser(t);
    const imp = await t.http.post(`${BASE}/${u.user.id}/impersonate`).set(bearer(admin.token)).send({});
    expect(imp.status).toBe(200);
    expect((await list(t, imp.body.token)).status).toBe(200);
    expectError(await end(t, imp.body.token, sidOf(u.token)), 403, 'forbidden');
    expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(200);
  });

  it('auth.sessions.list and revoke: the same rules programmatically', async () => {
    const u = await registerUser(t);
    const other = await registerUser(t);
    const a = await login(t, u.username, CHROME_MAC);
    const listed = await t.auth.sessions.list(u.user.id);
    expect(listed.map((s) => s.id)).toContain(sidOf(a.token));
    expect(listed.every((s) => s.current === false)).toBe(true);
    await expect(t.auth.sessions.revoke(other.user.id, sidOf(a.token))).rejects.toMatchObject({ code: 'not_found' } satisfies Partial<AuthError>);
    await t.auth.sessions.revoke(u.user.id, sidOf(a.token));
    await expect(t.auth.verifyToken(a.token)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(t.auth.sessions.list('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('keeps the summary, not the header, in the database', async () => {
    const u = await registerUser(t);
    await login(t, u.username, SAFARI_IOS);
    const rows = await rawQuery<{ device: string | null }>(`select device from "${t.schema}".sessions where user_id = $1`, [u.user.id]);
    expect(rows.map((r) => r.device)).toContain('Safari on iOS');
    expect(JSON.stringify(rows)).not.toContain('+1-555-0100');
  });
});

describe('two instances of one deployment', () => {
  const { track } = closedAfterEach();

  it('a session ended on one instance stops its tokens on the other within 1 s', async () => {
    const a = await createTestApp();
    track(() => a.close());
    // A second AuthManager on the same schema and secret: another instance of the deployment.
    const app = express();
    const b = new AuthManager(app, { ...(await databaseOptions()), dbSchema: a.schema, jwtSecret: a.secret, bcryptRounds: 4, rateLimit: false, logger: false });
    track(() => b.close());
    await b.ready;
    app.get('/me', b.requireAuth(), (req, res) => res.json({ id: req.auth!.user.id }));
    const onB = request(app);

    const u = await registerUser(a);
    const victim = await login(a, u.username, CHROME_MAC);
    expect((await onB.get('/me').set(bearer(victim.token))).status).toBe(200);
    const started = performance.now();
    expect((await end(a, u.token, sidOf(victim.token))).status).toBe(200);
    let elapsed = Infinity;
    while (performance.now() - started < 3000) {
      if ((await onB.get('/me').set(bearer(victim.token))).status === 401) {
        elapsed = performance.now() - started;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    console.log(`a session ended on one instance was refused on the other after ${elapsed.toFixed(0)} ms`);
    expect(elapsed).toBeLessThan(1000);
    expect((await onB.post(`${BASE}/token-refresh`).send({ refresh_token: victim.refresh_token })).status).toBe(401);
    // The other instance lists what the first one does.
    const listed = await onB.get(`${BASE}/me/sessions`).set(bearer(u.token));
    expect((listed.body as Listed[]).map((s) => s.id)).toEqual([sidOf(u.token)]);
  });
});

describe('newDeviceNotice', () => {
  const { app } = closedAfterEach();

  it('mails the account when it signs in from a device it never used, once per device, with the summary only', async () => {
    const box = mailbox();
    const t = await app({ mailer: box.mailer, newDeviceNotice: true });
    const res = await t.http.post(`${BASE}/register`).set('User-Agent', CHROME_MAC).send({ username: 'nd_user', password: PASSWORD, email: 'nd@example.com' });
    expect(res.status).toBe(201);
    await login(t, 'nd_user', CHROME_MAC);
    await login(t, 'nd_user', SAFARI_IOS);
    const mail = await box.next('new_device', 'nd@example.com');
    expect(mail.subject).toContain('new sign-in');
    expect(mail.text).toContain('(Safari on iOS)');
    // Nothing of the raw header: not its free text (a time in the mail may hold the digits 555, so the whole phrase).
    expect(mail.text).not.toContain('+1-555-0100');
    expect(mail.html).not.toContain('Mozilla');
    await login(t, 'nd_user', SAFARI_IOS);
    await login(t, 'nd_user', CHROME_MAC);
    // Mail goes out in the background: give it the time it would take.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(box.messages.filter((m) => m.kind === 'new_device')).toHaveLength(1);
  });

  it('is off by default, and needs a mailer', async () => {
    const box = mailbox();
    const t = await app({ mailer: box.mailer });
    const u = await registerUser(t);
    await login(t, u.username, FIREFOX_WIN);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(box.messages.filter((m) => m.kind === 'new_device')).toHaveLength(0);
    expect(() => new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(48), newDeviceNotice: true })).toThrow(/newDeviceNotice/);
  });
});
