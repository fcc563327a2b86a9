import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerUser, type TestApp, verifiedUser } from './helpers/app.js';
import { leakedSecrets } from './helpers/audit.js';
import { rawQuery } from './helpers/database.js';
import { BASE, uniqueName } from './helpers/endpoints.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { authorizeAt, rememberBrowser } from './helpers/oauth-browser.js';
import { extraInstance, type ExtraInstance } from './helpers/tokens.js';
import { groupApi } from './helpers/groups.js';
import * as OTPAuth from 'otpauth';
import { mailbox, type Mailbox } from './helpers/mailbox.js';
import { awayFromStepEnd } from './helpers/totp-step.js';

// "A dump of the database lets no one log in" (contract section 9). A full scenario runs through
// every kind of secret the library handles; then every column of every table of the schema is
// read and searched for each secret, and every stored string is tried as a credential.

const PUBLIC_URL = 'http://app.test';
const CALLBACK = `${PUBLIC_URL}${BASE}/login/oauth2callback`;
const HIGH = { limit: 100_000, windowSeconds: 60 };

let github: FakeGitHub;
let box: Mailbox;
let t: TestApp;
let probe: ExtraInstance | undefined;

beforeAll(async () => {
  github = await startFakeGitHub({ callbackURL: CALLBACK });
  box = mailbox();
  // Rate limiting on (so its tables fill up too), with limits the scenario never reaches.
  t = await createTestApp({
    mailer: box.mailer,
    publicUrl: PUBLIC_URL,
    oauthConfig: { github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls } },
    rateLimit: { login: HIGH, register: HIGH, refresh: HIGH, token: HIGH, mail: HIGH, mailTarget: HIGH, code: HIGH },
  });
});

afterAll(async () => {
  await probe?.close();
  await t?.close();
  await github?.stop();
});

/** Every table of the schema, each as `select *` rows. */
async function dumpSchema(schema: string): Promise<Record<string, Record<string, unknown>[]>> {
  const tables = await rawQuery<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
    [schema],
  );
  const dump: Record<string, Record<string, unknown>[]> = {};
  for (const { table_name } of tables) dump[table_name] = await rawQuery(`SELECT * FROM "${schema}"."${table_name}"`);
  return dump;
}

/** Every string anywhere in the dump (column values, and inside json/array columns). */
function storedStrings(value: unknown, out = new Set<string>()): Set<string> {
  if (typeof value === 'string') out.add(value);
  else if (Array.isArray(value)) for (const v of value) storedStrings(v, out);
  else if (value !== null && typeof value === 'object' && !(value instanceof Date)) for (const v of Object.values(value)) storedStrings(v, out);
  return out;
}

/** The OAuth `state` of a provider authorization URL. */
const stateOf = (redirectUrl: string) => new URL(redirectUrl).searchParams.get('state')!;

interface Scenario {
  secrets: Record<string, string | undefined>;
  username: string;
  userId: string;
  newPassword: string;
  apiTokens: string[];
  oauth: { token: string; refresh_token: string };
  /** A service key of a group the user created, and the id of that group. */
  serviceKey: { id: string; token: string; groupId: string };
  integrationSecret: string;
  provider: { access_token: string; refresh_token?: string };
  pendingRedirect: string;
  /** The `Cookie` header of the browser that began the pending flow: probes come from that browser. */
  pendingCookie: string;
  pendingState: string;
  /** Live secrets of the account lifecycle, left unused until the last test. */
  lifecycle: { username: string; resetToken: string; otpId: string; otpCode: string; mfaId: string; totpSecret: string; backupCode: string };
  dump: Record<string, Record<string, unknown>[]>;
  text: string;
}

let s: Scenario;

/**
 * The scenario: register (known password), a mistyped login, login, refresh twice, two API tokens,
 * password change, GitHub sign-in with provider refresh tokens, a group (with a child) and its
 * service key, an integration secret, and an OAuth flow left unfinished.
 * Every secret it sees is collected; then the schema is dumped.
 */
