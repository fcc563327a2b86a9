import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, type IntegrationInput } from '../src/index.js';
import { bearer, createTestApp, type TestApp, verifiedUser } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { rawQuery } from './helpers/database.js';
import { BASE, expectError, uniqueName } from './helpers/endpoints.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { authorizeAt, followOAuth, rememberBrowser } from './helpers/oauth-browser.js';

// Integrations (contract 5.6): credentials a user keeps for other services, stored AES-256-GCM
// encrypted, plus the provider accounts linked by OAuth. Programmatic API and HTTP, against a real
// local GitHub stand-in for the linked accounts.

const PUBLIC_URL = 'http://app.test';
const CALLBACK = `${PUBLIC_URL}${BASE}/login/oauth2callback`;
const INFO_KEYS = ['connector', 'created_at', 'identifier', 'scopes', 'source', 'updated_at'];

let github: FakeGitHub;
let t: TestApp;
/** Shifts the app's clock (updated_at tests). */
let clockOffset = 0;

beforeAll(async () => {
  github = await startFakeGitHub({ callbackURL: CALLBACK });
  t = await createTestApp({
    publicUrl: PUBLIC_URL,
    oauthConfig: { github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls } },
    now: () => new Date(Date.now() + clockOffset),
  });
});

afterAll(async () => {
  await t?.close();
  await github?.stop();
});

/** A secret no other test uses, recognisable in a dump. */
const newSecret = () => `sk_live_${randomBytes(18).toString('hex')}`;

/** What a rejected promise was rejected with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Asserts an AuthError with `code` (and, for validation errors, that `field` is named). */
async function expectAuthError(promise: Promise<unknown>, code: string, field?: string): Promise<void> {
  const err = await rejection(promise);
  expect(err).toBeInstanceOf(AuthError);
  expect((err as AuthError).code).toBe(code);
  if (field) expect(Object.keys((err as AuthError & { fields: Record<string, string> }).fields)).toContain(field);
}

const list = (token: string, user = 'me') => t.http.get(`${BASE}/${user}/integrations`).set(bearer(token));
const remove = (token: string, connector: string, user = 'me') => t.http.delete(`${BASE}/${user}/integrations/${connector}`).set(bearer(token));
const rawRows = (userId: string) =>
  rawQuery<Record<string, unknown>>(`SELECT * FROM "${t.schema}".integrations WHERE user_id = $1 ORDER BY connector`, [userId]);

/** Links the fake GitHub account `nextUser` to `u` through the explicit linking flow; returns the provider's tokens. */
async function linkGitHub(u: { token: string; username: string; user: { id: string } }) {
  github.issueRefreshTokens = true;
  try {
    github.nextUser = github.makeUser({ email: `${u.username}@example.com`, verified: true });
    const begin = rememberBrowser(await t.http.post(`${BASE}/me/identities/github`).set(bearer(u.token)).send({}));
    expect(begin.status, JSON.stringify(begin.body)).toBe(200);
    const { callbackPath, cookie } = await authorizeAt(begin.body.redirect_url);
    const linked = await t.http.get(callbackPath).set('Cookie', cookie);
    expect(linked.status, JSON.stringify(linked.body)).toBe(200);
    expect(linked.body.user.id).toBe(u.user.id);
    const issued = github.issued.at(-1)!;
    return { githubId: String(github.nextUser.id), access_token: issued.access_token, refresh_token: issued.refresh_token! };
  } finally {
    github.issueRefreshTokens = false;
  }
}

