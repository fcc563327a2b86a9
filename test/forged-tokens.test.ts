import { randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { decodeJwt, extraInstance, forge, tamperPayload, type ExtraInstance } from './helpers/tokens.js';

// Every forged or malformed credential must end in a 401 with the JSON error body, a
// WWW-Authenticate challenge and the right code; never a 200 and never a 5xx.

let clock = new Date();
let t: TestApp;
let user: Awaited<ReturnType<typeof registerUser>>;
let other: Awaited<ReturnType<typeof registerUser>>;
/** Header of a real access token (alg, typ, kid). */
let realHeader: Record<string, unknown>;
/** Payload of a real access token (sub, roles, ver, sid, iss, aud, ...). */
let realPayload: Record<string, unknown>;
let apiToken: string;

const nowSec = () => Math.floor(clock.getTime() / 1000);

/** A correctly signed copy of the real token's claims, with `changes` applied (undefined deletes a claim). */
function claims(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = nowSec();
  const out: Record<string, unknown> = { ...realPayload, jti: randomUUID(), iat, exp: iat + 600 };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

function header(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...realHeader };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

const signed = (h: Record<string, unknown>, p: unknown) => forge(h, p, { key: t.secret });

function expectErrorBody(res: { status: number; body: Record<string, unknown>; text: string }, status: number, code: string) {
  expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
  expect(Object.keys(res.body).sort()).toEqual(['code', 'error', 'status_code']);
  expect(res.body.status_code).toBe(status);
  expect(typeof res.body.error).toBe('string');
}

/** GET /me with the token must be 401 `code`, with a Bearer challenge naming invalid_token. */
async function expectRejected(token: string, code: 'invalid_token' | 'token_expired' = 'invalid_token', path = '/me') {
  const res = await t.http.get(path).set(bearer(token));
  expectErrorBody(res, 401, code);
  expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
  expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  if (token.length > 20) expect(res.text).not.toContain(token);
  return res;
}

async function expectAccepted(token: string) {
  const res = await t.http.get('/me').set(bearer(token));
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ username: user.username, method: 'jwt' });
}

beforeAll(async () => {
  t = await createTestApp({ now: () => clock });
  user = await registerUser(t);
  other = await registerUser(t);
  ({ header: realHeader, payload: realPayload } = decodeJwt(user.token));
  const created = await t.http.post('/api/v1/users/me/api-tokens').set(bearer(user.token)).send({ name: 'forged-tests' });
  expect(created.status).toBe(201);
  apiToken = created.body.token;
});
afterAll(() => t?.close());