async function runScenario(): Promise<Scenario> {
  const secrets: Record<string, string | undefined> = { jwtSecret: t.secret, githubClientSecret: github.clientSecret };
  let n = 0;
  const keep = (label: string, value: string | undefined) => {
    expect(value, `${label} was seen by the scenario`).toBeTruthy();
    secrets[`${label}#${(n += 1)}`] = value;
    return value!;
  };

  const username = uniqueName('dump');
  const email = `${username}@example.com`;
  const oldPassword = keep('old password', `old-${randomBytes(12).toString('base64url')}`);
  const newPassword = keep('new password', `new-${randomBytes(12).toString('base64url')}`);
  const wrongPassword = keep('mistyped password', `${oldPassword}x`);
  const reg = await verifiedUser(t, { username, email, password: oldPassword });
  keep('register access', reg.token);
  keep('register refresh', reg.refresh_token);
  const userId = reg.user.id;

  expect((await t.http.post(`${BASE}/login`).send({ username, password: wrongPassword })).status).toBe(401);
  const login = await t.http.post(`${BASE}/login`).send({ username, password: oldPassword });
  expect(login.status).toBe(200);
  keep('login access', login.body.token);
  keep('login refresh', login.body.refresh_token);

  let refreshToken: string = login.body.refresh_token;
  let accessToken: string = login.body.token;
  for (let i = 0; i < 2; i++) {
    const res = await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: refreshToken });
    expect(res.status).toBe(200);
    refreshToken = keep('rotated refresh', res.body.refresh_token);
    accessToken = keep('rotated access', res.body.token);
  }

  const apiTokens: string[] = [];
  for (const name of ['ci', 'reports']) {
    const res = await t.http
      .post(`${BASE}/me/api-tokens`)
      .set(bearer(accessToken))
      .send({ name, scopes: ['reports:read'], expires_in_days: 30 });
    expect(res.status).toBe(201);
    apiTokens.push(keep('API token', res.body.token));
    keep('API token secret part', (res.body.token as string).slice('api_'.length + 8));
  }

  const changed = await t.http.post(`${BASE}/change-password`).set(bearer(accessToken)).send({ current_password: oldPassword, password: newPassword });
  expect(changed.status).toBe(200);
  keep('post-change access', changed.body.token);
  keep('post-change refresh', changed.body.refresh_token);

  // GitHub linked explicitly by the signed-in user, with provider refresh tokens.
  github.issueRefreshTokens = true;
  github.nextUser = github.makeUser({ email, verified: true });
  const begin = rememberBrowser(await t.http.post(`${BASE}/me/identities/github`).set(bearer(changed.body.token)).send({}));
  expect(begin.status).toBe(200);
  keep('OAuth state', stateOf(begin.body.redirect_url));
  const { callbackPath, callbackUrl, cookie } = await authorizeAt(begin.body.redirect_url);
  keep('authorization code', callbackUrl.searchParams.get('code') ?? undefined);
  keep('OAuth browser cookie', cookie.split('=')[1]);
  const oauth = await t.http.get(callbackPath).set('Cookie', cookie);
  expect(oauth.status, JSON.stringify(oauth.body)).toBe(200);
  expect(oauth.body.user.id).toBe(userId);
  keep('OAuth access', oauth.body.token);
  keep('OAuth refresh', oauth.body.refresh_token);
  keep('PKCE verifier', github.lastTokenRequest?.code_verifier);
  const provider = github.issued.at(-1)!;
  keep('provider access token', provider.access_token);
  keep('provider refresh token', provider.refresh_token);

  // A group with a child group and a service key; an integration kept for the user.
  const groups = groupApi(t, oauth.body.token);
  const group = await groups.create({ name: 'Dump Co' });
  expect(group.status, JSON.stringify(group.body)).toBe(201);
  const groupId = group.body.group.id as string;
  expect((await groups.create({ name: 'Dump Team', parent_id: groupId })).status).toBe(201);
  const key = await groups.createKey(groupId, { name: 'deploy', scopes: ['reports:read'], expires_in_days: 30 });
  expect(key.status, JSON.stringify(key.body)).toBe(201);
  keep('service key', key.body.token);
  keep('service key secret part', (key.body.token as string).slice('api_'.length + 8));
  const serviceKey = { id: key.body.id as string, token: key.body.token as string, groupId };
  const integrationSecret = keep('integration secret', `sk_live_${randomBytes(24).toString('hex')}`);
  await t.auth.integrations.set(userId, 'stripe', { secret: integrationSecret, identifier: 'acct_dump', scopes: ['charges:read'], meta: { region: 'eu' } });

  // A flow that is begun but not finished: its state (and PKCE verifier) wait in oauth_states.
  const pending = rememberBrowser(await t.http.post(`${BASE}/login/oauth`).send({ provider: 'github' }));
  expect(pending.status).toBe(200);
  const pendingState = keep('pending OAuth state', stateOf(pending.body.redirect_url));
  const pendingCookie = (pending.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
  keep('pending OAuth browser cookie', pendingCookie.split('=')[1]);

  // The account lifecycle, on a second user: a live reset link, verification and email-change links,
  // an email code, TOTP with backup codes, and a pending second factor (mfa_id).
  const other = await registerUser(t, { password: newPassword });
  const otherEmail = `${other.username}@example.com`;
  await t.http.post(`${BASE}/request-verification`).send({ email: otherEmail });
  keep('verification token', (await box.next('verification', otherEmail)).token);
  const changeTo = `changed_${other.username}@example.com`;
  await t.http.post(`${BASE}/request-email-change`).set(bearer(other.token)).send({ new_email: changeTo });
  keep('email-change token', (await box.next('email_change', changeTo)).token);
  // Verified (by an administrator, so the verification link above stays live) before enrolling TOTP.
  await t.auth.users.update(other.user.id, { email_verified: true });
  const setup = await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(other.token)).send({ password: newPassword });
  const totpSecret = keep('TOTP secret', setup.body.secret);
  const totp = (at: number) =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(totpSecret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });
  await awayFromStepEnd();
  const confirmed = await t.http
    .post(`${BASE}/mfa/totp/confirm`)
    .set(bearer(other.token))
    .send({ code: totp(Date.now() - 30_000) });
  expect(confirmed.status).toBe(200);
  const backupCodes = confirmed.body.backup_codes as string[];
  for (const code of backupCodes) keep('backup code', code);
  const first = await t.http.post(`${BASE}/login`).send({ username: other.username, password: newPassword });
  expect(first.body.code).toBe('mfa_required');
  const mfaId = keep('mfa_id', first.body.mfa_id);
  await t.http.post(`${BASE}/request-password-reset`).send({ email: otherEmail });
  const resetToken = keep('reset token', (await box.next('password_reset', otherEmail)).token);
  const otpId = (await t.http.post(`${BASE}/request-otp`).send({ email: otherEmail })).body.otp_id as string;
  const otpCode = keep('OTP code', (await box.next('otp', otherEmail)).code);

  const dump = await dumpSchema(t.schema);
  return {
    lifecycle: { username: other.username, resetToken, otpId, otpCode, mfaId, totpSecret, backupCode: backupCodes[0]! },
    secrets,
    username,
    userId,
    newPassword,
    apiTokens,
    oauth: oauth.body,
    serviceKey,
    integrationSecret,
    provider,
    pendingRedirect: pending.body.redirect_url,
    pendingCookie,
    pendingState,
    dump,
    text: JSON.stringify(dump),
  };
}

