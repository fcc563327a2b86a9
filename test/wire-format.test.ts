import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager, type AuthManagerOptions } from '../src/index.js';
import { bearer, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';
import { BASE, expectError, expectUserObject, expectValidation, loginOk, refresh, uniqueName } from './helpers/endpoints.js';

// Express 4, installed side by side under another name; typed as its Express 5 successor for our purposes.
const express4 = createRequire(import.meta.url)('express4') as typeof express;

let t: TestApp;
let user: Awaited<ReturnType<typeof registerUser>>;
beforeAll(async () => {
  t = await createTestApp();
  user = await registerUser(t);
});
afterAll(() => t?.close());

/** Sends `raw` as the body with the given Content-Type, byte for byte. */
function raw(path: string, body: string, contentType = 'application/json') {
  return t.http.post(path).set('Content-Type', contentType).send(body);
}

/** Every key of a JSON value (outside `profile`) is snake_case. */
function expectSnakeCase(value: unknown, path = '$'): void {
  if (Array.isArray(value)) return value.forEach((v, i) => expectSnakeCase(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    expect(k, `key at ${path}`).toMatch(/^[a-z][a-z0-9_]*$/);
    if (k !== 'profile') expectSnakeCase(v, `${path}.${k}`);
  }
}

describe('the error body', () => {
  it('is exactly {error, code, status_code} (+fields) for every kind of error, with no internals', async () => {
    const disabled = await registerUser(t);
    await t.auth.users.setActive(disabled.user.id, false);
    const rotated = await loginOk(t, user.username);
    await refresh(t, rotated.refresh_token);

    const cases: Array<[string, () => Promise<request.Response>, number, string, string[]?]> = [
      ['validation', () => t.http.post(`${BASE}/register`).send({ username: 'x' }), 400, 'validation_error'],
      ['malformed JSON', () => raw(`${BASE}/login`, '{"username": "a", '), 400, 'validation_error'],
      [
        'bad credentials',
        () => t.http.post(`${BASE}/login`).send({ username: user.username, password: 'wrong password' }),
        401,
        'invalid_credentials',
        ['wrong password'],
      ],
      ['no credentials', () => t.http.get(`${BASE}/login/profile`), 401, 'unauthorized'],
      ['Basic credentials', () => t.http.get('/me').set('Authorization', 'Basic dXNlcjpwYXNz'), 401, 'unauthorized', ['dXNlcjpwYXNz']],
      ['garbage token', () => t.http.get('/me').set(bearer('garbage-token-value')), 401, 'invalid_token', ['garbage-token-value']],
      [
        'garbage API token',
        () => t.http.get('/me').set('X-API-Token', 'api_abcdefgh0123456789012345678901234567890'),
        401,
        'invalid_token',
        ['api_abcdefgh0123456789012345678901234567890'],
      ],
      ['garbage refresh token', () => refresh(t, 'garbage-refresh-value'), 401, 'invalid_token', ['garbage-refresh-value']],
      ['reused refresh token', () => refresh(t, rotated.refresh_token), 401, 'refresh_token_reused', [rotated.refresh_token]],
      ['lacking role', () => t.http.get('/admin').set(bearer(user.token)), 403, 'forbidden', [user.token]],
      ['disabled account', () => t.http.post(`${BASE}/login`).send({ username: disabled.username, password: disabled.password }), 403, 'account_disabled'],
      ['unknown endpoint', () => t.http.get(`${BASE}/no-such-endpoint/at/all`), 404, 'not_found'],
      [
        'duplicate',
        () => t.http.post(`${BASE}/register`).send({ username: user.username, email: `${uniqueName()}@example.com`, password: PASSWORD }),
        409,
        'conflict',
      ],
      ['too large', () => t.http.post(`${BASE}/login`).send({ username: 'x', password: 'y'.repeat(20_000) }), 413, 'payload_too_large'],
      ['not JSON', () => raw(`${BASE}/login`, 'username=a&password=b', 'text/plain'), 415, 'unsupported_media_type'],
    ];
    for (const [label, send, status, code, secrets] of cases) {
      const res = await send();
      expect({ label, status: res.status, code: res.body?.code }).toEqual({ label, status, code });
      expectError(res, status, code, secrets);
    }
  });

  it('401 answers carry WWW-Authenticate: Bearer, with error="invalid_token" when a bad token was sent', async () => {
    const none = await t.http.get('/me');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer\b/);
    expect(none.headers['www-authenticate']).not.toContain('error=');
    const bad = await t.http.get('/me').set(bearer('nope.nope.nope'));
    expect(bad.headers['www-authenticate']).toMatch(/^Bearer\b/);
    expect(bad.headers['www-authenticate']).toContain('error="invalid_token"');
    const creds = await t.http.post(`${BASE}/login`).send({ username: user.username, password: 'wrong password' });
    expect(creds.headers['www-authenticate']).toMatch(/^Bearer\b/);
  });
});

describe('success bodies', () => {
  it('are JSON with snake_case keys; token-bearing ones have Cache-Control: no-store', async () => {
    const name = uniqueName('snake');
    const reg = await t.http
      .post(`${BASE}/register`)
      .send({ username: name, email: `${name}@example.com`, password: PASSWORD, real_name: 'Snake Case', profile: { someKey: 1 } });
    const login = await t.http.post(`${BASE}/login`).send({ username: name, password: PASSWORD });
    const ref = await refresh(t, login.body.refresh_token);
    const prof = await t.http.get(`${BASE}/login/profile`).set(bearer(ref.body.token));
    const roles = await t.http.get(`${BASE}/roles`);
    const change = await t.http
      .post(`${BASE}/change-password`)
      .set(bearer(ref.body.token))
      .send({ current_password: PASSWORD, password: 'another long password' });
    const out = await t.http.post(`${BASE}/logout`).send({ refresh_token: change.body.refresh_token });

    for (const res of [reg, login, ref, prof, roles, change, out]) {
      expect(res.status).toBeLessThan(300);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expectSnakeCase(res.body);
    }
    for (const res of [reg, login, ref, change]) expect(res.headers['cache-control']).toMatch(/no-store/);
    expectUserObject(reg.body.user);
    expectUserObject(login.body.user);
    expectUserObject(prof.body.user);
    expect(reg.body.user.profile).toEqual({ someKey: 1 });
  });

  it('unknown body fields are ignored', async () => {
    const res = await t.http.post(`${BASE}/login`).send({ username: user.username, password: PASSWORD, remember_me: true, extra: { nested: [1, 2] } });
    expect(res.status).toBe(200);
  });

  it('a __proto__ key in the body grants nothing', async () => {
    const name = uniqueName('proto');
    const body = `{"username":"${name}","email":"${name}@example.com","password":"${PASSWORD}","__proto__":{"roles":["admin"],"is_active":false},"constructor":{"prototype":{"roles":["admin"]}}}`;
    const res = await raw(`${BASE}/register`, body);
    expect(res.status).toBe(201);
    expect(res.body.user.roles).toEqual(['user']);
    expect(res.body.user.is_active).toBe(true);
    expect(({} as Record<string, unknown>).roles).toBeUndefined();
  });
});

describe('request bodies', () => {
  it.each([
    ['text/plain', 'text/plain'],
    ['text/plain with JSON in it', 'text/plain; charset=utf-8'],
    ['form-encoded', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=xyz'],
    ['XML', 'application/xml'],
  ])('415 unsupported_media_type for %s', async (_label, type) => {
    const body = type.startsWith('application/x-www-form-urlencoded')
      ? `username=${user.username}&password=${encodeURIComponent(PASSWORD)}`
      : JSON.stringify({ username: user.username, password: PASSWORD });
    const res = await raw(`${BASE}/login`, body, type);
    expectError(res, 415, 'unsupported_media_type');
    expect(res.body).not.toHaveProperty('token');
  });

  it('415 for a form posted by supertest’s own form encoder, at /login and /register', async () => {
    expectError(await t.http.post(`${BASE}/login`).type('form').send({ username: user.username, password: PASSWORD }), 415, 'unsupported_media_type');
    const name = uniqueName('form');
    expectError(
      await t.http
        .post(`${BASE}/register`)
        .type('form')
        .send({ username: name, email: `${name}@example.com`, password: PASSWORD }),
      415,
      'unsupported_media_type',
    );
    expect(await t.auth.users.findByIdentifier(name)).toBeUndefined();
  });

  it('415 for JSON in a charset other than UTF-8', async () => {
    const res = await raw(`${BASE}/login`, JSON.stringify({ username: user.username, password: PASSWORD }), 'application/json; charset=iso-8859-1');
    expectError(res, 415, 'unsupported_media_type');
  });

  it('accepts application/json; charset=utf-8', async () => {
    const res = await raw(`${BASE}/login`, JSON.stringify({ username: user.username, password: PASSWORD }), 'application/json; charset=utf-8');
    expect(res.status).toBe(200);
  });

  it('413 payload_too_large above 16 KiB; exactly 16 KiB is accepted', async () => {
    const sized = (bytes: number) => {
      const base = JSON.stringify({ username: uniqueName('ghost'), password: PASSWORD, pad: '' });
      const body = JSON.stringify({ username: JSON.parse(base).username, password: PASSWORD, pad: 'a'.repeat(bytes - Buffer.byteLength(base)) });
      expect(Buffer.byteLength(body)).toBe(bytes);
      return body;
    };
    expectError(await raw(`${BASE}/login`, sized(16 * 1024 + 1)), 413, 'payload_too_large');
    expectError(await raw(`${BASE}/register`, sized(64 * 1024)), 413, 'payload_too_large');
    // At the limit the body is read and judged on its content: an unknown user.
    expectError(await raw(`${BASE}/login`, sized(16 * 1024)), 401, 'invalid_credentials');
  });

  it('413 for a chunked body (no Content-Length) that grows past 16 KiB', async () => {
    const server = t.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, method: 'POST', path: `${BASE}/login`, headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
        req.write('{"username":"someone","password":"');
        for (let i = 0; i < 40; i++) req.write('p'.repeat(1024));
        req.end('"}');
      });
      expect(result.status).toBe(413);
      const body = JSON.parse(result.body);
      expect(body).toEqual({ error: expect.any(String), code: 'payload_too_large', status_code: 413 });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it.each([
    ['truncated object', '{"username": "a", '],
    ['single quotes', "{'username': 'a'}"],
    ['trailing garbage', '{"username":"a","password":"b"} x'],
    ['bare word', 'undefined'],
    ['NaN', '{"username": NaN}'],
  ])('400 validation_error for malformed JSON: %s', async (_label, body) => {
    const res = await raw(`${BASE}/login`, body);
    expectError(res, 400, 'validation_error');
  });
});

describe('type confusion never reaches a 5xx', () => {
  const BAD_STRINGS: Array<[string, unknown]> = [
    ['an empty array', []],
    ['an array of strings', ['a-valid-looking-string', 'b']],
    ['an empty object', {}],
    ['an object', { toString: 'x', valueOf: 1, length: 8 }],
    ['a number', 12345678],
    ['zero', 0],
    ['null', null],
    ['true', true],
    ['false', false],
  ];

  type Endpoint = { path: string; fields: string[]; valid: () => Record<string, unknown>; auth?: boolean };
  const endpoints: Endpoint[] = [
    { path: '/login', fields: ['username', 'password'], valid: () => ({ username: user.username, password: PASSWORD }) },
    {
      path: '/register',
      fields: ['username', 'password', 'email'],
      valid: () => {
        const name = uniqueName('tc');
        return { username: name, password: PASSWORD, email: `${name}@example.com` };
      },
    },
    { path: '/token-refresh', fields: ['refresh_token'], valid: () => ({ refresh_token: 'x.y.z' }) },
    { path: '/logout', fields: ['refresh_token'], valid: () => ({ refresh_token: 'x.y.z' }) },
    {
      path: '/change-password',
      fields: ['current_password', 'password'],
      valid: () => ({ current_password: PASSWORD, password: 'a new long password' }),
      auth: true,
    },
  ];

  const post = (e: Endpoint) => {
    const req = t.http.post(`${BASE}${e.path}`);
    return e.auth ? req.set(bearer(user.token)) : req;
  };

  const fieldCases = endpoints.flatMap((e) => e.fields.flatMap((field) => BAD_STRINGS.map(([label, value]) => [e.path, field, label, e, value] as const)));

  it.each(fieldCases)('%s: %s as %s -> 400 validation_error', async (_path, field, _label, e, value) => {
    const res = await post(e).send({ ...e.valid(), [field]: value });
    expectValidation(res, field);
  });

  it.each([
    ['real_name', []],
    ['real_name', { a: 1 }],
    ['real_name', 42],
    ['real_name', true],
    ['profile', []],
    ['profile', ['a', 'b']],
    ['profile', 'a string'],
    ['profile', 42],
    ['profile', true],
  ])('/register: optional %s as %j -> 400 validation_error', async (field, value) => {
    const name = uniqueName('tc');
    const res = await t.http.post(`${BASE}/register`).send({ username: name, password: PASSWORD, email: `${name}@example.com`, [field]: value });
    expectValidation(res, field);
    expect(await t.auth.users.findByIdentifier(name)).toBeUndefined();
  });

  const BAD_BODIES: Array<[string, string]> = [
    ['an empty JSON array', '[]'],
    ['a JSON array of an object', '[{"username":"a","password":"b"}]'],
    ['a JSON string', '"username"'],
    ['a JSON number', '42'],
    ['JSON null', 'null'],
    ['JSON true', 'true'],
  ];
  const bodyCases = endpoints.flatMap((e) => BAD_BODIES.map(([label, body]) => [e.path, label, e, body] as const));

  it.each(bodyCases)('%s: a body that is %s -> 400 validation_error', async (_path, _label, e, body) => {
    const res = await post(e).set('Content-Type', 'application/json').send(body);
    expectError(res, 400, 'validation_error');
  });

  it('the user those requests used is untouched', async () => {
    expect((await t.http.get('/me').set(bearer(user.token))).status).toBe(200);
    expect((await t.http.post(`${BASE}/login`).send({ username: user.username, password: PASSWORD })).status).toBe(200);
  });
});

describe('unknown endpoints', () => {
  it.each([
    ['GET', `${BASE}/nope`],
    ['GET', `${BASE}/nope/deeper/still`],
    ['POST', `${BASE}/nope`],
    ['DELETE', `${BASE}/login`],
    ['PUT', `${BASE}/register`],
  ])('%s %s -> 404 not_found JSON', async (method, path) => {
    const req = t.http[method.toLowerCase() as 'get' | 'post' | 'delete' | 'put'](path);
    const res = method === 'GET' || method === 'DELETE' ? await req : await req.send({});
    expectError(res, 404, 'not_found');
  });

  it('a route the host app mounted next to the router still answers', async () => {
    const res = await t.http.get('/public');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });
});

/** An AuthManager mounted on `app` (whose own parsers are in place), on a schema of its own; `extra` adds options. */
async function mountOn(app: express.Express, extra: Partial<AuthManagerOptions> = {}): Promise<{ auth: AuthManager; schema: string }> {
  const schema = uniqueSchema();
  const auth = new AuthManager(app, {
    ...(await databaseOptions()),
    dbSchema: schema,
    jwtSecret: randomBytes(48).toString('base64url'),
    bcryptRounds: 4,
    rateLimit: false,
    ...extra,
  });
  return { auth, schema };
}

describe('a host app that parses bodies itself', () => {
  const hosts: Array<{ name: string; app: express.Express; auth: AuthManager; schema: string }> = [];

  beforeAll(async () => {
    for (const [name, make] of [
      ['Express 5', express],
      ['Express 4', express4],
    ] as const) {
      const app = make();
      app.use(make.json());
      app.use(make.urlencoded({ extended: false }));
      const { auth, schema } = await mountOn(app);
      await auth.ready;
      app.get('/me', auth.requireAuth(), (req, res) => res.json({ username: req.auth!.user.username }));
      hosts.push({ name, app, auth, schema });
    }
  });
  afterAll(async () => {
    for (const h of hosts) {
      await h.auth.close();
      await dropSchema(h.schema);
    }
  });

  it.each([['Express 5'], ['Express 4']])('%s with express.json(): register, login, refresh, change-password, logout work', async (name) => {
    const h = hosts.find((x) => x.name === name)!;
    const http = request(h.app);
    const username = uniqueName('host');
    const reg = await http.post(`${BASE}/register`).send({ username, email: `${username}@example.com`, password: PASSWORD });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    expect(reg.body.user.username).toBe(username);

    const login = await http.post(`${BASE}/login`).send({ username, password: PASSWORD });
    expect(login.status).toBe(200);
    expect((await http.get('/me').set(bearer(login.body.token))).body).toEqual({ username });

    const ref = await http.post(`${BASE}/token-refresh`).send({ refresh_token: login.body.refresh_token });
    expect(ref.status).toBe(200);

    const change = await http
      .post(`${BASE}/change-password`)
      .set(bearer(ref.body.token))
      .send({ current_password: PASSWORD, password: 'host parsed password' });
    expect(change.status).toBe(200);

    const out = await http.post(`${BASE}/logout`).send({ refresh_token: change.body.refresh_token });
    expect(out.body).toEqual({ success: true });
    expect((await http.get('/me').set(bearer(change.body.token))).status).toBe(401);

    // Validation still applies to a body the host parsed.
    expectValidation(await http.post(`${BASE}/login`).send({ username: ['a'], password: PASSWORD }), 'username');
    expectError(await http.post(`${BASE}/login`).set('Content-Type', 'application/json').send('[1,2]'), 400, 'validation_error');
  });

  it.each([['Express 5'], ['Express 4']])('%s: a body the host did not parse as JSON is still 415', async (name) => {
    const h = hosts.find((x) => x.name === name)!;
    const res = await request(h.app)
      .post(`${BASE}/login`)
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify({ username: 'a', password: PASSWORD }));
    expectError(res, 415, 'unsupported_media_type');
  });

  it.each([['Express 5'], ['Express 4']])('%s with express.urlencoded(): a form-encoded body is still 415, not a login', async (name) => {
    const h = hosts.find((x) => x.name === name)!;
    const http = request(h.app);
    const username = uniqueName('form');
    expect((await http.post(`${BASE}/register`).send({ username, email: `${username}@example.com`, password: PASSWORD })).status).toBe(201);
    const res = await http.post(`${BASE}/login`).type('form').send({ username, password: PASSWORD });
    expectError(res, 415, 'unsupported_media_type');
    expect(res.body).not.toHaveProperty('token');
  });

  it.each([['Express 5'], ['Express 4']])(
    '%s with express.json(): its larger limit does not lift the 16 KiB one, nor does it let a NUL through',
    async (name) => {
      const h = hosts.find((x) => x.name === name)!;
      const agent = request(h.app);
      const username = uniqueName('big');
      // express.json() takes up to 100 KB: 20 KB passes the host's parser, and must not pass the library's.
      const big = { username, email: `${username}@example.com`, password: PASSWORD, pad: 'a'.repeat(20_000) };
      expectError(await agent.post(`${BASE}/register`).send(big), 413, 'payload_too_large');
      // The same without a Content-Length (chunked): measured from what the host parsed.
      const chunked = await new Promise<{ status: number; body: { code?: string } }>((resolve, reject) => {
        const server = h.app.listen(0, '127.0.0.1', () => {
          const req = http.request(
            {
              port: (server.address() as AddressInfo).port,
              host: '127.0.0.1',
              method: 'POST',
              path: `${BASE}/register`,
              headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
            },
            (res) => {
              let text = '';
              res.on('data', (c: Buffer) => (text += c.toString()));
              res.on('end', () => server.close(() => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { code?: string } })));
            },
          );
          req.on('error', reject);
          const json = JSON.stringify(big);
          req.write(json.slice(0, 10_000));
          req.end(json.slice(10_000));
        });
      });
      expect(chunked.status).toBe(413);
      expect(chunked.body.code).toBe('payload_too_large');
      expect((await agent.post(`${BASE}/login`).send({ username, password: PASSWORD })).status).toBe(401);
      // A NUL the host's parser let through is refused before the database, as the router's own parse refuses it.
      // In the password, which no field rule looks at: only the body's own check can refuse it.
      const nul = await agent.post(`${BASE}/register`).send({ username, email: `${username}@example.com`, password: `${PASSWORD}\u0000` });
      expectValidation(nul, 'body');
      expect(nul.body.fields.body).toMatch(/NUL/);
      // Under the limit, the host-parsed body still registers.
      expect((await agent.post(`${BASE}/register`).send({ ...big, pad: 'a'.repeat(1000) })).status).toBe(201);
    },
  );

  it.each([['Express 5'], ['Express 4']])(
    '%s with express.raw() or express.text() for JSON: the library parses the bytes itself, with its rules',
    async (name) => {
      const make = name === 'Express 5' ? express : express4;
      for (const reader of ['raw', 'text'] as const) {
        const app = make();
        // A host that keeps JSON bodies as bytes or text (a webhook's signature is computed over them).
        app.use(reader === 'raw' ? make.raw({ type: 'application/json', limit: '1mb' }) : make.text({ type: 'application/json', limit: '1mb' }));
        const { auth, schema } = await mountOn(app);
        try {
          await auth.ready;
          const http = request(app);
          const username = uniqueName(reader);
          const reg = await http.post(`${BASE}/register`).send({ username, email: `${username}@example.com`, password: PASSWORD });
          expect(reg.status, `${reader}: ${JSON.stringify(reg.body)}`).toBe(201);
          expect((await http.post(`${BASE}/login`).send({ username, password: PASSWORD })).status, reader).toBe(200);
          const json = (body: string) => http.post(`${BASE}/login`).set('Content-Type', 'application/json').send(body);
          // Each refused by the body's own checks (the field `body`), not by a field rule that happens to fail too.
          const reasons = [
            [await json('{"username":'), /not valid JSON/],
            [await json('[1,2]'), /JSON object/],
            [await json(JSON.stringify({ username, password: `${PASSWORD}\u0000` })), /NUL/],
          ] as const;
          for (const [res, reason] of reasons) {
            expectValidation(res, 'body');
            expect(res.body.fields.body, reader).toMatch(reason);
          }
          expectError(await json(JSON.stringify({ username, password: PASSWORD, pad: 'a'.repeat(20_000) })), 413, 'payload_too_large');
        } finally {
          await auth.close();
          await dropSchema(schema);
        }
      }
    },
  );
});

describe("auth.errorHandler() and the host app's own body parser", () => {
  it.each([['Express 5'], ['Express 4']])(
    "%s: what express.json() refuses is answered 400, 413 or 415 as the library's endpoints answer it, not 500",
    async (name) => {
      const make = name === 'Express 5' ? express : express4;
      const app = make();
      app.use(make.json({ limit: '32kb' }));
      const logged: unknown[] = [];
      const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (...args: unknown[]) => logged.push(args) };
      const { auth, schema } = await mountOn(app, { logger });
      try {
        await auth.ready;
        app.post('/notes', (_req, res) => res.json({ ok: true }));
        app.use(auth.errorHandler());
        const http = request(app);
        for (const path of [`${BASE}/login`, '/notes']) {
          const json = (body: string, type = 'application/json') => http.post(path).set('Content-Type', type).send(body);
          expectError(await json('{"username":'), 400, 'validation_error');
          expectError(await json(JSON.stringify({ pad: 'a'.repeat(40_000) })), 413, 'payload_too_large');
          expectError(await json('{}', 'application/json; charset=klingon'), 415, 'unsupported_media_type');
        }
        expect(logged).toEqual([]);
      } finally {
        await auth.close();
        await dropSchema(schema);
      }
    },
  );
});