describe('auth.integrations: set, get, list, has, delete', () => {
  it('round trip: the secret comes back decrypted from get only; list and set never carry it', async () => {
    const u = await verifiedUser(t);
    const secret = newSecret();
    const info = await t.auth.integrations.set(u.user.id, 'stripe', {
      secret,
      identifier: 'acct_123',
      scopes: ['charges:read', 'charges:write', 'charges:read'],
      meta: { region: 'eu', nested: { n: 1 } },
    });
    expect(Object.keys(info).sort()).toEqual(INFO_KEYS);
    expect(info).toMatchObject({ connector: 'stripe', source: 'manual', identifier: 'acct_123', scopes: ['charges:read', 'charges:write'] });
    expect(info.created_at).toBe(info.updated_at);

    expect(await t.auth.integrations.has(u.user.id, 'stripe')).toBe(true);
    const got = await t.auth.integrations.get(u.user.id, 'stripe');
    expect(got).toEqual({ ...info, secret, meta: { region: 'eu', nested: { n: 1 } } });

    const listed = await t.auth.integrations.list(u.user.id);
    expect(listed).toEqual([info]);
    expect(JSON.stringify(listed)).not.toContain(secret);

    await t.auth.integrations.delete(u.user.id, 'stripe');
    expect(await t.auth.integrations.has(u.user.id, 'stripe')).toBe(false);
    expect(await t.auth.integrations.get(u.user.id, 'stripe')).toBeUndefined();
    expect(await t.auth.integrations.list(u.user.id)).toEqual([]);
    await expectAuthError(t.auth.integrations.delete(u.user.id, 'stripe'), 'not_found');
  });

  it('identifier, scopes and meta are optional; entries are listed by connector', async () => {
    const u = await verifiedUser(t);
    await t.auth.integrations.set(u.user.id, 'zeta.io', { secret: newSecret() });
    await t.auth.integrations.set(u.user.id, 'acme:prod', { secret: newSecret(), identifier: null });
    const listed = await t.auth.integrations.list(u.user.id);
    expect(listed.map((i) => i.connector)).toEqual(['acme:prod', 'zeta.io']);
    expect(listed[0]).toMatchObject({ identifier: null, scopes: [] });
    expect(await t.auth.integrations.get(u.user.id, 'zeta.io')).toMatchObject({ identifier: null, scopes: [], meta: {} });
  });

  it('set again replaces secret, identifier, scopes and meta, keeps created_at and moves updated_at', async () => {
    const u = await verifiedUser(t);
    const first = await t.auth.integrations.set(u.user.id, 'linear', { secret: newSecret(), identifier: 'alice', scopes: ['read'], meta: { a: 1 } });
    const second = newSecret();
    clockOffset += 90_000;
    let replaced;
    try {
      replaced = await t.auth.integrations.set(u.user.id, 'linear', { secret: second });
    } finally {
      clockOffset -= 90_000;
    }
    expect(replaced.created_at).toBe(first.created_at);
    expect(Date.parse(replaced.updated_at) - Date.parse(first.updated_at)).toBeGreaterThanOrEqual(89_000);
    expect(await t.auth.integrations.get(u.user.id, 'linear')).toMatchObject({ secret: second, identifier: null, scopes: [], meta: {} });
    expect(await rawRows(u.user.id)).toHaveLength(1);
  });

  it('each user has their own entry under the same connector', async () => {
    const [a, b] = [await verifiedUser(t), await verifiedUser(t)];
    const [sa, sb] = [newSecret(), newSecret()];
    await t.auth.integrations.set(a.user.id, 'notion', { secret: sa });
    await t.auth.integrations.set(b.user.id, 'notion', { secret: sb });
    expect((await t.auth.integrations.get(a.user.id, 'notion'))?.secret).toBe(sa);
    expect((await t.auth.integrations.get(b.user.id, 'notion'))?.secret).toBe(sb);
    await t.auth.integrations.delete(a.user.id, 'notion');
    expect((await t.auth.integrations.get(b.user.id, 'notion'))?.secret).toBe(sb);
  });

  it('an upper-case user id names the same user', async () => {
    const u = await verifiedUser(t);
    const secret = newSecret();
    await t.auth.integrations.set(u.user.id.toUpperCase(), 'jira', { secret });
    expect((await t.auth.integrations.get(u.user.id, 'jira'))?.secret).toBe(secret);
    expect((await t.auth.integrations.get(u.user.id.toUpperCase(), 'jira'))?.secret).toBe(secret);
  });

  it('validation: each bad field is a ValidationError naming it, and nothing is stored', async () => {
    const u = await verifiedUser(t);
    const set = (connector: unknown, input: unknown) => t.auth.integrations.set(u.user.id, connector as string, input as IntegrationInput);
    const ok = { secret: 'x' };
    for (const connector of ['', 'Upper', '-dash', '.dot', 'a b', 'a/b', 'é', 'a'.repeat(65), 'a\0', 42, null]) {
      await expectAuthError(set(connector, ok), 'validation_error', 'connector');
    }
    await expectAuthError(set('svc', {}), 'validation_error', 'secret');
    await expectAuthError(set('svc', { secret: '' }), 'validation_error', 'secret');
    await expectAuthError(set('svc', { secret: 42 }), 'validation_error', 'secret');
    await expectAuthError(set('svc', { secret: 'x'.repeat(8193) }), 'validation_error', 'secret');
    await expectAuthError(set('svc', { secret: 'a\0b' }), 'validation_error', 'secret');
    await expectAuthError(set('svc', { ...ok, identifier: 'i'.repeat(257) }), 'validation_error', 'identifier');
    await expectAuthError(set('svc', { ...ok, identifier: 7 }), 'validation_error', 'identifier');
    await expectAuthError(set('svc', { ...ok, identifier: 'a\0' }), 'validation_error', 'identifier');
    await expectAuthError(set('svc', { ...ok, scopes: 'read' }), 'validation_error', 'scopes');
    await expectAuthError(set('svc', { ...ok, scopes: ['read', 3] }), 'validation_error', 'scopes.1');
    await expectAuthError(set('svc', { ...ok, scopes: [''] }), 'validation_error', 'scopes.0');
    await expectAuthError(set('svc', { ...ok, scopes: Array.from({ length: 101 }, (_, i) => `s${i}`) }), 'validation_error', 'scopes');
    await expectAuthError(set('svc', { ...ok, meta: [1, 2] }), 'validation_error', 'meta');
    await expectAuthError(set('svc', { ...ok, meta: 'text' }), 'validation_error', 'meta');
    await expectAuthError(set('svc', { ...ok, meta: { big: 'x'.repeat(9000) } }), 'validation_error', 'meta');
    await expectAuthError(set('svc', { ...ok, meta: { nul: 'a\0' } }), 'validation_error', 'meta');
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    await expectAuthError(set('svc', { ...ok, meta: deep }), 'validation_error', 'meta');
    // Far deeper than anything recursive could walk: still a ValidationError, not a RangeError.
    const abyss = JSON.parse('{"a":'.repeat(5000) + '{}' + '}'.repeat(5000)) as Record<string, unknown>;
    await expectAuthError(set('svc', { ...ok, meta: abyss }), 'validation_error', 'meta');
    for (const input of [null, undefined, 'secret', ['secret']]) await expectAuthError(set('svc', input), 'validation_error');
    expect(await rawRows(u.user.id)).toEqual([]);

    // The limits themselves are accepted.
    const longest = 'y'.repeat(8192);
    await set('a'.repeat(64), { secret: longest, identifier: 'i'.repeat(256) });
    expect((await t.auth.integrations.get(u.user.id, 'a'.repeat(64)))?.secret).toBe(longest);
  });

  it('a connector that names nothing (U+0000, very long, not a string): get undefined, has false, delete not_found', async () => {
    const u = await verifiedUser(t);
    for (const connector of ['a\0b', '\0', 'x'.repeat(5000), 42, null, undefined]) {
      const name = connector as string;
      expect(await t.auth.integrations.get(u.user.id, name)).toBeUndefined();
      expect(await t.auth.integrations.has(u.user.id, name)).toBe(false);
      await expectAuthError(t.auth.integrations.delete(u.user.id, name), 'not_found');
    }
  });

  it('an unknown user: set, list and delete answer not_found; get is undefined and has false', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', '']) {
      await expectAuthError(t.auth.integrations.set(id, 'svc', { secret: 'x' }), 'not_found');
      await expectAuthError(t.auth.integrations.list(id), 'not_found');
      await expectAuthError(t.auth.integrations.delete(id, 'svc'), 'not_found');
      expect(await t.auth.integrations.get(id, 'svc')).toBeUndefined();
      expect(await t.auth.integrations.has(id, 'svc')).toBe(false);
    }
  });

  it('a configured OAuth provider name is reserved for its linked account: set answers 409 conflict', async () => {
    const u = await verifiedUser(t);
    const secret = newSecret();
    await expectAuthError(t.auth.integrations.set(u.user.id, 'github', { secret }), 'conflict');
    expect(await t.auth.integrations.has(u.user.id, 'github')).toBe(false);
    expect(await rawRows(u.user.id)).toEqual([]);
  });

  it('audited as integration_set and integration_deleted, naming the connector and never the secret', async () => {
    const u = await verifiedUser(t);
    const secret = newSecret();
    await t.auth.integrations.set(u.user.id, 'slack', { secret, identifier: 'T123' });
    await t.auth.integrations.delete(u.user.id, 'slack');
    const events = await t.auth.events.list({ user_id: u.user.id });
    const types = events.map((e) => e.type);
    expect(types).toContain('integration_set');
    expect(types).toContain('integration_deleted');
    for (const e of events.filter((x) => x.type.startsWith('integration_'))) expect(e.data).toEqual({ connector: 'slack' });
    expect(JSON.stringify(events)).not.toContain(secret);
  });
});