/** A second instance of the deployment, without rate limits, so every probe is judged on its merits. */
async function prober(): Promise<ExtraInstance> {
  probe ??= await extraInstance(t.schema, {
    jwtSecret: t.secret,
    publicUrl: PUBLIC_URL,
    oauthConfig: { github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls } },
  });
  return probe;
}

describe('database dump after a full scenario', () => {
  beforeAll(async () => {
    s = await runScenario();
  });

  it('the dump covers every table, and the scenario left data in them (the secrets were handled and kept somewhere)', async () => {
    for (const table of [
      'users',
      'roles',
      'user_roles',
      'refresh_tokens',
      'api_tokens',
      'oauth_accounts',
      'oauth_states',
      'auth_events',
      'one_time_tokens',
      'mfa_totp',
      'mfa_backup_codes',
      'groups',
      'group_parents',
      'group_members',
      'integrations',
    ]) {
      expect(Object.keys(s.dump), `table ${table}`).toContain(table);
    }
    expect(s.dump.oauth_states!.length).toBeGreaterThan(0);
    expect(s.dump.oauth_accounts!.length).toBe(1);
    expect(s.dump.api_tokens!.filter((r) => r.user_id !== null).length).toBe(2);
    expect(s.dump.api_tokens!.filter((r) => r.group_id === s.serviceKey.groupId).length).toBe(1);
    expect(s.dump.groups!.length).toBe(2);
    expect(s.dump.group_parents!.length).toBe(1);
    expect(s.dump.integrations!.length).toBe(1);
    expect(s.dump.refresh_tokens!.length).toBeGreaterThanOrEqual(6);
    expect(s.dump.auth_events!.length).toBeGreaterThan(5);
    expect(s.dump.one_time_tokens!.length).toBeGreaterThanOrEqual(5);
    expect(s.dump.mfa_totp!.length).toBe(1);
    expect(s.dump.mfa_backup_codes!.length).toBe(10);
    // The provider tokens are kept (to call GitHub later), so they are in the database in some form.
    const integration = await t.auth.integrations.get(s.userId, 'github');
    expect(integration?.access_token).toBe(s.provider.access_token);
    expect(integration?.refresh_token).toBe(s.provider.refresh_token);
    // So is the integration secret (to call Stripe later).
    expect((await t.auth.integrations.get(s.userId, 'stripe'))?.secret).toBe(s.integrationSecret);
  });

  it('the service key and the integration secret are nowhere in the dump, in any form; the key is kept as its SHA-256 only', () => {
    expect(leakedSecrets(s.text, { serviceKey: s.serviceKey.token, integrationSecret: s.integrationSecret }), 'found in the dump').toEqual([]);
    const secretPart = s.serviceKey.token.slice('api_'.length + 8);
    expect(s.text).not.toContain(secretPart);
    const row = s.dump.api_tokens!.find((r) => r.id === s.serviceKey.id)!;
    expect(row).toMatchObject({ user_id: null, group_id: s.serviceKey.groupId });
    expect(row.token_hash).toBe(createHash('sha256').update(s.serviceKey.token).digest('hex'));
    const [integration] = s.dump.integrations!;
    expect(integration).toMatchObject({ user_id: s.userId, connector: 'stripe', identifier: 'acct_dump' });
    expect(integration!.secret_enc).toMatch(/^v2\.[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('a service key rebuilt from the dump does not authenticate: its stored hash, api_<id><hash>, the row as a whole', async () => {
    const p = await prober();
    const row = s.dump.api_tokens!.find((r) => r.id === s.serviceKey.id)!;
    const hash = String(row.token_hash);
    const rebuilt = [
      hash,
      `api_${s.serviceKey.id}${hash}`,
      `api_${s.serviceKey.id}${hash.slice(0, s.serviceKey.token.length - 'api_'.length - 8)}`,
      `api_${s.serviceKey.id}${Buffer.from(hash, 'hex').toString('base64url')}`,
      `api_${s.serviceKey.id}`,
    ];
    for (const v of rebuilt) {
      for (const res of [await p.http.get('/me').set(bearer(v)), await p.http.get('/me').set('X-API-Token', v), await p.http.get('/admin').set(bearer(v))]) {
        expect({ status: res.status, code: res.body?.code }, `rebuilt service key ${v}`).toEqual({ status: 401, code: 'invalid_token' });
      }
    }
    // The real key, by contrast, authenticates: /me (any user) refuses it as a service key, with 403.
    const real = await p.http.get('/me').set('X-API-Token', s.serviceKey.token);
    expect({ status: real.status, code: real.body?.code }).toEqual({ status: 403, code: 'forbidden' });
  });

  it('no stored value works as a reset, verification or email-change link, an email code, an mfa_id or a backup code', async () => {
    const p = await prober();
    const values = [...storedStrings(s.dump)].filter((v) => v.length >= 1 && v.length <= 256);
    for (const v of values) {
      for (const path of ['/confirm-password-reset', '/confirm-verification', '/confirm-email-change']) {
        const res = await p.http.post(BASE + path).send({ token: v, password: 'a stored value probe' });
        expect(res.status, `stored value as ${path} token: ${v}`).not.toBe(200);
      }
      expect(
        (await p.http.post(`${BASE}/login/mfa`).send({ mfa_id: v, method: 'backup_code', code: 'zzzzz-zzzzz' })).status,
        `stored value as mfa_id: ${v}`,
      ).toBe(401);
      expect((await p.http.post(`${BASE}/login/mfa`).send({ mfa_id: s.lifecycle.mfaId, method: 'backup_code', code: v.slice(0, 32) })).status).not.toBe(200);
    }
  });

  it('no column of any table contains a password, token, OAuth state, PKCE verifier, provider token or key (nor its hex/base64)', () => {
    expect(Object.keys(s.secrets).length).toBeGreaterThan(20);
    expect(leakedSecrets(s.text, s.secrets), 'secrets found in the dump').toEqual([]);
  });

  it("password hashes are the library's pre-hashed bcrypt ($authlib-hmac-sha256$2...)", () => {
    const hashes = s.dump.users!.map((u) => u.password_hash).filter((h): h is string => typeof h === 'string');
    expect(hashes.length).toBeGreaterThan(0);
    for (const hash of hashes) expect(hash.startsWith('$authlib-hmac-sha256$2')).toBe(true);
  });

  it('no stored value works as a bearer token or X-API-Token (nor api_<id><stored hash>)', async () => {
    const p = await prober();
    // A header can carry only visible ASCII.
    const values = [...storedStrings(s.dump)].filter((v) => /^[\x21-\x7e]{1,4096}$/.test(v));
    const forged = s.dump.api_tokens!.map((r) => `api_${String(r.id)}${String(r.token_hash)}`);
    expect(values.length).toBeGreaterThan(20);
    for (const v of [...values, ...forged]) {
      expect((await p.http.get('/me').set(bearer(v))).status, `stored value as bearer: ${v}`).toBe(401);
      expect((await p.http.get('/me').set('X-API-Token', v)).status, `stored value as X-API-Token: ${v}`).toBe(401);
    }
  });

  it('no stored value works as a refresh token, as the password, or as an OAuth state', async () => {
    const p = await prober();
    const values = [...storedStrings(s.dump)].filter((v) => v.length >= 1 && v.length <= 1024);
    expect(values.length).toBeGreaterThan(20);
    for (const v of values) {
      const refreshed = await p.http.post(`${BASE}/token-refresh`).send({ refresh_token: v });
      expect(refreshed.status, `stored value as refresh_token: ${v}`).toBe(401);
      const loggedIn = await p.http.post(`${BASE}/login`).send({ username: s.username, password: v });
      expect(loggedIn.status, `stored value as password: ${v}`).toBe(401);
      const callback = await p.http.get(`${BASE}/login/oauth2callback`).query({ state: v, code: 'x' }).set('Cookie', s.pendingCookie);
      expect({ status: callback.status, code: callback.body?.code }, `stored value as OAuth state: ${v}`).toEqual({ status: 400, code: 'invalid_state' });
    }
  });

  it('the real secrets do work (so the probes could have succeeded); the pending flow was live and its verifier was not in the dump', async () => {
    const p = await prober();
    expect((await p.http.get('/me').set(bearer(s.oauth.token))).status).toBe(200);
    for (const token of s.apiTokens) expect((await p.http.get('/me').set(bearer(token))).status).toBe(200);
    expect((await p.http.post(`${BASE}/login`).send({ username: s.username, password: s.newPassword })).status).toBe(200);
    expect((await p.http.post(`${BASE}/token-refresh`).send({ refresh_token: s.oauth.refresh_token })).status).toBe(200);

    const finish = await authorizeAt(s.pendingRedirect);
    expect(finish.callbackUrl.searchParams.get('state')).toBe(s.pendingState);
    const finished = await p.http.get(finish.callbackPath).set('Cookie', finish.cookie);
    expect(finished.status, JSON.stringify(finished.body)).toBe(200);
    const verifier = github.lastTokenRequest?.code_verifier;
    expect(verifier).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
    expect(leakedSecrets(s.text, { pendingVerifier: verifier })).toEqual([]);
  });

  it('the live lifecycle secrets do work: the backup code finishes the mfa_id, the code signs in, the reset link resets', async () => {
    const p = await prober();
    // The probes above spent the mfa_id's five tries on wrong codes, so a fresh one is needed.
    const first = await p.http.post(`${BASE}/login`).send({ username: s.lifecycle.username, password: s.newPassword });
    expect((await p.http.post(`${BASE}/login/mfa`).send({ mfa_id: first.body.mfa_id, method: 'backup_code', code: s.lifecycle.backupCode })).status).toBe(200);
    const otp = await p.http.post(`${BASE}/login/otp`).send({ otp_id: s.lifecycle.otpId, code: s.lifecycle.otpCode });
    expect(otp.body.code).toBe('mfa_required');
    expect((await p.http.post(`${BASE}/confirm-password-reset`).send({ token: s.lifecycle.resetToken, password: 'reset after the dump' })).status).toBe(200);
  });
});
