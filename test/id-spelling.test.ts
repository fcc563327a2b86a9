import express from 'express';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager, type AuthManagerOptions } from '../src/index.js';
import { PGliteDialect } from '../src/db/pglite-dialect.js';
import { bearer, createTestApp, deploymentOptions, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { adminApi, registerAdmin } from './helpers/admin.js';
import { auditRows } from './helpers/audit.js';
import { rawQuery, sharedPGlite, TEST_DSN } from './helpers/database.js';
import { BASE, loginOk } from './helpers/endpoints.js';
import { groupApi } from './helpers/groups.js';
import { decodeJwt } from './helpers/tokens.js';

// A uuid id has one spelling: lower case. PostgreSQL's uuid type reads `ABC...` and `abc...` as
// the same id, so an id written in upper or mixed case reaches the database; the in-memory state
// (the revoked logins, the user cache, the group caches) must see the same id, or a revocation
// spelled that way ends the refresh token while the login's access tokens live on. Each attack
// runs with two instances of one deployment: the change is made on A, the tokens are tried on B
// (its caches warmed first, so only the announcement can make it change its mind).

/** What the contract grants for "at once" across instances. */
const AT_ONCE = { timeout: 1000, interval: 50 };
/** An instance that polls the revocation log polls every 500 ms. */
const POLLED = { timeout: 2500, interval: 50 };

const upper = (id: string) => id.toUpperCase();
/** Upper case in the first group only: `ABCDEF01-2345-...`. */
const mixed = (id: string) => id.slice(0, 8).toUpperCase() + id.slice(8);
const SPELLINGS = { upper, mixed } as const;
/** Spellings PostgreSQL also reads as the id, that name nothing in paths and arguments. */
const OTHER_SPELLINGS = {
  'without hyphens': (id: string) => id.replaceAll('-', ''),
  'in braces': (id: string) => encodeURIComponent(`{${id}}`),
  'upper case without hyphens': (id: string) => upper(id).replaceAll('-', ''),
};

const sidOf = (token: string) => decodeJwt(token).payload.sid as string;

interface Instance {
  auth: AuthManager;
  http: ReturnType<typeof request>;
}

let a: TestApp;
let b: Instance;
let admin: Awaited<ReturnType<typeof registerAdmin>>;
const closing: Array<() => Promise<void>> = [];

/** Another instance of A's deployment (same schema and secret), with a group-guarded route. */
async function instance(options: Partial<AuthManagerOptions> = {}): Promise<Instance> {
  const app = express();
  const auth = new AuthManager(app, await deploymentOptions(a, options));
  closing.push(() => auth.close());
  await auth.ready;
  app.get('/me', auth.requireAuth(), (req, res) => res.json({ id: req.auth!.user.id }));
  app.get('/g/:id', auth.requireAuth({ group: (req: express.Request) => req.params.id }), (req, res) => res.json({ group: req.auth!.group?.id }));
  return { auth, http: request(app) };
}

beforeAll(async () => {
  a = await createTestApp();
  b = await instance();
  admin = await registerAdmin(a);
});
afterAll(async () => {
  for (const close of closing.reverse()) await close();
  await a?.close();
});

const status = async (on: Instance | TestApp, token: string) => (await on.http.get('/me').set(bearer(token))).status;

/** A user with a second login (the victim) whose token works on both instances. */
async function victim() {
  const u = await registerUser(a);
  const second = await loginOk(a, u.username);
  expect(await status(b, second.token)).toBe(200);
  expect(await status(a, second.token)).toBe(200);
  return { ...u, second, sid: sidOf(second.token) };
}

/** The login's access token is refused on A and, within the contract's second, on B; its refresh token too; introspection says inactive. */
async function expectEnded(token: string, refreshToken?: string) {
  expect(await status(a, token)).toBe(401);
  await expect.poll(() => status(b, token), AT_ONCE).toBe(401);
  expect((await b.auth.introspect(token)).active).toBe(false);
  if (refreshToken) expect((await b.http.post(`${BASE}/token-refresh`).send({ refresh_token: refreshToken })).status).toBe(401);
}

describe('ending a login spelled in upper or mixed case ends its access tokens on every instance', () => {
  for (const [name, spell] of Object.entries(SPELLINGS)) {
    it(`DELETE /me/sessions/{id} (${name} case)`, async () => {
      const v = await victim();
      const res = await a.http.delete(`${BASE}/me/sessions/${spell(v.sid)}`).set(bearer(v.token));
      expect(res.status).toBe(200);
      await expectEnded(v.second.token, v.second.refresh_token);
      // Audited with the id as it is stored.
      const [event] = await auditRows(a.schema, { type: 'session_revoked', userId: v.user.id });
      expect(event!.data).toMatchObject({ session_id: v.sid });
    });

    it(`DELETE /{user}/sessions/{id} by the user, both ids ${name} case`, async () => {
      const v = await victim();
      const res = await a.http.delete(`${BASE}/${spell(v.user.id)}/sessions/${spell(v.sid)}`).set(bearer(v.token));
      expect(res.status).toBe(200);
      await expectEnded(v.second.token, v.second.refresh_token);
    });

    it(`DELETE /admin/users/{id}/sessions/{sid} and /{user}/sessions/{sid} by an admin (${name} case)`, async () => {
      const v = await victim();
      const res = await a.http.delete(`${BASE}/admin/users/${spell(v.user.id)}/sessions/${spell(v.sid)}`).set(bearer(admin.token));
      expect(res.status).toBe(200);
      await expectEnded(v.second.token, v.second.refresh_token);
      const w = await victim();
      expect((await a.http.delete(`${BASE}/${spell(w.user.id)}/sessions/${spell(w.sid)}`).set(bearer(admin.token))).status).toBe(200);
      await expectEnded(w.second.token, w.second.refresh_token);
    });

    it(`auth.sessions.revoke(userId, sessionId) (${name} case), on the instance that calls it too`, async () => {
      const v = await victim();
      await a.auth.sessions.revoke(spell(v.user.id), spell(v.sid));
      await expectEnded(v.second.token, v.second.refresh_token);
      expect((await a.auth.introspect(v.second.token)).active).toBe(false);
    });
  }

  it('an instance started after the login was ended (in upper case) refuses its tokens', async () => {
    const v = await victim();
    expect((await a.http.delete(`${BASE}/me/sessions/${upper(v.sid)}`).set(bearer(v.token))).status).toBe(200);
    const c = await instance();
    expect(await status(c, v.second.token)).toBe(401);
    expect((await c.auth.introspect(v.second.token)).active).toBe(false);
    expect(await status(c, v.token)).toBe(200);
  });

  it('an admin ending (in upper case) the login an impersonation was started from ends the impersonation (imp_sid)', async () => {
    const root = await loginOk(a, admin.username);
    const u = await registerUser(a);
    const imp = await adminApi(a, root.token).impersonate(u.user.id, { duration: 3600 });
    expect(imp.status).toBe(200);
    expect(decodeJwt(imp.body.token).payload.imp_sid).toBe(sidOf(root.token));
    expect(await status(b, imp.body.token)).toBe(200);
    const res = await a.http.delete(`${BASE}/me/sessions/${upper(sidOf(root.token))}`).set(bearer(admin.token));
    expect(res.status).toBe(200);
    await expectEnded(imp.body.token);
    await expectEnded(root.token, root.refresh_token);
  });

  it('other spellings PostgreSQL reads as the id (no hyphens, braces) name nothing: 404, and the login goes on', async () => {
    const v = await victim();
    for (const spell of Object.values(OTHER_SPELLINGS)) {
      expect((await a.http.delete(`${BASE}/me/sessions/${spell(v.sid)}`).set(bearer(v.token))).status).toBe(404);
      expect((await a.http.delete(`${BASE}/${spell(v.user.id)}/sessions/${v.sid}`).set(bearer(v.token))).status).toBe(404);
      expect((await a.http.delete(`${BASE}/admin/users/${spell(v.user.id)}/sessions/${v.sid}`).set(bearer(admin.token))).status).toBe(404);
      expect((await a.http.delete(`${BASE}/admin/users/${v.user.id}/sessions/${spell(v.sid)}`).set(bearer(admin.token))).status).toBe(404);
      await expect(a.auth.sessions.revoke(v.user.id, decodeURIComponent(spell(v.sid)))).rejects.toMatchObject({ code: 'not_found' });
    }
    expect(await status(b, v.second.token)).toBe(200);
    expect((await b.http.post(`${BASE}/token-refresh`).send({ refresh_token: v.second.refresh_token })).status).toBe(200);
  });
});

describe('admin actions on a user id in upper or mixed case reach the cached tokens of every instance', () => {
  const actions: Record<string, (api: ReturnType<typeof adminApi>, id: string) => request.Test> = {
    'POST /admin/users/{id}/logout-all': (api, id) => api.logoutAll(id),
    'PATCH /admin/users/{id} is_active false': (api, id) => api.patchUser(id, { is_active: false }),
    'PATCH /admin/users/{id} roles': (api, id) => api.patchUser(id, { roles: ['user', 'admin'] }),
    'PATCH /admin/users/{id} password': (api, id) => api.patchUser(id, { password: `${PASSWORD} renewed` }),
    'DELETE /admin/users/{id}': (api, id) => api.deleteUser(id),
  };
  for (const [name, act] of Object.entries(actions)) {
    for (const [spelling, spell] of Object.entries(SPELLINGS)) {
      it(`${name} (${spelling} case)`, async () => {
        const v = await victim();
        const res = await act(adminApi(a, admin.token), spell(v.user.id));
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        await expectEnded(v.token);
        await expectEnded(v.second.token);
      });
    }
  }

  it('auth.users.setActive / setRoles / setPassword / delete and auth.users.update with an upper-case id', async () => {
    const calls = [
      (id: string) => a.auth.users.setActive(id, false),
      (id: string) => a.auth.users.setRoles(id, ['user', 'admin']),
      (id: string) => a.auth.users.setPassword(id, `${PASSWORD} renewed`),
      (id: string) => a.auth.users.update(id, { is_active: false }),
      (id: string) => a.auth.users.delete(id),
    ];
    for (const call of calls) {
      const v = await victim();
      await call(upper(v.user.id));
      await expectEnded(v.second.token);
    }
  });

  it('other spellings of the user id name nothing (404) and change nothing', async () => {
    const v = await victim();
    const api = adminApi(a, admin.token);
    for (const spell of Object.values(OTHER_SPELLINGS)) {
      expect((await api.logoutAll(spell(v.user.id))).status).toBe(404);
      expect((await api.patchUser(spell(v.user.id), { is_active: false })).status).toBe(404);
      expect((await api.deleteUser(spell(v.user.id))).status).toBe(404);
      expect((await api.getUser(spell(v.user.id))).status).toBe(404);
    }
    expect(await status(b, v.second.token)).toBe(200);
    expect((await a.auth.users.findById(v.user.id))?.is_active).toBe(true);
  });
});

describe('group membership changes with ids in upper case reach requireAuth({ group }) on every instance', () => {
  for (const [spelling, spell] of Object.entries(SPELLINGS)) {
    it(`DELETE /groups/{id}/members/{userId} (${spelling} case)`, async () => {
      const owner = await registerUser(a);
      const member = await registerUser(a);
      const created = await groupApi(a, owner.token).create({ name: `Spelling ${spelling}` });
      expect(created.status).toBe(201);
      const g = created.body.group as { id: string };
      expect((await groupApi(a, admin.token).addMember(g.id, { user_id: member.user.id })).status).toBe(201);
      await expect.poll(async () => (await b.http.get(`/g/${g.id}`).set(bearer(member.token))).status, AT_ONCE).toBe(200);
      const res = await groupApi(a, owner.token).removeMember(spell(g.id), spell(member.user.id));
      expect(res.status).toBe(200);
      await expect.poll(async () => (await b.http.get(`/g/${g.id}`).set(bearer(member.token))).status, AT_ONCE).toBe(404);
      expect((await a.http.get(`/me`).set(bearer(member.token))).status).toBe(200);
    });
  }

  it('auth.groups.removeMember and setMemberRoles with an upper-case user id', async () => {
    const member = await registerUser(a);
    const g = await a.auth.groups.create({ name: 'Programmatic spelling' });
    await a.auth.groups.addMember(g.id, { user_id: member.user.id, roles: ['editor'] });
    const edit = await instanceRoute();
    await expect.poll(async () => (await edit.get(`/g/${g.id}/edit`).set(bearer(member.token))).status, AT_ONCE).toBe(200);
    await a.auth.groups.setMemberRoles(upper(g.id), upper(member.user.id), []);
    await expect.poll(async () => (await edit.get(`/g/${g.id}/edit`).set(bearer(member.token))).status, AT_ONCE).toBe(403);
    await expect.poll(async () => (await b.http.get(`/g/${g.id}`).set(bearer(member.token))).status, AT_ONCE).toBe(200);
    await a.auth.groups.removeMember(upper(g.id), upper(member.user.id));
    await expect.poll(async () => (await b.http.get(`/g/${g.id}`).set(bearer(member.token))).status, AT_ONCE).toBe(404);
  });

  /** A route on another instance that needs the group role `editor`. */
  async function instanceRoute() {
    const app = express();
    const auth = new AuthManager(app, await deploymentOptions(a));
    closing.push(() => auth.close());
    await auth.ready;
    app.get('/g/:id/edit', auth.requireAuth({ group: (req: express.Request) => req.params.id, groupRoles: ['editor'] }), (_req, res) => res.json({}));
    return request(app);
  }
});

describe('deletions that already held whatever the spelling', () => {
  it("an admin deleting a user's API token through an upper-case user id ends it on every instance; the token id is case-sensitive", async () => {
    const u = await registerUser(a);
    const created = await a.http.post(`${BASE}/me/api-tokens`).set(bearer(u.token)).send({ name: 'spelled' });
    expect(created.status).toBe(201);
    const { id, token } = created.body as { id: string; token: string };
    expect(await status(b, token)).toBe(200);
    // API-token ids are base62 and case-sensitive: another case is another (absent) token.
    const swapped = [...id].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
    if (swapped !== id) expect((await a.http.delete(`${BASE}/${upper(u.user.id)}/api-tokens/${swapped}`).set(bearer(admin.token))).status).toBe(404);
    expect(await status(b, token)).toBe(200);
    expect((await a.http.delete(`${BASE}/${upper(u.user.id)}/api-tokens/${id}`).set(bearer(admin.token))).status).toBe(200);
    await expect.poll(() => status(b, token), AT_ONCE).toBe(401);
  });

  it('a group admin deleting a service key through an upper-case group id ends it on every instance', async () => {
    const owner = await registerUser(a);
    const g = (await groupApi(a, owner.token).create({ name: 'Keyed spelling' })).body.group as { id: string };
    // `introspect` is a site-level right: a site admin mints the key, the group's admin deletes it.
    const key = await groupApi(a, admin.token).createKey(upper(g.id), { name: 'k', scopes: ['introspect'] });
    expect(key.status).toBe(201);
    const introspect = () => b.http.post(`${BASE}/introspect`).set(bearer(key.body.token)).send({ token: owner.token });
    expect((await introspect()).status).toBe(200);
    expect((await groupApi(a, owner.token).deleteKey(upper(g.id), key.body.id)).status).toBe(200);
    await expect.poll(async () => (await introspect()).status, AT_ONCE).toBe(401);
  });
});

describe('the revocation log, as an instance that polls it reads it', () => {
  /** An instance handed a Kysely instance (no connection to LISTEN on): it learns from the log only. */
  async function polling(): Promise<Instance> {
    const db = TEST_DSN
      ? new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: TEST_DSN, max: 4 }) }) })
      : new Kysely<any>({ dialect: new PGliteDialect(await sharedPGlite()) });
    if (TEST_DSN) closing.push(() => db.destroy());
    return instance({ db, dbDsn: undefined });
  }

  it('every event it announces names ids in their canonical spelling', async () => {
    const v = await victim();
    expect((await a.http.delete(`${BASE}/me/sessions/${upper(v.sid)}`).set(bearer(v.token))).status).toBe(200);
    expect((await adminApi(a, admin.token).logoutAll(upper(v.user.id))).status).toBe(200);
    const rows = await rawQuery<{ event: Record<string, string> }>(
      `select event from "${a.schema}".revocation_log where lower(event->>'session') = $1 or lower(event->>'user') = $2`,
      [v.sid, v.user.id],
    );
    expect(rows.map((r) => r.event)).toEqual(expect.arrayContaining([{ session: v.sid }, { user: v.user.id }]));
    expect(rows).toHaveLength(2);
  });

  it('a logged session event with the id in another case (written by an earlier version) still ends the login', async () => {
    const p = await polling();
    const v = await victim();
    expect(await status(p, v.second.token)).toBe(200);
    await rawQuery(`insert into "${a.schema}".revocation_log (event) values ($1)`, [JSON.stringify({ session: upper(v.sid) })]);
    await expect.poll(() => status(p, v.second.token), POLLED).toBe(401);
    expect(await status(p, v.token)).toBe(200);
  });

  it('a logged user event with the id in another case still drops the cached user', async () => {
    const p = await polling();
    const v = await victim();
    expect(await status(p, v.token)).toBe(200);
    // The user was disabled in the database; the row names them in mixed case.
    await rawQuery(`update "${a.schema}".users set is_active = false where id = $1`, [v.user.id]);
    await rawQuery(`insert into "${a.schema}".revocation_log (event) values ($1)`, [JSON.stringify({ user: mixed(v.user.id) })]);
    const disabled = async () => {
      const res = await p.http.get('/me').set(bearer(v.token));
      return `${res.status} ${res.body.code}`;
    };
    await expect.poll(disabled, POLLED).toBe('403 account_disabled');
  });
});