describe('tokens the library issued and tokens signed by hand correctly', () => {
  it('the real access token has the contract header and claims', () => {
    expect(realHeader).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    expect(typeof realHeader.kid).toBe('string');
    expect(realPayload).toMatchObject({ sub: user.user.id, iss: 'express-authlib', aud: 'express-authlib' });
    expect(realPayload.roles).toEqual(['user']);
    expect(typeof realPayload.jti).toBe('string');
    expect(realPayload.exp).toBe((realPayload.iat as number) + 3600);
  });

  it('accepts the issued token', async () => {
    await expectAccepted(user.token);
  });

  it('accepts a token signed by hand with the right secret, typ, kid and claims', async () => {
    await expectAccepted(signed(header(), claims()));
  });

  it('accepts a token signed with the real jsonwebtoken library and the same secret', async () => {
    const token = jwt.sign(claims(), t.secret, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt', kid: realHeader.kid as string } });
    await expectAccepted(token);
  });

  it('accepts a hand-signed token whose lifetime is exactly tokenExpiry', async () => {
    await expectAccepted(signed(header(), claims({ exp: nowSec() + 3600 })));
  });

  it('verifies with any JWT library given the secret (HS256, key = secret bytes)', () => {
    const decoded = jwt.verify(user.token, t.secret, {
      algorithms: ['HS256'],
      issuer: 'express-authlib',
      audience: 'express-authlib',
      clockTimestamp: nowSec(),
    });
    expect(decoded).toMatchObject({ sub: user.user.id });
  });
});

describe('algorithm attacks', () => {
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    it(`rejects alg "${alg}" with an empty signature`, async () => {
      await expectRejected(forge(header({ alg }), claims()));
    });
  }

  it('rejects alg none carrying a valid HS256 signature of the same input', async () => {
    const h = header({ alg: 'none' });
    const p = claims();
    const sig = forge(h, p, { key: t.secret, signAlg: 'HS256' }).split('.')[2]!;
    await expectRejected(forge(h, p, { signature: sig }));
  });

  it('rejects an unsigned token made by jsonwebtoken with algorithm none', async () => {
    const token = jwt.sign(claims(), null as unknown as string, { algorithm: 'none', header: { alg: 'none', typ: 'at+jwt', kid: realHeader.kid as string } });
    expect(token.endsWith('.')).toBe(true);
    await expectRejected(token);
  });

  it('rejects a token whose header has no alg', async () => {
    await expectRejected(signed(header({ alg: undefined }), claims()));
  });

  for (const alg of ['HS384', 'HS512'] as const) {
    it(`rejects ${alg} signed with the right secret (jsonwebtoken)`, async () => {
      const token = jwt.sign(claims(), t.secret, { algorithm: alg, header: { alg, typ: 'at+jwt', kid: realHeader.kid as string } });
      expect(decodeJwt(token).header.alg).toBe(alg);
      await expectRejected(token);
    });

    it(`rejects ${alg} signed with the right secret (by hand)`, async () => {
      await expectRejected(forge(header({ alg }), claims(), { key: t.secret, signAlg: alg }));
    });

    it(`rejects an HS256 header over a ${alg} signature`, async () => {
      await expectRejected(forge(header(), claims(), { key: t.secret, signAlg: alg }));
    });
  }

  it('rejects RS256 in the header with an HMAC signature made from the secret (key confusion)', async () => {
    await expectRejected(forge(header({ alg: 'RS256' }), claims(), { key: t.secret, signAlg: 'HS256' }));
  });

  it('rejects HS256 signed with a wrong secret (jsonwebtoken)', async () => {
    const wrong = randomBytes(48).toString('base64url');
    const token = jwt.sign(claims(), wrong, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt', kid: realHeader.kid as string } });
    await expectRejected(token);
  });

  it('rejects HS256 signed with the secret plus one byte, and with a truncated secret', async () => {
    await expectRejected(forge(header(), claims(), { key: `${t.secret}x` }));
    await expectRejected(forge(header(), claims(), { key: t.secret.slice(0, -1) }));
  });
});

describe('tampering and signatures', () => {
  it('rejects the real token with sub changed to another user, signature kept', async () => {
    await expectRejected(tamperPayload(user.token, (p) => ({ ...p, sub: other.user.id })));
  });

  it('rejects the real token with roles changed to admin, signature kept (at /me and /admin)', async () => {
    const token = tamperPayload(user.token, (p) => ({ ...p, roles: ['admin', 'user'] }));
    await expectRejected(token);
    await expectRejected(token, 'invalid_token', '/admin');
  });

  it('rejects the real token with exp pushed out, signature kept', async () => {
    await expectRejected(tamperPayload(user.token, (p) => ({ ...p, exp: (p.exp as number) + 100 })));
  });

  it('rejects a token claiming the admin role signed with a wrong secret', async () => {
    const token = forge(header(), claims({ roles: ['admin'] }), { key: randomBytes(48) });
    await expectRejected(token, 'invalid_token', '/admin');
    await expectRejected(token);
  });

  it('rejects the real token with the signature stripped (trailing dot, no dot, empty)', async () => {
    const [h, p] = user.token.split('.');
    await expectRejected(`${h}.${p}.`);
    await expectRejected(`${h}.${p}`);
  });

  it('rejects the real token with a flipped or garbage signature', async () => {
    const [h, p, s] = user.token.split('.');
    const flipped = (s![0] === 'A' ? 'B' : 'A') + s!.slice(1);
    await expectRejected(`${h}.${p}.${flipped}`);
    await expectRejected(`${h}.${p}.${'A'.repeat(43)}`);
    await expectRejected(`${h}.${p}.${s}${s}`);
  });

  it('rejects the real header swapped onto another correctly signed refresh-token body', async () => {
    const [, p, s] = user.refresh_token.split('.');
    const [h] = user.token.split('.');
    await expectRejected(`${h}.${p}.${s}`);
  });
});

describe('claims', () => {
  it('rejects a correctly signed token without exp', async () => {
    await expectRejected(signed(header(), claims({ exp: undefined })));
  });

  it('rejects exp that is not a number', async () => {
    await expectRejected(signed(header(), claims({ exp: String(nowSec() + 600) })));
  });

  it('rejects exp in the past with token_expired', async () => {
    const iat = nowSec() - 120;
    await expectRejected(signed(header(), claims({ iat, exp: iat + 60 })), 'token_expired');
  });

  it('expires a real token once the injected clock passes exp, and not a second before', async () => {
    const login = await t.http.post('/api/v1/users/login').send({ username: user.username, password: user.password });
    expect(login.status).toBe(200);
    const start = clock;
    try {
      clock = new Date(start.getTime() + 3599_000);
      await expectAccepted(login.body.token);
      clock = new Date(start.getTime() + 3601_000);
      await expectRejected(login.body.token, 'token_expired');
    } finally {
      clock = start;
    }
  });

  it('rejects a lifetime longer than tokenExpiry allows', async () => {
    await expectRejected(signed(header(), claims({ exp: nowSec() + 3601 })));
    await expectRejected(signed(header(), claims({ exp: nowSec() + 10 * 365 * 86400 })));
  });

  it('rejects iat in the future', async () => {
    const iat = nowSec() + 3600;
    await expectRejected(signed(header(), claims({ iat, exp: iat + 600 })));
  });

  it('rejects nbf in the future', async () => {
    await expectRejected(signed(header(), claims({ nbf: nowSec() + 300 })));
  });

  it('rejects a wrong or missing issuer', async () => {
    await expectRejected(signed(header(), claims({ iss: 'someone-else' })));
    await expectRejected(signed(header(), claims({ iss: undefined })));
  });

  it('rejects a wrong or missing audience', async () => {
    await expectRejected(signed(header(), claims({ aud: 'someone-else' })));
    await expectRejected(signed(header(), claims({ aud: undefined })));
  });

  it('rejects a missing sub, a non-uuid sub and the id of a user that does not exist', async () => {
    await expectRejected(signed(header(), claims({ sub: undefined })));
    await expectRejected(signed(header(), claims({ sub: "' OR 1=1 --" })));
    await expectRejected(signed(header(), claims({ sub: 12345 })));
    await expectRejected(signed(header(), claims({ sub: randomUUID() })));
  });

  it('rejects a token whose roles claim is not an array of strings', async () => {
    await expectRejected(signed(header(), claims({ roles: 'admin' })));
    await expectRejected(signed(header(), claims({ roles: [1, 2] })));
  });
});

describe('header', () => {
  it("rejects typ 'JWT' instead of 'at+jwt'", async () => {
    await expectRejected(signed(header({ typ: 'JWT' }), claims()));
  });

  it('rejects a missing typ', async () => {
    await expectRejected(signed(header({ typ: undefined }), claims()));
  });

  it("rejects typ 'rt+jwt' on an access token body", async () => {
    await expectRejected(signed(header({ typ: 'rt+jwt' }), claims()));
  });

  it('rejects an unknown kid, and a non-string kid', async () => {
    await expectRejected(signed(header({ kid: 'no-such-key' }), claims()));
    await expectRejected(signed(header({ kid: 1 }), claims()));
    await expectRejected(signed(header({ kid: null }), claims()));
  });

  it('rejects a header that is an array, a string or not JSON', async () => {
    const rest = signed(header(), claims()).split('.').slice(1).join('.');
    await expectRejected(`${Buffer.from('["HS256"]').toString('base64url')}.${rest}`);
    await expectRejected(`${Buffer.from('"HS256"').toString('base64url')}.${rest}`);
    await expectRejected(`${Buffer.from('{not json').toString('base64url')}.${rest}`);
  });
});

describe('payload shapes', () => {
  it('rejects a correctly signed raw string payload', async () => {
    await expectRejected(forge(header(), 'hello', { key: t.secret, rawPayload: true }));
  });

  it('rejects a correctly signed JSON string payload', async () => {
    await expectRejected(signed(header(), JSON.stringify(claims())));
    await expectRejected(signed(header(), 'hello'));
  });

  it('rejects a string payload signed by jsonwebtoken', async () => {
    const token = jwt.sign('hello', t.secret, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt', kid: realHeader.kid as string } });
    await expectRejected(token);
  });

  it('rejects a correctly signed array payload (wrapping valid claims)', async () => {
    await expectRejected(signed(header(), [claims()]));
    await expectRejected(signed(header(), []));
  });

  it('rejects correctly signed null, number and boolean payloads', async () => {
    await expectRejected(signed(header(), null));
    await expectRejected(signed(header(), 42));
    await expectRejected(signed(header(), true));
  });

  it('rejects garbage that only looks like a JWT', async () => {
    for (const token of ['a.b.c', 'not-a-jwt', '...', '..', 'eyJ.eyJ.', '.eyJhbGciOiJIUzI1NiJ9.x']) {
      await expectRejected(token);
    }
  });
});

describe('token types are not interchangeable', () => {
  it('rejects a refresh token presented as an access token', async () => {
    await expectRejected(user.refresh_token);
  });

  it('rejects an access token presented at /token-refresh', async () => {
    const res = await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: user.token });
    expectErrorBody(res, 401, 'invalid_token');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
  });

  it('rejects a hand-signed refresh-typed token at /token-refresh that the database never issued', async () => {
    const { payload } = decodeJwt(user.refresh_token);
    const token = forge(header({ typ: 'rt+jwt' }), { ...payload, jti: randomUUID() }, { key: t.secret });
    const res = await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: token });
    expectErrorBody(res, 401, 'invalid_token');
  });

  it('the refresh token itself still works at /token-refresh (control)', async () => {
    const login = await t.http.post('/api/v1/users/login').send({ username: user.username, password: user.password });
    const res = await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: login.body.refresh_token });
    expect(res.status).toBe(200);
  });
});

