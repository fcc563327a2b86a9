import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import * as OTPAuth from 'otpauth';
import Router from 'router';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthManager, type OpenApiDocument } from '../src/index.js';
import { registerAdmin } from './helpers/admin.js';
import { bearer, createTestApp, PASSWORD, registerUser, type TestApp, verifiedUser } from './helpers/app.js';
import { databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';
import { BASE, uniqueName } from './helpers/endpoints.js';
import { mailbox } from './helpers/mailbox.js';
import { ORIGIN, SoftAuthenticator, withPasskeys } from './helpers/passkeys.js';

type Method = 'get' | 'post' | 'patch' | 'delete';
type Operations = Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>>;

const operationsOf = (doc: OpenApiDocument) =>
  Object.entries(doc.paths as Operations).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));

describe('the document', () => {
  it('is valid OpenAPI 3.1 (a maintained validator), and a broken copy is not', async () => {
    const t = await createTestApp();
    try {
      const doc = t.auth.openapi();
      const result = await new Validator().validate(structuredClone(doc));
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);
      expect(doc.openapi).toBe('3.1.0');
      expect((doc.info as { version: string }).version).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
      // The validator can fail: a response without its description is refused.
      const broken = structuredClone(doc);
      delete ((broken.paths as Operations)['/login']!.post!.responses['200'] as { description?: string }).description;
      expect((await new Validator().validate(broken)).valid).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('lists exactly the routes the router mounts', async () => {
    // Every route of `auth.router`, as the router package records it: a mount added without a row in the table fails here.
    const routes: Array<{ path: string; methods: Record<string, boolean> }> = [];
    const original = Router.prototype.route;
    const spy = vi.spyOn(Router.prototype, 'route').mockImplementation(function (this: unknown, ...args: unknown[]) {
      const route = original.apply(this, args) as { path: string; methods: Record<string, boolean> };
      routes.push(route);
      return route;
    });
    const schema = uniqueSchema();
    let auth: AuthManager;
    try {
      auth = new AuthManager(null, { ...(await databaseOptions()), dbSchema: schema, jwtSecret: 'x'.repeat(48), logger: false, openapi: true });
    } finally {
      spy.mockRestore();
    }
    try {
      const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      const mounted = routes.flatMap((r) =>
        Object.keys(r.methods).map((m) => `${m.toUpperCase()} ${r.path.replace(/:([A-Za-z]+)/g, (_s, name: string) => `{${snake(name)}}`)}`),
      );
      const documented = operationsOf(auth.openapi());
      expect(mounted.length).toBeGreaterThan(50);
      expect(new Set(mounted).size).toBe(mounted.length);
      expect([...mounted].sort()).toEqual([...documented].sort());
    } finally {
      await auth.ready.catch(() => undefined);
      await auth.close();
      await dropSchema(schema);
    }
  });
});

describe('the openapi option', () => {
  it('is off by default: /openapi.json is 404', async () => {
    const t = await createTestApp();
    try {
      const res = await t.http.get(`${BASE}/openapi.json`);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('not_found');
    } finally {
      await t.close();
    }
  });

  it('serves the document when on, public and cacheable, with basePath as its server', async () => {
    const t = await createTestApp({ openapi: true });
    try {
      const res = await t.http.get(`${BASE}/openapi.json`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('public, max-age=300');
      expect(res.body).toEqual(JSON.parse(JSON.stringify(t.auth.openapi())));
      expect(res.body.servers).toEqual([{ url: BASE }]);
    } finally {
      await t.close();
    }
  });

  it('is a TypeError when not a boolean', async () => {
    expect(() => new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(48), openapi: 'yes' as unknown as boolean })).toThrow(TypeError);
  });
});

describe('real responses match the document', () => {
  const box = mailbox();
  let t: TestApp;
  let doc: OpenApiDocument;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const compiled = new Map<string, ValidateFunction>();
  /** `METHOD path status` of every response checked. */
  const checked = new Set<string>();

  beforeAll(async () => {
    t = await createTestApp({ openapi: true, mailer: box.mailer });
    doc = t.auth.openapi();
    ajv.addSchema({ $id: 'openapi', components: doc.components }, 'openapi');
  });
  afterAll(() => t?.close());

  /** Validates `res` against the document's response for (path, method, status); one the document does not describe fails. */
  function expectDocumented(res: Response, method: Method, path: string): Response {
    const operation = (doc.paths as Operations)[path]?.[method];
    expect(operation, `${method.toUpperCase()} ${path} is not documented`).toBeDefined();
    const response = operation!.responses[String(res.status)];
    expect(response, `${method.toUpperCase()} ${path} answered ${res.status}, which is not documented: ${res.text}`).toBeDefined();
    checked.add(`${method.toUpperCase()} ${path} ${res.status}`);
    for (const [name, header] of Object.entries((response as { headers?: Record<string, { required?: boolean }> }).headers ?? {})) {
      if (header.required) expect(res.headers[name.toLowerCase()], `${name} on ${method.toUpperCase()} ${path} ${res.status}`).toBeTruthy();
    }
    if (res.status === 302) {
      expect(res.headers.location).toBeTruthy();
      return res;
    }
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const ref = response!.content?.['application/json']?.schema.$ref;
    expect(ref).toMatch(/^#\/components\/schemas\//);
    let validate = compiled.get(ref!);
    if (!validate) compiled.set(ref!, (validate = ajv.compile({ $ref: `openapi${ref}` })));
    const ok = validate(res.body);
    expect(ok, `${method.toUpperCase()} ${path} ${res.status}: ${JSON.stringify(validate.errors)} in ${res.text}`).toBe(true);
    return res;
  }

  const call = (method: Method, template: string, path = template) => ({
    send: async (body?: object | string, headers: Record<string, string> = {}) => {
      let req = t.http[method](`${BASE}${path}`).set(headers);
      if (typeof body === 'string') req = req.set('Content-Type', 'text/plain').send(body);
      else if (body !== undefined) req = req.send(body);
      return expectDocumented(await req, method, template);
    },
  });
  const totpOf = (secret: string) => new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) });

  it('the validator can fail: a body with an extra field or a wrong type is refused', () => {
    const validate = ajv.compile({ $ref: 'openapi#/components/schemas/Success' });
    expect(validate({ success: true })).toBe(true);
    expect(validate({ success: true, extra: 1 })).toBe(false);
    expect(ajv.compile({ $ref: 'openapi#/components/schemas/User' })({ id: 1 })).toBe(false);
  });

  it('a request body the document accepts is one the server accepts: POST /admin/users needs an email', async () => {
    // The document used auth.users.create's schema, where the email is optional; the route is not.
    const validate = ajv.compile({ $ref: 'openapi#/components/schemas/AdminCreateUserRequest' });
    expect(validate({ username: 'no_email_given' })).toBe(false);
    expect(validate({ username: 'null_email', email: null })).toBe(false);
    expect(validate({ username: 'with_email', email: 'with@example.com' })).toBe(true);
    const admin = await registerAdmin(t);
    const res = await t.http.post('/api/v1/users/admin/users').set(bearer(admin.token)).send({ username: 'no_email_given' });
    expect(res.status).toBe(400);
  });

  it('public endpoints and the document itself', async () => {
    await call('get', '/openapi.json').send();
    await call('get', '/auth-methods').send();
    await call('get', '/roles').send();
  });

  it('register, login, profile, refresh, logout and their errors (400, 401, 409, 415)', async () => {
    const username = uniqueName('oa');
    const email = `${username}@example.com`;
    const reg = await call('post', '/register').send({ username, email, password: PASSWORD, real_name: 'Oa', profile: { a: 1 } });
    expect(reg.status).toBe(201);
    expect((await call('post', '/register').send({ username, email, password: PASSWORD })).status).toBe(409);
    expect((await call('post', '/register').send({ username: 'x' })).status).toBe(400);
    expect((await call('post', '/register').send('username=x')).status).toBe(415);
    expect((await call('post', '/register').send({ username, profile: { big: 'x'.repeat(17 * 1024) } })).status).toBe(413);

    const login = await call('post', '/login').send({ username: email, password: PASSWORD });
    expect(login.status).toBe(200);
    expect((await call('post', '/login').send({ username, password: 'wrong password here' })).status).toBe(401);

    expect((await call('get', '/login/profile').send(undefined, bearer(login.body.token))).status).toBe(200);
    expect((await call('get', '/login/profile').send()).status).toBe(401);
    expect((await call('get', '/login/profile').send(undefined, bearer('not.a.jwt'))).status).toBe(401);

    const refreshed = await call('post', '/token-refresh').send({ refresh_token: login.body.refresh_token });
    expect(refreshed.status).toBe(200);
    expect((await call('post', '/token-refresh').send({ refresh_token: login.body.refresh_token })).status).toBe(401);

    const again = await call('post', '/login').send({ username, password: PASSWORD });
    expect((await call('post', '/logout').send({ refresh_token: again.body.refresh_token })).status).toBe(200);
    const changed = await call('post', '/change-password').send({ current_password: PASSWORD, password: `${PASSWORD} 2` }, bearer(reg.body.token));
    expect(changed.status).toBe(200);
    expect((await call('post', '/logout-all').send(undefined, bearer(changed.body.token))).status).toBe(200);
  });

  it('API tokens, integrations and identities (403 for an API token, 404 for a missing one)', async () => {
    const u = await verifiedUser(t);
    const auth = bearer(u.token);
    const created = await call('post', '/{user}/api-tokens', '/me/api-tokens').send({ name: 'ci', scopes: ['reports:read'], expires_in_days: 30 }, auth);
    expect(created.status).toBe(201);
    expect((await call('get', '/{user}/api-tokens', '/me/api-tokens').send(undefined, auth)).status).toBe(200);
    expect((await call('get', '/login/profile').send(undefined, { 'X-API-Token': created.body.token })).status).toBe(200);
    expect((await call('get', '/{user}/api-tokens', '/me/api-tokens').send(undefined, bearer(created.body.token))).status).toBe(403);
    expect((await call('post', '/{user}/api-tokens', '/me/api-tokens').send({ name: '' }, auth)).status).toBe(400);
    expect((await call('delete', '/{user}/api-tokens/{token_id}', `/me/api-tokens/${created.body.id}`).send(undefined, auth)).status).toBe(200);
    expect((await call('delete', '/{user}/api-tokens/{token_id}', `/me/api-tokens/${created.body.id}`).send(undefined, auth)).status).toBe(404);

    await t.auth.integrations.set(u.user.id, 'acme', { secret: 's3cret', identifier: 'acct-1', scopes: ['read'] });
    expect((await call('get', '/{user}/integrations', '/me/integrations').send(undefined, auth)).status).toBe(200);
    expect((await call('delete', '/{user}/integrations/{connector}', '/me/integrations/acme').send(undefined, auth)).status).toBe(200);
    expect((await call('get', '/{user}/identities', '/me/identities').send(undefined, auth)).status).toBe(200);
    expect((await call('get', '/{user}/identities', `/${u.user.id}x/identities`).send(undefined, auth)).status).toBe(404);
    expect((await call('delete', '/{user}/identities/{provider}', '/me/identities/github').send(undefined, auth)).status).toBeGreaterThanOrEqual(400);
    expect((await call('post', '/{user}/identities/{provider}', '/me/identities/nope').send({}, auth)).status).toBe(400);
  });

  it('OAuth begin and callback refuse an unknown provider or state', async () => {
    expect((await call('post', '/login/oauth').send({ provider: 'nope' })).status).toBe(400);
    expect((await call('get', '/login/oauth/{provider}', '/login/oauth/nope').send()).status).toBe(400);
    expect((await call('get', '/login/oauth2callback', '/login/oauth2callback?code=x&state=y').send()).status).toBe(400);
    const form = await t.http.post(`${BASE}/login/oauth2callback`).type('form').send({ code: 'x', state: 'y' });
    expect(expectDocumented(form, 'post', '/login/oauth2callback').status).toBe(400);
  });

  it('groups, members, invitations, children and service keys (403, 404, 409)', async () => {
    const NO_INVITATION = '00000000-0000-4000-8000-000000000000';
    const owner = await verifiedUser(t); // inviting needs a proven address
    const other = await registerUser(t);
    const auth = bearer(owner.token);
    const g = await call('post', '/groups').send({ name: `Team ${uniqueName('g')}` }, auth);
    expect(g.status).toBe(201);
    const id = g.body.group.id as string;
    const child = await call('post', '/groups').send({ name: `Child ${uniqueName('g')}`, description: 'sub' }, auth);
    expect((await call('get', '/groups', '/groups?limit=10').send(undefined, auth)).status).toBe(200);
    expect((await call('get', '/groups/{id}', `/groups/${id}`).send(undefined, auth)).status).toBe(200);
    expect((await call('get', '/groups/{id}', '/groups/no-such-group').send(undefined, auth)).status).toBe(404);
    expect((await call('patch', '/groups/{id}', `/groups/${id}`).send({ description: 'the team' }, auth)).status).toBe(200);
    // A group admin invites; adding directly is a site admin's.
    expect((await call('post', '/groups/{id}/members', `/groups/${id}/members`).send({ user_id: other.user.id, roles: [] }, auth)).status).toBe(403);
    expect((await call('post', '/groups/{id}/invitations', `/groups/${id}/invitations`).send({ username: other.username, roles: [] }, auth)).status).toBe(202);
    const invited = await call('get', '/{user}/invitations', '/me/invitations').send(undefined, bearer(other.token));
    expect(invited.status).toBe(200);
    const accepted = await call('post', '/{user}/invitations/{invitation_id}/accept', `/me/invitations/${invited.body[0].id}/accept`).send(
      undefined,
      bearer(other.token),
    );
    expect(accepted.status).toBe(200);
    expect((await call('post', '/groups/{id}/invitations', `/groups/${id}/invitations`).send({ email: `${other.username}@example.com` }, auth)).status).toBe(
      202,
    );
    const again = await call('get', '/{user}/invitations', '/me/invitations').send(undefined, bearer(other.token));
    expect(
      (await call('post', '/{user}/invitations/{invitation_id}/accept', `/me/invitations/${NO_INVITATION}/accept`).send(undefined, bearer(other.token))).status,
    ).toBe(404);
    expect(again.status).toBe(200);
    const site = bearer((await registerAdmin(t)).token);
    const third = await registerUser(t);
    expect((await call('post', '/groups/{id}/members', `/groups/${id}/members`).send({ user_id: third.user.id }, site)).status).toBe(201);
    expect((await call('post', '/groups/{id}/members', `/groups/${id}/members`).send({ user_id: other.user.id }, site)).status).toBe(409);
    await call('post', '/groups/{id}/invitations', `/groups/${id}/invitations`).send({ username: third.username }, auth);
    const thirds = await call('get', '/{user}/invitations', '/me/invitations').send(undefined, bearer(third.token));
    expect(
      (await call('post', '/{user}/invitations/{invitation_id}/accept', `/me/invitations/${thirds.body[0].id}/accept`).send(undefined, bearer(third.token)))
        .status,
    ).toBe(409);
    expect(
      (await call('post', '/{user}/invitations/{invitation_id}/decline', `/me/invitations/${thirds.body[0].id}/decline`).send(undefined, bearer(third.token)))
        .status,
    ).toBe(200);
    expect((await call('get', '/groups/{id}/members', `/groups/${id}/members`).send(undefined, auth)).status).toBe(200);
    expect((await call('get', '/groups/{id}/members', `/groups/${id}/members`).send(undefined, site)).status).toBe(200);
    const memberPath = `/groups/${id}/members/${other.user.id}`;
    expect((await call('patch', '/groups/{id}/members/{user_id}', memberPath).send({ roles: ['admin'] }, auth)).status).toBe(200);
    expect((await call('get', '/{user}/groups', '/me/groups').send(undefined, bearer(other.token))).status).toBe(200);
    expect((await call('post', '/groups/{id}/children', `/groups/${id}/children`).send({ child_id: child.body.group.id }, auth)).status).toBe(201);
    expect((await call('post', '/groups/{id}/children', `/groups/${child.body.group.id}/children`).send({ child_id: id }, auth)).status).toBe(409);
    const childPath = `/groups/${id}/children/${child.body.group.id}`;
    expect((await call('delete', '/groups/{id}/children/{child_id}', childPath).send(undefined, auth)).status).toBe(200);
    const key = await call('post', '/groups/{id}/api-tokens', `/groups/${id}/api-tokens`).send({ name: 'svc', scopes: ['editor'] }, auth);
    expect(key.status).toBe(201);
    expect((await call('get', '/groups/{id}/api-tokens', `/groups/${id}/api-tokens`).send(undefined, auth)).status).toBe(200);
    const keyPath = `/groups/${id}/api-tokens/${key.body.id}`;
    expect((await call('delete', '/groups/{id}/api-tokens/{token_id}', keyPath).send(undefined, auth)).status).toBe(200);
    expect((await call('delete', '/groups/{id}/members/{user_id}', memberPath).send(undefined, auth)).status).toBe(200);
    expect((await call('delete', '/groups/{id}', `/groups/${id}`).send(undefined, auth)).status).toBe(200);
  });

  it('administration (403 for a non-admin)', async () => {
    const admin = await registerAdmin(t);
    const plain = await registerUser(t);
    const auth = bearer(admin.token);
    expect((await call('get', '/admin/users').send(undefined, bearer(plain.token))).status).toBe(403);
    expect((await call('get', '/admin/users', '/admin/users?limit=5&search=oa').send(undefined, auth)).status).toBe(200);
    expect((await call('get', '/admin/users', '/admin/users?limit=0').send(undefined, auth)).status).toBe(400);
    const name = uniqueName('adm');
    const made = await call('post', '/admin/users').send({ username: name, email: `${name}@example.com`, roles: ['user'], email_verified: true }, auth);
    expect(made.status).toBe(201);
    const id = made.body.user.id as string;
    expect((await call('get', '/admin/users/{id}', `/admin/users/${id}`).send(undefined, auth)).status).toBe(200);
    expect((await call('patch', '/admin/users/{id}', `/admin/users/${id}`).send({ real_name: 'Made', is_active: true }, auth)).status).toBe(200);
    expect((await call('post', '/admin/users/{id}/logout-all', `/admin/users/${id}/logout-all`).send(undefined, auth)).status).toBe(200);
    expect((await call('get', '/admin/roles').send(undefined, auth)).status).toBe(200);
    expect((await call('post', '/admin/roles').send({ name: 'auditor' }, auth)).status).toBe(201);
    expect((await call('post', '/admin/roles').send({ name: 'auditor' }, auth)).status).toBe(409);
    expect((await call('delete', '/admin/roles/{name}', '/admin/roles/auditor').send(undefined, auth)).status).toBe(200);
    expect((await call('get', '/admin/events', '/admin/events?limit=5').send(undefined, auth)).status).toBe(200);
    expect((await call('post', '/{user}/impersonate', `/${plain.user.id}/impersonate`).send({ duration: 60 }, auth)).status).toBe(200);
    expect((await call('delete', '/admin/users/{id}', `/admin/users/${id}`).send(undefined, auth)).status).toBe(200);
    expect((await call('get', '/admin/users/{id}', `/admin/users/${id}`).send(undefined, auth)).status).toBe(404);
  });

  it('multi-factor authentication, with the mfa_required error body', async () => {
    const u = await verifiedUser(t);
    const auth = bearer(u.token);
    expect((await call('get', '/mfa').send(undefined, auth)).status).toBe(200);
    const setup = await call('post', '/mfa/totp/setup').send({ password: PASSWORD }, auth);
    expect(setup.status).toBe(200);
    const totp = totpOf(setup.body.secret);
    expect((await call('post', '/mfa/totp/confirm').send({ code: '000000x' }, auth)).status).toBe(400);
    const confirmed = await call('post', '/mfa/totp/confirm').send({ code: totp.generate() }, auth);
    expect(confirmed.status).toBe(200);
    const first = await call('post', '/login').send({ username: u.username, password: PASSWORD });
    expect(first.status).toBe(401);
    expect(first.body.code).toBe('mfa_required');
    const second = await call('post', '/login/mfa').send({
      mfa_id: first.body.mfa_id,
      method: 'totp',
      code: totp.generate({ timestamp: Date.now() + 30_000 }),
    });
    expect(second.status).toBe(200);
    const fresh = bearer(second.body.token);
    const codes = await call('post', '/mfa/backup-codes').send({ password: PASSWORD, code: confirmed.body.backup_codes[0] }, fresh);
    expect(codes.status).toBe(200);
    expect((await call('post', '/mfa/totp/disable').send({ password: PASSWORD, code: codes.body.backup_codes[0] }, fresh)).status).toBe(200);
  });

  it('passkeys: registration, sign-in, the second factor, management and their errors (400, 401, 403, 409, 501)', async () => {
    // 501 from this app, which has no `webauthn` option.
    expect((await call('post', '/login/passkey/options').send({})).status).toBe(501);
    const p = await createTestApp(withPasskeys);
    try {
      const on = (method: Method, template: string, path = template) => ({
        send: async (body?: object, headers: Record<string, string> = {}) => {
          let req = p.http[method](`${BASE}${path}`).set(headers);
          if (body !== undefined) req = req.send(body);
          return expectDocumented(await req, method, template);
        },
      });
      const admin = await registerAdmin(p);
      const plain = await registerUser(p);
      expect((await on('post', '/passkeys/register/options').send({}, bearer(plain.token))).status).toBe(403);
      const u = await verifiedUser(p);
      const auth = bearer(u.token);
      const authenticator = new SoftAuthenticator();
      const options = await on('post', '/passkeys/register/options').send({}, auth);
      expect(options.status).toBe(200);
      expect((await on('post', '/passkeys/register').send({ challenge_id: options.body.challenge_id, response: {} }, auth)).status).toBe(400);
      const response = authenticator.create(options.body.options, { origin: ORIGIN });
      const created = await on('post', '/passkeys/register').send({ challenge_id: options.body.challenge_id, response, name: 'Laptop' }, auth);
      expect(created.status).toBe(201);
      const id = created.body.passkey.id as string;
      const again = await on('post', '/passkeys/register/options').send({}, auth);
      const copy = new SoftAuthenticator().create(again.body.options, { origin: ORIGIN, credentialId: response.id });
      expect((await on('post', '/passkeys/register').send({ challenge_id: again.body.challenge_id, response: copy }, auth)).status).toBe(409);

      const signIn = await on('post', '/login/passkey/options').send({ username: u.username });
      expect(signIn.status).toBe(200);
      const assertion = authenticator.get(signIn.body.options, { origin: ORIGIN });
      expect((await on('post', '/login/passkey').send({ challenge_id: signIn.body.challenge_id, response: assertion })).status).toBe(200);
      expect((await on('post', '/login/passkey').send({ challenge_id: signIn.body.challenge_id, response: assertion })).status).toBe(401);
      const discoverable = await on('post', '/login/passkey/options').send({});
      const login = await on('post', '/login/passkey').send({
        challenge_id: discoverable.body.challenge_id,
        response: authenticator.get(discoverable.body.options, { origin: ORIGIN }),
      });
      expect(login.status).toBe(200);
      expect((await on('post', '/login/passkey/options').send({ mfa_id: 'A'.repeat(43) })).status).toBe(401);

      expect((await on('get', '/{user}/passkeys', '/me/passkeys').send(undefined, auth)).status).toBe(200);
      expect((await on('patch', '/{user}/passkeys/{passkey_id}', `/me/passkeys/${id}`).send({ name: 'Work' }, auth)).status).toBe(200);
      expect((await on('patch', '/{user}/passkeys/{passkey_id}', `/me/passkeys/${u.user.id}`).send({ name: 'Work' }, auth)).status).toBe(404);
      const adminAuth = bearer(admin.token);
      expect((await on('get', '/admin/users/{id}/passkeys', `/admin/users/${u.user.id}/passkeys`).send(undefined, adminAuth)).status).toBe(200);
      expect(
        (await on('patch', '/admin/users/{id}/passkeys/{passkey_id}', `/admin/users/${u.user.id}/passkeys/${id}`).send({ name: 'x' }, adminAuth)).status,
      ).toBe(200);
      expect(
        (await on('delete', '/admin/users/{id}/passkeys/{passkey_id}', `/admin/users/${u.user.id}/passkeys/${u.user.id}`).send(undefined, adminAuth)).status,
      ).toBe(404);
      expect((await on('delete', '/{user}/passkeys/{passkey_id}', `/me/passkeys/${id}`).send(undefined, auth)).status).toBe(200);
      const pwless = await p.auth.users.create({ username: uniqueName('oapk'), email: `${uniqueName('oapk')}@example.com`, email_verified: true });
      const own = bearer((await p.auth.issueTokens(pwless.id)).token);
      const last = await on('post', '/passkeys/register/options').send({}, own);
      const lastKey = await on('post', '/passkeys/register').send(
        { challenge_id: last.body.challenge_id, response: new SoftAuthenticator().create(last.body.options, { origin: ORIGIN }) },
        own,
      );
      expect((await on('delete', '/{user}/passkeys/{passkey_id}', `/me/passkeys/${lastKey.body.passkey.id}`).send(undefined, own)).status).toBe(409);
    } finally {
      await p.close();
    }
  });

  it('the account lifecycle by mail', async () => {
    const email = `${uniqueName('life')}@example.com`;
    const u = await registerUser(t, { email });
    expect((await call('post', '/request-verification').send({ email })).status).toBe(202);
    const verification = await box.next('verification', email);
    expect((await call('post', '/confirm-verification').send({ token: verification.token })).status).toBe(200);
    expect((await call('post', '/confirm-verification').send({ token: verification.token })).status).toBe(400);

    expect((await call('post', '/request-otp').send({ email })).status).toBe(202);
    const otp = await box.next('otp', email);
    const otpId = (await call('post', '/request-otp').send({ email })).body.otp_id as string;
    const otpMail = await box.next('otp', email);
    expect(otp.code).toBeTruthy();
    expect((await call('post', '/login/otp').send({ otp_id: otpId, code: otpMail.code })).status).toBe(200);

    expect((await call('post', '/request-password-reset').send({ email })).status).toBe(202);
    const reset = await box.next('password_reset', email);
    expect((await call('post', '/confirm-password-reset').send({ token: reset.token, password: `${PASSWORD} 3` })).status).toBe(200);

    const login = await t.http.post(`${BASE}/login`).send({ username: u.username, password: `${PASSWORD} 3` });
    const newEmail = `${uniqueName('moved')}@example.com`;
    expect((await call('post', '/request-email-change').send({ new_email: newEmail }, bearer(login.body.token))).status).toBe(202);
    const change = await box.next('email_change', newEmail);
    expect((await call('post', '/confirm-email-change').send({ token: change.token, password: 'not the password' })).status).toBe(401);
    expect((await call('post', '/confirm-email-change').send({ token: change.token, password: `${PASSWORD} 3` })).status).toBe(200);
  });

  it('sessions, admin sessions, the JWKS (404 here: no signing keys) and introspection (401 for a non-client)', async () => {
    const admin = await registerAdmin(t);
    const u = await registerUser(t);
    const again = await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
    const listed = await call('get', '/{user}/sessions', '/me/sessions').send(undefined, bearer(u.token));
    expect(listed.status).toBe(200);
    expect(listed.body.length).toBe(2);
    const other = (listed.body as Array<{ id: string; current: boolean }>).find((s) => !s.current)!;
    expect((await call('delete', '/{user}/sessions/{session_id}', `/me/sessions/${other.id}`).send(undefined, bearer(u.token))).status).toBe(200);
    expect((await call('delete', '/{user}/sessions/{session_id}', `/me/sessions/${other.id}`).send(undefined, bearer(u.token))).status).toBe(404);
    expect(again.status).toBe(200);
    const viaAdmin = await call('get', '/admin/users/{id}/sessions', `/admin/users/${u.user.id}/sessions`).send(undefined, bearer(admin.token));
    expect(viaAdmin.status).toBe(200);
    const last = viaAdmin.body[0].id as string;
    expect(
      (await call('delete', '/admin/users/{id}/sessions/{session_id}', `/admin/users/${u.user.id}/sessions/${last}`).send(undefined, bearer(admin.token)))
        .status,
    ).toBe(200);
    expect((await call('get', '/admin/users/{id}/sessions', `/admin/users/${admin.user.id}/sessions`).send(undefined, bearer(u.token))).status).toBe(401);
    expect((await call('get', '/.well-known/jwks.json').send()).status).toBe(404);
    expect((await call('post', '/introspect').send({ token: admin.token })).status).toBe(401);
    // A service key with the scope introspect is a client.
    const group = await t.http
      .post(`${BASE}/groups`)
      .set(bearer(admin.token))
      .send({ name: `Gw ${uniqueName('g')}` });
    const key = await t.http
      .post(`${BASE}/groups/${group.body.group.id}/api-tokens`)
      .set(bearer(admin.token))
      .send({ name: 'gw', scopes: ['introspect'] });
    const active = await call('post', '/introspect').send({ token: admin.token }, bearer(key.body.token));
    expect(active.body).toMatchObject({ active: true, sub: admin.user.id });
    expect((await call('post', '/introspect').send({ token: 'nope' }, bearer(key.body.token))).body).toEqual({ active: false });
    expect((await call('post', '/introspect').send({}, bearer(key.body.token))).status).toBe(400);
  });

  it('429 carries Retry-After, as documented', async () => {
    const limited = await createTestApp({ openapi: true, rateLimit: { login: { limit: 1, windowSeconds: 60 } } });
    try {
      const attempt = (i: number) => limited.http.post(`${BASE}/login`).send({ username: `nobody${i}`, password: 'wrong password' });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push(expectDocumented(await attempt(i), 'post', '/login').status);
      expect(statuses).toContain(429);
    } finally {
      await limited.close();
    }
  });

  it('covers most operations of the document', () => {
    const operations = new Set([...checked].map((entry) => entry.split(' ').slice(0, 2).join(' ')));
    const all = operationsOf(doc);
    for (const op of operations) expect(all).toContain(op);
    // The counts docs/reference/endpoints.md gives ("all **72 of 72 operations** and 101
    // (operation, status) pairs"): operations checked against a real response, and pairs.
    console.info(`openapi: ${operations.size} of ${all.length} operations and ${checked.size} responses checked against real responses`);
    const page = readFileSync(new URL('../docs/reference/endpoints.md', import.meta.url), 'utf8');
    const claim = /all \*\*(\d+) of (\d+) operations\*\*\s+and (\d+) \(operation, status\) pairs/.exec(page);
    expect(claim, 'the OpenAPI section of docs/reference/endpoints.md states the counts').not.toBeNull();
    const [documentedChecked, documentedAll, documentedPairs] = claim!.slice(1).map(Number) as [number, number, number];
    expect(documentedChecked).toBeGreaterThanOrEqual(72);
    expect(documentedAll).toBe(all.length);
    expect(operations.size).toBeGreaterThanOrEqual(documentedChecked);
    expect(checked.size).toBeGreaterThanOrEqual(documentedPairs);
  });
});
