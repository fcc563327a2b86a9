import { spawn, spawnSync } from 'node:child_process';
import { createHmac, createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createLocalJWKSet, jwtVerify } from 'jose';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { AuthManager, generateSigningKey, type AuthManagerOptions } from '../src/index.js';
import { bearer, closedAfterEach, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { databaseOptions } from './helpers/database.js';
import { BASE, expectError } from './helpers/endpoints.js';

// Contract 5.8: with `signingKeys`, access tokens are signed with Ed25519 or P-256 keys and other
// services verify them from the JWKS URL alone. Checked here by verifiers this project did not
// write, each in its own process: jose's createRemoteJWKSet, and Debian's PyJWT with PyJWKClient.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const JOSE = fileURLToPath(new URL('./helpers/jose-verifier.mjs', import.meta.url));
const PYJWT = fileURLToPath(new URL('./helpers/pyjwt-verifier.py', import.meta.url));
/** Debian's interpreter, where python3-jwt installs (another python3 may come first on PATH). */
const PYTHON = '/usr/bin/python3';
const hasPyJwt = spawnSync(PYTHON, ['-c', 'import jwt, cryptography'], { stdio: 'ignore' }).status === 0;

const ISSUER = 'express-authlib';
const AUDIENCE = 'express-authlib';

interface Verdict {
  ok: boolean;
  sub?: string;
  alg?: string;
  kid?: string;
  code?: string;
  error?: string;
}

/** Runs a verifier process with the tokens on stdin; the server in this process must keep answering, so never spawnSync. */
function verify(command: string, script: string, jwksUrl: string, tokens: string[]): Promise<Verdict[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [script, jwksUrl, ISSUER, AUDIENCE], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${err}`));
      resolve(JSON.parse(out) as Verdict[]);
    });
    child.stdin.end(JSON.stringify(tokens));
  });
}

/** Listens on a free local port: the remote verifiers fetch the key set over real HTTP. */
async function listen(t: TestApp): Promise<{ jwksUrl: string; close: () => Promise<void> }> {
  const server = t.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    jwksUrl: `http://127.0.0.1:${port}${BASE}/.well-known/jwks.json`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const partsOf = (token: string) => token.split('.');
const headerOf = (token: string) => JSON.parse(Buffer.from(partsOf(token)[0]!, 'base64url').toString()) as Record<string, unknown>;
const payloadOf = (token: string) => JSON.parse(Buffer.from(partsOf(token)[1]!, 'base64url').toString()) as Record<string, unknown>;

/** A compact JWS over `header` and `payload`, signed by `signer`. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, signer: (input: Buffer) => Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`;
}
const hs256 = (secret: Buffer | string) => (input: Buffer) => createHmac('sha256', secret).update(input).digest();
const eddsa = (key: KeyObject) => (input: Buffer) => sign(null, input, key);
const es256 = (key: KeyObject) => (input: Buffer) => sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });

describe('signingKeys: asymmetric access tokens and the JWKS', () => {
  const { app, track } = closedAfterEach();

  /** Another instance of `t`'s deployment (same schema and secret) with other options. */
  async function sibling(t: TestApp, overrides: Partial<AuthManagerOptions>) {
    const e = express();
    const auth = new AuthManager(e, {
      ...(await databaseOptions()),
      dbSchema: t.schema,
      jwtSecret: t.secret,
      bcryptRounds: 4,
      rateLimit: false,
      logger: false,
      ...overrides,
    });
    track(() => auth.close());
    await auth.ready;
    e.get('/me', auth.requireAuth(), (req, res) => res.json({ id: req.auth!.user.id }));
    return { auth, http: request(e) };
  }

  it('without signingKeys: HS256 as before, and the JWKS is 404', async () => {
    const t = await app();
    const u = await registerUser(t);
    expect(headerOf(u.token)).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    expectError(await t.http.get(`${BASE}/.well-known/jwks.json`), 404, 'not_found');
    expect(t.auth.jwks()).toEqual({ keys: [] });
  });

  it.each([
    ['EdDSA', 'Ed25519', 'OKP'],
    ['ES256', 'P-256', 'EC'],
  ] as const)('%s: tokens verify in jose (createRemoteJWKSet, another process) and PyJWT (PyJWKClient), from the JWKS alone', async (alg, crv, kty) => {
    const t = await app({ signingKeys: generateSigningKey(alg) });
    const u = await registerUser(t);
    const admin = await registerAdmin(t);
    const imp = await t.http.post(`${BASE}/${u.user.id}/impersonate`).set(bearer(admin.token)).send({});
    const jwks = await t.http.get(`${BASE}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys).toHaveLength(1);
    const [jwk] = jwks.body.keys;
    expect(jwk).toMatchObject({ kty, crv, alg, use: 'sig' });
    // Public only.
    expect(jwk.d).toBeUndefined();
    expect(Object.keys(jwk).sort()).toEqual(kty === 'EC' ? ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'] : ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    expect(headerOf(u.token)).toEqual({ alg, typ: 'at+jwt', kid: jwk.kid });
    // The library's own checks take them, impersonation tokens included.
    expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(200);
    expect((await t.http.get('/me').set(bearer(imp.body.token))).status).toBe(200);
    // Refresh tokens stay HS256: nobody else can read them as access tokens.
    expect(headerOf(u.refresh_token).alg).toBe('HS256');
    const refreshed = await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: u.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(headerOf(refreshed.body.token).alg).toBe(alg);

    const tampered = `${partsOf(u.token)[0]}.${b64({ ...payloadOf(u.token), sub: admin.user.id })}.${partsOf(u.token)[2]}`;
    const tokens = [u.token, refreshed.body.token, imp.body.token, tampered, u.refresh_token];
    const server = await listen(t);
    track(server.close);
    const expected = [
      { ok: true, sub: u.user.id, alg, kid: jwk.kid },
      { ok: true, sub: u.user.id, alg, kid: jwk.kid },
      { ok: true, sub: u.user.id, alg, kid: jwk.kid },
      { ok: false },
      { ok: false },
    ];
    expect(await verify(process.execPath, JOSE, server.jwksUrl, tokens)).toMatchObject(expected);
    if (!hasPyJwt) {
      console.log('python3-jwt is not installed (apt-get install -y python3-jwt): the PyJWT check is skipped');
      return;
    }
    expect(await verify(PYTHON, PYJWT, server.jwksUrl, tokens)).toMatchObject(expected);
  });

  it('serves the key set with cache headers, an ETag (304 when it matches) and HEAD', async () => {
    const t = await app({ signingKeys: generateSigningKey('EdDSA') });
    const res = await t.http.get(`${BASE}/.well-known/jwks.json`);
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const etag = res.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await t.http.get(`${BASE}/.well-known/jwks.json`).set('If-None-Match', etag);
    expect(again.status).toBe(304);
    expect(again.text ?? '').toBe('');
    expect((await t.http.get(`${BASE}/.well-known/jwks.json`).set('If-None-Match', '"other"')).status).toBe(200);
    const head = await t.http.head(`${BASE}/.well-known/jwks.json`);
    expect(head.status).toBe(200);
    expect(head.headers.etag).toBe(etag);
  });

  it('rotation: the first key signs, every listed key verifies; a token of a dropped key (an unknown kid) is refused', async () => {
    const oldKey = generateSigningKey('EdDSA');
    const newKey = generateSigningKey('ES256', 'jwk');
    const t = await app({ signingKeys: oldKey });
    const u = await registerUser(t);
    const oldKid = headerOf(u.token).kid;

    // Rolled out with the new key first and the old one kept: old tokens still verify, new ones use the new key.
    const rotated = await sibling(t, { signingKeys: [JSON.parse(newKey), oldKey] });
    expect(rotated.auth.jwks().keys.map((k) => k.alg)).toEqual(['ES256', 'EdDSA']);
    expect((await rotated.http.get('/me').set(bearer(u.token))).status).toBe(200);
    const fresh = await rotated.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
    expect(headerOf(fresh.body.token)).toMatchObject({ alg: 'ES256', kid: JSON.parse(newKey).kid });
    // The old instance does not know the new key yet: a verifier must see a key before it signs.
    expectError(await t.http.get('/me').set(bearer(fresh.body.token)), 401, 'invalid_token');

    // The old key dropped: its tokens are refused, the new key's still pass.
    const dropped = await sibling(t, { signingKeys: [JSON.parse(newKey)] });
    expect((await dropped.http.get('/me').set(bearer(fresh.body.token))).status).toBe(200);
    const refused = await dropped.http.get('/me').set(bearer(u.token));
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('invalid_token');
    expect(dropped.auth.jwks().keys.map((k) => k.kid)).not.toContain(oldKid);

    // Outside verifiers agree: the rotated key set verifies both, the new one only the new token.
    const both = express();
    both.use(BASE, rotated.auth.router);
    const server = both.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    track(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${BASE}/.well-known/jwks.json`;
    expect((await verify(process.execPath, JOSE, url, [u.token, fresh.body.token])).map((v) => v.ok)).toEqual([true, true]);
  });

  it('a forged token is refused: unknown kid, HMAC with the public key (algorithm confusion), a kid with another algorithm, alg none', async () => {
    const privatePem = generateSigningKey('EdDSA');
    const t = await app({ signingKeys: privatePem });
    const u = await registerUser(t);
    const [jwk] = t.auth.jwks().keys;
    const claims = payloadOf(u.token);
    const adminClaims = { ...claims, roles: ['admin', 'user'] };
    const publicPem = createPublicKey(privatePem).export({ format: 'pem', type: 'spki' }).toString();
    const attacker = generateKeyPairSync('ed25519').privateKey;
    const attackerEc = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forged = {
      // Signed by a key the server does not have, under a kid it does not know.
      unknownKid: forge({ alg: 'EdDSA', typ: 'at+jwt', kid: 'attacker-key' }, adminClaims, eddsa(attacker)),
      // The same, claiming the real kid.
      wrongKey: forge({ alg: 'EdDSA', typ: 'at+jwt', kid: jwk!.kid }, adminClaims, eddsa(attacker)),
      // The published public key used as an HMAC secret, in every form a confused verifier might use.
      hmacPem: forge({ alg: 'HS256', typ: 'at+jwt', kid: jwk!.kid }, adminClaims, hs256(publicPem)),
      hmacPemNoKid: forge({ alg: 'HS256', typ: 'at+jwt' }, adminClaims, hs256(publicPem)),
      hmacJwk: forge({ alg: 'HS256', typ: 'at+jwt', kid: jwk!.kid }, adminClaims, hs256(JSON.stringify(jwk))),
      hmacX: forge({ alg: 'HS256', typ: 'at+jwt', kid: jwk!.kid }, adminClaims, hs256(Buffer.from(jwk!.x, 'base64url'))),
      // The kid of an EdDSA key with an ES256 signature.
      otherAlg: forge({ alg: 'ES256', typ: 'at+jwt', kid: jwk!.kid }, adminClaims, es256(attackerEc)),
      none: `${b64({ alg: 'none', typ: 'at+jwt', kid: jwk!.kid })}.${b64(adminClaims)}.`,
      // The real signature over other claims.
      swapped: `${partsOf(u.token)[0]}.${b64(adminClaims)}.${partsOf(u.token)[2]}`,
      // A crit extension the library would ignore.
      crit: forge({ alg: 'EdDSA', typ: 'at+jwt', kid: jwk!.kid, crit: ['exp'] }, claims, eddsa(attacker)),
    };
    for (const [name, token] of Object.entries(forged)) {
      const res = await t.http.get('/admin').set(bearer(token));
      expect({ name, status: res.status, code: res.body.code }).toEqual({ name, status: 401, code: 'invalid_token' });
      await expect(t.auth.verifyToken(token), name).rejects.toMatchObject({ code: 'invalid_token' });
    }
    // The genuine token still works, and is no admin.
    expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(200);
    expectError(await t.http.get('/admin').set(bearer(u.token)), 403, 'forbidden');
  });

  it('a token signed with the real key is still checked like any other: expired, wrong audience, not yet valid', async () => {
    const key = createPrivateKey(generateSigningKey('ES256'));
    const t = await app({ signingKeys: key });
    const u = await registerUser(t);
    const [jwk] = t.auth.jwks().keys;
    const claims = payloadOf(u.token);
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'at+jwt', kid: jwk!.kid };
    const signed = (c: Record<string, unknown>) => forge(header, c, es256(key));
    expect((await t.http.get('/me').set(bearer(signed(claims)))).status).toBe(200);
    expectError(await t.http.get('/me').set(bearer(signed({ ...claims, iat: now - 7200, exp: now - 3600 }))), 401, 'token_expired');
    expectError(await t.http.get('/me').set(bearer(signed({ ...claims, aud: 'another-service' }))), 401, 'invalid_token');
    expectError(await t.http.get('/me').set(bearer(signed({ ...claims, iss: 'someone-else' }))), 401, 'invalid_token');
    expectError(await t.http.get('/me').set(bearer(signed({ ...claims, nbf: now + 600 }))), 401, 'invalid_token');
    expectError(await t.http.get('/me').set(bearer(signed({ ...claims, exp: (claims.iat as number) + 86_400 }))), 401, 'invalid_token');
    expectError(await t.http.get('/me').set(bearer(forge({ ...header, typ: 'rt+jwt' }, claims, es256(key)))), 401, 'invalid_token');
  });

  it('moving to signing keys: HS256 tokens of jwtSecret still verify by their kid; refresh tokens keep working', async () => {
    const t = await app();
    const u = await registerUser(t);
    expect(headerOf(u.token).alg).toBe('HS256');
    const moved = await sibling(t, { signingKeys: generateSigningKey('EdDSA') });
    expect((await moved.http.get('/me').set(bearer(u.token))).status).toBe(200);
    const refreshed = await moved.http.post(`${BASE}/token-refresh`).send({ refresh_token: u.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(headerOf(refreshed.body.token).alg).toBe('EdDSA');
    // An HS256 token with the kid of the signing key, made with the secret itself, is refused: the kid pins EdDSA.
    const kid = moved.auth.jwks().keys[0]!.kid;
    const confused = forge({ alg: 'HS256', typ: 'at+jwt', kid }, payloadOf(u.token), hs256(t.secret));
    expectError(await moved.http.get('/me').set(bearer(confused)), 401, 'invalid_token');
  });

  it('the move from HS256 ends by itself: only HS256 tokens issued before the instance started verify, and none past one token lifetime', async () => {
    const clock = { ms: Date.now() };
    const now = () => new Date(clock.ms);
    const t = await app({ signingKeys: generateSigningKey('EdDSA'), tokenExpiry: 600, now });
    const started = Math.floor(clock.ms / 1000);
    const u = await registerUser(t);
    // The secret's kid is no secret: every refresh token names it.
    const kid = headerOf(u.refresh_token).kid;
    const claims = payloadOf(u.token);
    const hs = (iat: number, lifetime = 600) => forge({ alg: 'HS256', typ: 'at+jwt', kid }, { ...claims, iat, exp: iat + lifetime }, hs256(t.secret));
    /** What requireAuth, verifyToken and introspection say of a token: they must agree. */
    const verdict = async (token: string) => {
      const res = await t.http.get('/me').set(bearer(token));
      const verified = await t.auth.verifyToken(token).then(
        () => 'ok',
        (err: { code: string }) => err.code,
      );
      const introspected = (await t.auth.introspect(token)).active;
      return { status: res.status, verified, introspected };
    };
    const accepted = { status: 200, verified: 'ok', introspected: true };
    const refused = { status: 401, verified: 'invalid_token', introspected: false };

    clock.ms += 120_000;
    // Minted now by whoever holds the secret: refused, however it is dressed.
    expect(await verdict(hs(started + 120))).toEqual(refused);
    expect(await verdict(hs(started + 60))).toEqual(refused);
    // Issued before the start (or within the clock skew of it): accepted until it expires.
    const before = hs(started - 30);
    expect(await verdict(before)).toEqual(accepted);
    expect(await verdict(hs(started + 30))).toEqual(accepted);
    // A lifetime longer than tokenExpiry is refused as before.
    expect(await verdict(hs(started - 30, 601))).toEqual(refused);
    // The genuine signed token is untouched.
    expect(await verdict(u.token)).toEqual(accepted);

    clock.ms = (started - 30 + 600) * 1000;
    expect(await verdict(before)).toEqual({ status: 401, verified: 'token_expired', introspected: false });
    // One lifetime (and the skew) after the start no HS256 token is taken, whatever its iat.
    clock.ms = (started + 600 + 30) * 1000;
    for (const iat of [started - 600, started - 1, started, started + 30, started + 600, started + 630]) {
      const res = await t.http.get('/me').set(bearer(hs(iat)));
      expect({ iat, status: res.status }).toEqual({ iat, status: 401 });
      expect((await t.auth.introspect(hs(iat))).active).toBe(false);
    }
  });

  it('acceptLegacyHs256: false ends the move at once; without signingKeys it is a TypeError', async () => {
    const t = await app();
    const u = await registerUser(t);
    expect(headerOf(u.token).alg).toBe('HS256');
    const moving = await sibling(t, { signingKeys: generateSigningKey('EdDSA') });
    expect((await moving.http.get('/me').set(bearer(u.token))).status).toBe(200);
    const moved = await sibling(t, { signingKeys: generateSigningKey('EdDSA'), acceptLegacyHs256: false });
    expectError(await moved.http.get('/me').set(bearer(u.token)), 401, 'invalid_token');
    expect(await moved.auth.introspect(u.token)).toEqual({ active: false });
    // Refresh tokens stay HS256 and keep working: the user gets a signed token.
    const refreshed = await moved.http.post(`${BASE}/token-refresh`).send({ refresh_token: u.refresh_token });
    expect(refreshed.status).toBe(200);
    expect((await moved.http.get('/me').set(bearer(refreshed.body.token))).status).toBe(200);
    // Without signing keys HS256 is how tokens are signed: false would refuse them all.
    const base = { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(48) };
    expect(() => new AuthManager(null, { ...base, acceptLegacyHs256: false })).toThrow(/acceptLegacyHs256.*signingKeys/);
    expect(() => new AuthManager(null, { ...base, acceptLegacyHs256: 'no' as never })).toThrow(/acceptLegacyHs256/);
  });

  it('an impersonation token names the admin in `act` (RFC 8693), which jose reads, so a verifier can refuse it', async () => {
    const t = await app({ signingKeys: generateSigningKey('EdDSA') });
    const u = await registerUser(t);
    const admin = await registerAdmin(t);
    const imp = await t.http.post(`${BASE}/${u.user.id}/impersonate`).set(bearer(admin.token)).send({});
    expect(imp.status).toBe(200);
    const keys = createLocalJWKSet(t.auth.jwks());
    const options = { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt', algorithms: ['EdDSA', 'ES256'] };
    const { payload } = await jwtVerify(imp.body.token, keys, options);
    expect(payload.sub).toBe(u.user.id);
    expect(payload.act).toEqual({ sub: admin.user.id });
    // The user's own token has none.
    expect((await jwtVerify(u.token, keys, options)).payload.act).toBeUndefined();
    // The library agrees on who is behind it.
    expect(await t.auth.verifyToken(imp.body.token)).toMatchObject({ user: { id: u.user.id }, impersonator_id: admin.user.id });
    expect(await t.auth.introspect(imp.body.token)).toMatchObject({ active: true, sub: u.user.id, act: { sub: admin.user.id } });
  });

  it('jwksAtRoot also serves /.well-known/jwks.json at the root of the app', async () => {
    const t = await app({ signingKeys: generateSigningKey('EdDSA'), jwksAtRoot: true });
    const root = await t.http.get('/.well-known/jwks.json');
    expect(root.status).toBe(200);
    expect(root.body).toEqual(t.auth.jwks());
    expect(root.headers['cache-control']).toBe('public, max-age=300');
    expect((await t.http.get('/.well-known/jwks.json/more')).status).toBe(404);
    const plain = await app({ signingKeys: generateSigningKey('EdDSA') });
    expect((await plain.http.get('/.well-known/jwks.json')).status).toBe(404);
  });

  it('misconfiguration is a TypeError naming the option', () => {
    const base = { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(48) };
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const ed = generateKeyPairSync('ed25519');
    const cases: Array<[string, Partial<AuthManagerOptions>, RegExp]> = [
      ['an RSA key', { signingKeys: rsa }, /signingKeys.*rsa/],
      ['a P-384 key', { signingKeys: p384 }, /signingKeys/],
      ['garbage PEM', { signingKeys: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----' }, /signingKeys.*could not be read/],
      ['a number', { signingKeys: 42 as never }, /signingKeys/],
      ['a public key first', { signingKeys: [ed.publicKey, ed.privateKey] }, /signingKeys\[0\].*private/],
      ['an empty list', { signingKeys: [] }, /signingKeys/],
      ['the same key twice', { signingKeys: [ed.privateKey, ed.publicKey] }, /signingKeys\[1\].*kid/],
      ['a secret key', { signingKeys: createSecretKey(Buffer.alloc(32)) }, /jwtSecret/],
      ['jwksAtRoot without keys', { jwksAtRoot: true }, /jwksAtRoot/],
    ];
    for (const [name, options, message] of cases) expect(() => new AuthManager(null, { ...base, ...options }), name).toThrow(message);
    expect(() => new AuthManager(null, { ...base, signingKeys: ed.privateKey, jwksAtRoot: true })).toThrow(/jwksAtRoot.*app/);
  });

  it('a public key after the first verifies but never signs', async () => {
    const current = generateKeyPairSync('ed25519');
    const retired = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const t = await app({ signingKeys: [current.privateKey, retired.publicKey] });
    const u = await registerUser(t);
    const kids = t.auth.jwks().keys.map((k) => k.kid);
    expect(headerOf(u.token).kid).toBe(kids[0]);
    const old = forge({ alg: 'ES256', typ: 'at+jwt', kid: kids[1] }, payloadOf(u.token), es256(retired.privateKey));
    expect((await t.http.get('/me').set(bearer(old))).status).toBe(200);
  });
});