describe('key rotation', () => {
  let newSecret: string;
  let rotated: ExtraInstance;
  let newOnly: ExtraInstance;

  beforeAll(async () => {
    newSecret = randomBytes(48).toString('base64url');
    rotated = await extraInstance(t.schema, { jwtSecret: [newSecret, t.secret] });
    newOnly = await extraInstance(t.schema, { jwtSecret: newSecret });
  });
  afterAll(async () => {
    await rotated?.close();
    await newOnly?.close();
  });

  it('[new, old] accepts an access token signed by an app that only has the old secret', async () => {
    const res = await rotated.http.get('/me').set(bearer(user.token));
    expect(res.status).toBe(200);
    expect(res.body.username).toBe(user.username);
  });

  it('[new, old] accepts a refresh token issued with the old secret and answers with new-key tokens', async () => {
    const login = await t.http.post('/api/v1/users/login').send({ username: user.username, password: user.password });
    const res = await rotated.http.post('/api/v1/users/token-refresh').send({ refresh_token: login.body.refresh_token });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.token).header.kid).not.toBe(realHeader.kid);
    expect((await newOnly.http.get('/me').set(bearer(res.body.token))).status).toBe(200);
  });

  it('an app with only the new secret rejects a token signed with the old one', async () => {
    const res = await newOnly.http.get('/me').set(bearer(user.token));
    expectErrorBody(res, 401, 'invalid_token');
  });

  it('an app with only the new secret rejects an old-secret token relabelled with the new kid', async () => {
    const newKid = decodeJwt((await newOnly.auth.issueTokens(user.user.id)).token).header.kid;
    const token = forge(header({ kid: newKid }), claims(), { key: t.secret });
    const res = await newOnly.http.get('/me').set(bearer(token));
    expectErrorBody(res, 401, 'invalid_token');
  });

  it('[new, old] signs with the new secret: the old-only app rejects what it issues', async () => {
    const login = await rotated.http.post('/api/v1/users/login').send({ username: user.username, password: user.password });
    expect(login.status).toBe(200);
    jwt.verify(login.body.token, newSecret, { algorithms: ['HS256'], audience: 'express-authlib', issuer: 'express-authlib' });
    await expectRejected(login.body.token);
    expect((await newOnly.http.get('/me').set(bearer(login.body.token))).status).toBe(200);
  });
});

