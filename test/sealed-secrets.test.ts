import { createCipheriv, randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, PASSWORD, type TestApp, verifiedUser } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';
import { BASE, expectError } from './helpers/endpoints.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { authorizeAt, rememberBrowser } from './helpers/oauth-browser.js';
import { extraInstance, type ExtraInstance } from './helpers/tokens.js';

// Contract 5.6 (amended): every secret sealed at rest (provider tokens, TOTP secrets, integration
// secrets) is bound to its row and purpose, so a ciphertext copied elsewhere does not decrypt
// there: the code reads it as no secret, never answers 500 and never hands out another user's
// secret. Values in the old format are sealed again, bound, when an instance starts.

const PUBLIC_URL = 'http://app.test';
const CALLBACK = `${PUBLIC_URL}${BASE}/login/oauth2callback`;
/** Known to the test, so it can write values in the old format as the previous version did. */
const KEY = randomBytes(32);

let github: FakeGitHub;
let t: TestApp;
let clockOffset = 0;
const now = () => Date.now() + clockOffset;

beforeAll(async () => {
  github = await startFakeGitHub({ callbackURL: CALLBACK });
  t = await createTestApp({
    publicUrl: PUBLIC_URL,
    encryptionKey: KEY,
    oauthConfig: { github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls } },
    now: () => new Date(now()),
  });
});
afterAll(async () => {
  await t?.close();
  await github?.stop();
});

const table = (name: string) => `"${t.schema}".${name}`;

/** A value sealed as the previous version sealed it: `v1.`, with associated data only when given. */
function legacySeal(plaintext: string, context?: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', KEY, iv);
  if (context !== undefined) cipher.setAAD(Buffer.from(context, 'utf8'));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), data.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** The code of `secret` at `at` (ms; the test app's clock unless given). */
function totp(secret: string, at = now()): string {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });
}

/** Links a fresh fake GitHub account to `u` (explicit linking flow); the provider's tokens. */
async function linkGitHub(u: { token: string; username: string; user: { id: string } }) {
  github.issueRefreshTokens = true;
  try {
    github.nextUser = github.makeUser({ email: `${u.username}@example.com`, verified: true });
    const begin = rememberBrowser(await t.http.post(`${BASE}/me/identities/github`).set(bearer(u.token)).send({}));
    expect(begin.status, JSON.stringify(begin.body)).toBe(200);
    const { callbackPath, cookie } = await authorizeAt(begin.body.redirect_url);
    expect((await t.http.get(callbackPath).set('Cookie', cookie)).status).toBe(200);
    const issued = github.issued.at(-1)!;
    return { access_token: issued.access_token, refresh_token: issued.refresh_token! };
  } finally {
    github.issueRefreshTokens = false;
  }
}

/** A user with TOTP confirmed, and its secret. */
async function withTotp(s: TestApp = t) {
  const u = await verifiedUser(s);
  const setup = await s.http.post(`${BASE}/mfa/totp/setup`).set(bearer(u.token)).send({ password: PASSWORD });
  expect(setup.status).toBe(200);
  const secret = setup.body.secret as string;
  expect(
    (
      await s.http
        .post(`${BASE}/mfa/totp/confirm`)
        .set(bearer(u.token))
        .send({ code: totp(secret) })
    ).status,
  ).toBe(200);
  clockOffset += 30_000; // a fresh code for what follows
  return { ...u, secret };
}

/** Password, then a TOTP code: the second step's response. */
async function signInWithTotp(http: TestApp['http'], username: string, code: string) {
  const first = await http.post(`${BASE}/login`).send({ username, password: PASSWORD });
  expect(first.body.code).toBe('mfa_required');
  return http.post(`${BASE}/login/mfa`).send({ mfa_id: first.body.mfa_id, method: 'totp', code });
}

const sealedOf = async (name: string, column: string, where: string, params: unknown[]) =>
  String((await rawQuery<Record<string, unknown>>(`SELECT ${column} FROM ${table(name)} WHERE ${where}`, params))[0]![column]);