describe('GET and DELETE /{user}/integrations', () => {
  it('self: lists its entries without any secret, no-store; by id too', async () => {
    const u = await verifiedUser(t);
    const secret = newSecret();
    await t.auth.integrations.set(u.user.id, 'openai', { secret, identifier: 'org-1', scopes: ['model.request'] });
    const res = await list(u.token);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toHaveLength(1);
    expect(Object.keys(res.body[0]).sort()).toEqual(INFO_KEYS);
    expect(res.body[0]).toMatchObject({ connector: 'openai', source: 'manual', identifier: 'org-1', scopes: ['model.request'] });
    expect(res.text).not.toContain(secret);
    expect((await list(u.token, u.user.id)).body).toEqual(res.body);
    expect((await list((await verifiedUser(t)).token)).body).toEqual([]);
  });

  it('DELETE /me/integrations/{connector}: 200, gone; again or unknown: 404', async () => {
    const u = await verifiedUser(t);
    await t.auth.integrations.set(u.user.id, 'openai', { secret: newSecret() });
    const res = await remove(u.token, 'openai');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ success: true });
    expect(await t.auth.integrations.has(u.user.id, 'openai')).toBe(false);
    expectError(await remove(u.token, 'openai'), 404, 'not_found');
    expectError(await remove(u.token, 'NOT-A-CONNECTOR'), 404, 'not_found');
    expectError(await remove(u.token, '%E0%A4%A'), 400, 'validation_error');
  });

  it('connectors with : and . work in the path, plain or percent-encoded; there is no way to write a secret over HTTP', async () => {
    const u = await verifiedUser(t);
    await t.auth.integrations.set(u.user.id, 'acme:prod', { secret: newSecret() });
    await t.auth.integrations.set(u.user.id, 'mail.example', { secret: newSecret() });
    expect((await remove(u.token, 'acme:prod')).status).toBe(200);
    expect((await remove(u.token, 'mail%2Eexample')).status).toBe(200);
    expect(await t.auth.integrations.list(u.user.id)).toEqual([]);
    for (const res of [
      await t.http.post(`${BASE}/me/integrations`).set(bearer(u.token)).send({ connector: 'x', secret: 'y' }),
      await t.http.post(`${BASE}/me/integrations/x`).set(bearer(u.token)).send({ secret: 'y' }),
      await t.http.get(`${BASE}/me/integrations/x`).set(bearer(u.token)),
    ]) {
      expectError(res, 404, 'not_found');
    }
    expect(await t.auth.integrations.list(u.user.id)).toEqual([]);
  });

  it('odd path segments as user or connector: a 4xx error body, never a 5xx', async () => {
    const u = await verifiedUser(t);
    const odd = ['%00', '%', '%zz', '..', 'me%2F..', '%E2%80%AE', 'a'.repeat(3000), '00000000-0000-4000-8000-00000000000G', 'ME', "x'%3B--", '%F0%9F%94%91'];
    for (const seg of odd) {
      const answers = { list: await list(u.token, seg), deleteConnector: await remove(u.token, seg), deleteOfUser: await remove(u.token, 'svc', seg) };
      for (const [what, res] of Object.entries(answers)) {
        expect(res.status, `${what} ${seg}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${what} ${seg}`).toBeLessThan(500);
        expect(Object.keys(res.body).sort()).toEqual(
          res.body.code === 'validation_error' ? ['code', 'error', 'fields', 'status_code'] : ['code', 'error', 'status_code'],
        );
      }
    }
  });

  it('another user: 404 for both, and nothing is deleted', async () => {
    const [owner, other] = [await verifiedUser(t), await verifiedUser(t)];
    await t.auth.integrations.set(owner.user.id, 'openai', { secret: newSecret() });
    expectError(await list(other.token, owner.user.id), 404, 'not_found');
    expectError(await remove(other.token, 'openai', owner.user.id), 404, 'not_found');
    expect(await t.auth.integrations.has(owner.user.id, 'openai')).toBe(true);
  });

  it('an admin: lists and deletes another user’s entries; the deletion is audited with the admin as actor', async () => {
    const admin = await registerAdmin(t);
    const u = await verifiedUser(t);
    const secret = newSecret();
    await t.auth.integrations.set(u.user.id, 'gitlab', { secret, identifier: 'alice' });
    const res = await list(admin.token, u.user.id);
    expect(res.status).toBe(200);
    expect(res.body.map((i: { connector: string }) => i.connector)).toEqual(['gitlab']);
    expect(res.text).not.toContain(secret);
    expectError(await list(admin.token, '00000000-0000-4000-8000-000000000000'), 404, 'not_found');

    expect((await remove(admin.token, 'gitlab', u.user.id)).status).toBe(200);
    expect(await t.auth.integrations.has(u.user.id, 'gitlab')).toBe(false);
    const [event] = await t.auth.events.list({ user_id: u.user.id, type: 'integration_deleted' });
    expect(event).toMatchObject({ user_id: u.user.id, actor_id: admin.user.id, data: { connector: 'gitlab' } });
  });

  it('an admin: an unknown user is 404 for DELETE as for GET; a connector the user lacks is 404 and their other entries stay', async () => {
    const admin = await registerAdmin(t);
    const u = await verifiedUser(t);
    await t.auth.integrations.set(u.user.id, 'openai', { secret: newSecret() });
    for (const missing of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      expectError(await remove(admin.token, 'openai', missing), 404, 'not_found');
      expectError(await list(admin.token, missing), 404, 'not_found');
    }
    expectError(await remove(admin.token, 'stripe', u.user.id), 404, 'not_found');
    expect((await list(admin.token, u.user.id)).body.map((i: { connector: string }) => i.connector)).toEqual(['openai']);
    // A deleted user's entries went with them, and their id now answers 404.
    await t.auth.users.delete(u.user.id);
    expectError(await list(admin.token, u.user.id), 404, 'not_found');
    expectError(await remove(admin.token, 'openai', u.user.id), 404, 'not_found');
  });

  it('an API token: 403 forbidden for both, even its owner’s with every scope; no token: 401', async () => {
    const u = await verifiedUser(t);
    await t.auth.integrations.set(u.user.id, 'openai', { secret: newSecret() });
    const api = await t.auth.apiTokens.create(u.user.id, { name: 'ci', scopes: ['*'] });
    expectError(await list(api.token), 403, 'forbidden');
    expectError(await list(api.token, u.user.id), 403, 'forbidden');
    expectError(await remove(api.token, 'openai'), 403, 'forbidden');
    expectError(await t.http.get(`${BASE}/me/integrations`).set('X-API-Token', api.token), 403, 'forbidden');
    expectError(await t.http.get(`${BASE}/me/integrations`), 401, 'unauthorized');
    expectError(await t.http.delete(`${BASE}/me/integrations/openai`), 401, 'unauthorized');
    expect(await t.auth.integrations.has(u.user.id, 'openai')).toBe(true);
  });

  it('an impersonation token may list but not delete', async () => {
    const admin = await registerAdmin(t);
    const u = await verifiedUser(t);
    await t.auth.integrations.set(u.user.id, 'openai', { secret: newSecret() });
    const { token } = await t.auth.users.impersonate(admin.user.id, u.user.id);
    expect((await list(token)).status).toBe(200);
    expectError(await remove(token, 'openai'), 403, 'forbidden');
    expect(await t.auth.integrations.has(u.user.id, 'openai')).toBe(true);
  });
});