describe('Authorization and X-API-Token header oddities', () => {
  async function probe(headers: Record<string, string>) {
    let req = t.http.get('/me');
    for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
    const res = await req;
    expect(res.status).toBeLessThan(500);
    if (res.status === 401) {
      expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
      expect(Object.keys(res.body).sort()).toEqual(['code', 'error', 'status_code']);
    }
    return res;
  }

  it('no credentials: 401 unauthorized with a bare Bearer challenge', async () => {
    const res = await probe({});
    expectErrorBody(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
    expect(res.headers['www-authenticate']).not.toContain('error=');
  });

  it("'Bearer' with no token is a malformed credential: 401 invalid_token", async () => {
    for (const value of ['Bearer', 'Bearer ', 'Bearer    ']) {
      expectErrorBody(await probe({ Authorization: value }), 401, 'invalid_token');
    }
  });

  it("'Basic xxx' and other schemes are no credentials: 401 unauthorized", async () => {
    for (const value of ['Basic dXNlcjpwYXNzd29yZA==', `Token ${user.token}`, `Basic ${user.token}`]) {
      const res = await probe({ Authorization: value });
      expectErrorBody(res, 401, 'unauthorized');
    }
  });

  it('lowercase/uppercase scheme and several spaces are accepted with a valid token', async () => {
    for (const value of [`bearer ${user.token}`, `BEARER ${user.token}`, `Bearer   ${user.token}`, `Bearer ${user.token}  `]) {
      const res = await probe({ Authorization: value });
      expect(res.status).toBe(200);
    }
  });

  it('a token followed by more text is rejected: 401 invalid_token', async () => {
    for (const value of [`Bearer ${user.token} extra`, `Bearer ${user.token},Bearer ${user.token}`, `Bearer ${user.token} ${user.token}`]) {
      expectErrorBody(await probe({ Authorization: value }), 401, 'invalid_token');
    }
  });

  it('a token over 4096 characters is rejected: 401 invalid_token, never 5xx', async () => {
    for (const token of ['a'.repeat(4097), 'a'.repeat(10_000), `${user.token}${'A'.repeat(5000)}`, `api_${'A'.repeat(5000)}`]) {
      const res = await probe({ Authorization: `Bearer ${token}` });
      expectErrorBody(res, 401, 'invalid_token');
      const viaHeader = await probe({ 'X-API-Token': token });
      expectErrorBody(viaHeader, 401, 'invalid_token');
    }
  });

  it('X-API-Token: a valid API token is accepted (control), garbage is 401 invalid_token', async () => {
    const ok = await probe({ 'X-API-Token': apiToken });
    expect(ok.status).toBe(200);
    expect(ok.body.method).toBe('api_token');
    for (const value of ['garbage', 'api_', 'api_short', `${apiToken}x`, apiToken.slice(0, -1), `api_${'0'.repeat(40)}`]) {
      const res = await probe({ 'X-API-Token': value });
      expectErrorBody(res, 401, 'invalid_token');
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    }
  });

  it('X-API-Token that is empty or whitespace is a malformed credential: 401 invalid_token', async () => {
    for (const value of ['', ' ']) {
      expectErrorBody(await probe({ 'X-API-Token': value }), 401, 'invalid_token');
    }
  });

  it('never reads a token from the query string, a cookie or the body', async () => {
    const q = await t.http.get(`/me?access_token=${user.token}&token=${user.token}`);
    expectErrorBody(q, 401, 'unauthorized');
    const c = await t.http.get('/me').set('Cookie', `token=${user.token}; access_token=${user.token}`);
    expectErrorBody(c, 401, 'unauthorized');
  });
});