describe('a sealed secret copied to another place reads as no secret', () => {
  it("Alice's provider tokens copied into Bob's account: auth.integrations.get(bob, 'github') has no token, never Alice's", async () => {
    const [alice, bob] = [await verifiedUser(t), await verifiedUser(t)];
    const aliceTokens = await linkGitHub(alice);
    await linkGitHub(bob);
    await rawQuery(
      `UPDATE ${table('oauth_accounts')} b SET access_token_enc = a.access_token_enc, refresh_token_enc = a.refresh_token_enc
       FROM ${table('oauth_accounts')} a WHERE a.user_id = $1 AND a.provider = 'github' AND b.user_id = $2 AND b.provider = 'github'`,
      [alice.user.id, bob.user.id],
    );
    const got = await t.auth.integrations.get(bob.user.id, 'github');
    expect(got).toMatchObject({ source: 'oauth', provider: 'github', secret: null, access_token: null, refresh_token: null });
    expect(JSON.stringify(got)).not.toContain(aliceTokens.access_token);
    expect(JSON.stringify(got)).not.toContain(aliceTokens.refresh_token);
    expect((await t.http.get(`${BASE}/me/integrations`).set(bearer(bob.token))).status).toBe(200);
    expect((await t.http.get(`${BASE}/me/identities`).set(bearer(bob.token))).status).toBe(200);
    // Alice's own row still opens.
    expect(await t.auth.integrations.get(alice.user.id, 'github')).toMatchObject(aliceTokens);
  });

  it('a value moved to another column or table of the same user does not open there', async () => {
    const u = await verifiedUser(t);
    const tokens = await linkGitHub(u);
    await t.auth.integrations.set(u.user.id, 'vault', { secret: 'sk_vault_secret_value' });
    // The access token into the refresh token's column.
    await rawQuery(`UPDATE ${table('oauth_accounts')} SET refresh_token_enc = access_token_enc WHERE user_id = $1`, [u.user.id]);
    const got = await t.auth.integrations.get(u.user.id, 'github');
    expect(got).toMatchObject({ access_token: tokens.access_token, refresh_token: null });
    // The integration secret into the provider account's access token, and back the other way.
    const integration = await sealedOf('integrations', 'secret_enc', `user_id = $1 AND connector = 'vault'`, [u.user.id]);
    const access = await sealedOf('oauth_accounts', 'access_token_enc', 'user_id = $1', [u.user.id]);
    await rawQuery(`UPDATE ${table('oauth_accounts')} SET access_token_enc = $2 WHERE user_id = $1`, [u.user.id, integration]);
    await rawQuery(`UPDATE ${table('integrations')} SET secret_enc = $2 WHERE user_id = $1 AND connector = 'vault'`, [u.user.id, access]);
    expect((await t.auth.integrations.get(u.user.id, 'github'))?.access_token).toBeNull();
    expect((await t.auth.integrations.get(u.user.id, 'vault'))?.secret).toBeNull();
  });

  it("Alice's TOTP secret copied into Bob's row: Alice's codes do not sign in as Bob (400 invalid_code, never 500)", async () => {
    const [alice, bob] = [await withTotp(), await withTotp()];
    await rawQuery(`UPDATE ${table('mfa_totp')} SET secret_enc = (SELECT secret_enc FROM ${table('mfa_totp')} WHERE user_id = $1) WHERE user_id = $2`, [
      alice.user.id,
      bob.user.id,
    ]);
    expectError(await signInWithTotp(t.http, bob.username, totp(alice.secret)), 400, 'invalid_code');
    expectError(await signInWithTotp(t.http, bob.username, totp(bob.secret)), 400, 'invalid_code');
    // Bob's account still answers; his secret simply is not there any more.
    expect((await t.http.get(`${BASE}/mfa`).set(bearer(bob.token))).status).toBe(200);
    // A TOTP secret moved into an integration's secret does not open there either.
    await t.auth.integrations.set(alice.user.id, 'vault', { secret: 'sk_other' });
    const totpSealed = await sealedOf('mfa_totp', 'secret_enc', 'user_id = $1', [alice.user.id]);
    await rawQuery(`UPDATE ${table('integrations')} SET secret_enc = $2 WHERE user_id = $1 AND connector = 'vault'`, [alice.user.id, totpSealed]);
    expect((await t.auth.integrations.get(alice.user.id, 'vault'))?.secret).toBeNull();
    expect((await signInWithTotp(t.http, alice.username, totp(alice.secret))).status).toBe(200);
  });
});