describe('OAuth-linked providers appear as integrations', () => {
  it('listed with the provider account id and granted scopes, never a provider token; get returns the tokens', async () => {
    const u = await verifiedUser(t);
    const provider = await linkGitHub(u);
    const secret = newSecret();
    await t.auth.integrations.set(u.user.id, 'zendesk', { secret });

    const res = await list(u.token);
    expect(res.status).toBe(200);
    expect(res.body.map((i: { connector: string; source: string }) => [i.connector, i.source])).toEqual([
      ['github', 'oauth'],
      ['zendesk', 'manual'],
    ]);
    expect(Object.keys(res.body[0]).sort()).toEqual(INFO_KEYS);
    expect(res.body[0]).toMatchObject({ identifier: provider.githubId });
    expect(res.body[0].scopes).toContain('user:email');
    for (const leaked of [secret, provider.access_token, provider.refresh_token]) expect(res.text).not.toContain(leaked);
    expect(await t.auth.integrations.list(u.user.id)).toEqual(res.body);

    expect(await t.auth.integrations.has(u.user.id, 'github')).toBe(true);
    const got = await t.auth.integrations.get(u.user.id, 'github');
    expect(got).toMatchObject({
      connector: 'github',
      source: 'oauth',
      identifier: provider.githubId,
      secret: provider.access_token,
      meta: {},
      provider: 'github',
      provider_user_id: provider.githubId,
      access_token: provider.access_token,
      refresh_token: provider.refresh_token,
    });

    // Linked or not, the provider's name stays reserved.
    await expectAuthError(t.auth.integrations.set(u.user.id, 'github', { secret: newSecret() }), 'conflict');
  });

  it('DELETE of a linked provider unlinks it when the user has a password (audited as identity_unlinked)', async () => {
    const u = await verifiedUser(t);
    await linkGitHub(u);
    const res = await remove(u.token, 'github');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await t.auth.integrations.has(u.user.id, 'github')).toBe(false);
    expect((await t.http.get(`${BASE}/me/identities`).set(bearer(u.token))).body).toEqual([]);
    const types = (await t.auth.events.list({ user_id: u.user.id })).map((e) => e.type);
    expect(types).toContain('identity_unlinked');
    expect(types).not.toContain('integration_deleted');
  });

  it('DELETE of the last way to sign in (an OAuth-only account) is refused: 409 conflict', async () => {
    github.nextUser = github.makeUser({ email: `${uniqueName('gh')}@example.net`, verified: true });
    const begin = rememberBrowser(await t.http.post(`${BASE}/login/oauth`).send({ provider: 'github' }));
    const signIn = await followOAuth(t.http, begin.body.redirect_url);
    expect(signIn.status, JSON.stringify(signIn.body)).toBe(200);
    expectError(await remove(signIn.body.token, 'github'), 409, 'conflict');
    await expectAuthError(t.auth.integrations.delete(signIn.body.user.id, 'github'), 'conflict');
    expect(await t.auth.integrations.has(signIn.body.user.id, 'github')).toBe(true);
  });
});

describe('at rest', () => {
  it('the table holds no plaintext secret: AES-256-GCM ciphertext, scopes as text[], meta as jsonb', async () => {
    const u = await verifiedUser(t);
    const secret = newSecret();
    await t.auth.integrations.set(u.user.id, 'aws', { secret, identifier: 'AKIA-ID', scopes: ['s3:read'], meta: { region: 'eu-west-1' } });
    const rows = await rawRows(u.user.id);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ connector: 'aws', identifier: 'AKIA-ID', scopes: ['s3:read'], meta: { region: 'eu-west-1' } });
    expect(row.secret_enc).toMatch(/^v2\.[\w-]+\.[\w-]+\.[\w-]+$/);
    const dump = JSON.stringify(rows);
    for (const form of [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url'), Buffer.from(secret).toString('hex')]) {
      expect(dump).not.toContain(form);
    }
    // Sealed afresh each time: the same secret stored twice gives two different ciphertexts.
    await t.auth.integrations.set(u.user.id, 'aws', { secret });
    expect((await rawRows(u.user.id))[0]!.secret_enc).not.toBe(row.secret_enc);
  });

  it('a ciphertext moved to another user’s row, or another connector, does not decrypt: secret null, never the other secret', async () => {
    const [a, b] = [await verifiedUser(t), await verifiedUser(t)];
    const [sa, sb] = [newSecret(), newSecret()];
    await t.auth.integrations.set(a.user.id, 'vault', { secret: sa });
    await t.auth.integrations.set(b.user.id, 'vault', { secret: sb });
    await t.auth.integrations.set(a.user.id, 'vault2', { secret: newSecret() });
    const table = `"${t.schema}".integrations`;
    await rawQuery(
      `UPDATE ${table} SET secret_enc = (SELECT secret_enc FROM ${table} WHERE user_id = $1 AND connector = 'vault') WHERE user_id = $2 AND connector = 'vault'`,
      [a.user.id, b.user.id],
    );
    await rawQuery(
      `UPDATE ${table} SET secret_enc = (SELECT secret_enc FROM ${table} WHERE user_id = $1 AND connector = 'vault') WHERE user_id = $1 AND connector = 'vault2'`,
      [a.user.id],
    );
    const moved = await t.auth.integrations.get(b.user.id, 'vault');
    expect(moved).toMatchObject({ connector: 'vault', source: 'manual', secret: null });
    expect(JSON.stringify(moved)).not.toContain(sa);
    expect((await t.auth.integrations.get(a.user.id, 'vault2'))?.secret).toBeNull();
    // The original still decrypts; the listing is unaffected.
    expect((await t.auth.integrations.get(a.user.id, 'vault'))?.secret).toBe(sa);
    expect((await list(b.token)).status).toBe(200);
  });

  it('deleting the user deletes their integrations', async () => {
    const u = await verifiedUser(t);
    await t.auth.integrations.set(u.user.id, 'one', { secret: newSecret() });
    await t.auth.integrations.set(u.user.id, 'two', { secret: newSecret() });
    expect(await rawRows(u.user.id)).toHaveLength(2);
    await t.auth.users.delete(u.user.id);
    expect(await rawRows(u.user.id)).toEqual([]);
  });
});