describe('values in the old format', () => {
  /** A user whose provider account, TOTP secret and integration are stored as the previous version stored them. */
  async function legacyUser() {
    const u = await verifiedUser(t);
    const secret = new OTPAuth.Secret({ size: 20 }).base32;
    const tokens = { access_token: `gho_${randomBytes(12).toString('hex')}`, refresh_token: `ghr_${randomBytes(12).toString('hex')}` };
    const providerId = `legacy-${randomBytes(4).toString('hex')}`;
    await rawQuery(
      `INSERT INTO ${table('oauth_accounts')} (provider, provider_user_id, user_id, access_token_enc, refresh_token_enc) VALUES ('github', $1, $2, $3, $4)`,
      [providerId, u.user.id, legacySeal(tokens.access_token), legacySeal(tokens.refresh_token)],
    );
    await rawQuery(`INSERT INTO ${table('mfa_totp')} (user_id, secret_enc, confirmed_at) VALUES ($1, $2, now())`, [u.user.id, legacySeal(secret)]);
    await rawQuery(`INSERT INTO ${table('integrations')} (user_id, connector, secret_enc) VALUES ($1, 'vault', $2)`, [
      u.user.id,
      legacySeal('sk_legacy_vault', `integration:${u.user.id}:vault`),
    ]);
    return { ...u, secret, tokens };
  }

  const stored = async (userId: string) => [
    await sealedOf('oauth_accounts', 'access_token_enc', 'user_id = $1', [userId]),
    await sealedOf('oauth_accounts', 'refresh_token_enc', 'user_id = $1', [userId]),
    await sealedOf('mfa_totp', 'secret_enc', 'user_id = $1', [userId]),
    await sealedOf('integrations', 'secret_enc', 'user_id = $1', [userId]),
  ];

  it('are sealed again, bound, when instances start (two at once), and go on working', async () => {
    const u = await legacyUser();
    for (const value of await stored(u.user.id)) expect(value).toMatch(/^v1\./);
    // Not read before the re-seal: the old format is only ever read by it.
    expect((await t.auth.integrations.get(u.user.id, 'github'))?.access_token).toBeNull();
    let started: ExtraInstance[] = [];
    try {
      started = await Promise.all([1, 2].map(() => extraInstance(t.schema, { jwtSecret: t.secret, encryptionKey: KEY, logger: false })));
      const values = await stored(u.user.id);
      for (const value of values) expect(value).toMatch(/^v2\./);
      for (const instance of [...started.map((s) => s.auth), t.auth]) {
        expect(await instance.integrations.get(u.user.id, 'github')).toMatchObject({ ...u.tokens, secret: u.tokens.access_token });
        expect((await instance.integrations.get(u.user.id, 'vault'))?.secret).toBe('sk_legacy_vault');
      }
      // The extra instances keep real time.
      const second = await signInWithTotp(started[1]!.http, u.username, totp(u.secret, Date.now()));
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      // A start with nothing left to re-seal changes nothing.
      const third = await extraInstance(t.schema, { jwtSecret: t.secret, encryptionKey: KEY, logger: false });
      started.push(third);
      expect(await stored(u.user.id)).toEqual(values);
    } finally {
      await Promise.all(started.map((s) => s.close()));
    }
  });

  it('one that does not open (another key, or altered) stays as it is and reads as no secret', async () => {
    const u = await verifiedUser(t);
    const garbage = `v1.${randomBytes(12).toString('base64url')}.${randomBytes(20).toString('base64url')}.${randomBytes(16).toString('base64url')}`;
    await rawQuery(`INSERT INTO ${table('integrations')} (user_id, connector, secret_enc) VALUES ($1, 'broken', $2)`, [u.user.id, garbage]);
    const b = await extraInstance(t.schema, { jwtSecret: t.secret, encryptionKey: KEY, logger: false });
    try {
      expect(await sealedOf('integrations', 'secret_enc', `user_id = $1 AND connector = 'broken'`, [u.user.id])).toBe(garbage);
      expect((await b.auth.integrations.get(u.user.id, 'broken'))?.secret).toBeNull();
      expect((await t.http.get(`${BASE}/me/integrations`).set(bearer(u.token))).status).toBe(200);
    } finally {
      await b.close();
    }
  });
});
