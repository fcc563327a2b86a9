import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, closedAfterEach, createTestApp, PASSWORD, verifiedUser, type TestApp } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';
import { BASE, expectError } from './helpers/endpoints.js';
import { mailbox, type Mailbox } from './helpers/mailbox.js';

// Multi-factor authentication (contract 5.4): TOTP computed here from the secret, backup codes,
// replay, the mfa_id two-step login across password and email OTP, and mfa.required.

let box: Mailbox;
let t: TestApp;
let clockOffset = 0;
const now = () => Date.now() + clockOffset;

beforeAll(async () => {
  box = mailbox();
  t = await createTestApp({ mailer: box.mailer, now: () => new Date(now()) });
});
afterAll(() => t?.close());
const opened = closedAfterEach();

/** The code of `secret` at `at` (ms). */
function totp(secret: string, at = now()): string {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });
}

/** Moves the clock to the next 30 s step, so a new code exists. */
function nextStep(): void {
  clockOffset += 30_000;
}

/** A registered user with TOTP confirmed: its secret and backup codes. */
async function withTotp(s: TestApp = t) {
  const u = await verifiedUser(s);
  const setup = await s.http.post(`${BASE}/mfa/totp/setup`).set(bearer(u.token)).send({ password: PASSWORD });
  expect(setup.status).toBe(200);
  const secret = setup.body.secret as string;
  const confirm = await s.http
    .post(`${BASE}/mfa/totp/confirm`)
    .set(bearer(u.token))
    .send({ code: totp(secret) });
  expect(confirm.status).toBe(200);
  nextStep();
  return { ...u, secret, backupCodes: confirm.body.backup_codes as string[] };
}

async function passwordFirst(s: TestApp, username: string) {
  const res = await s.http.post(`${BASE}/login`).send({ username, password: PASSWORD });
  expect(res.status).toBe(401);
  expect(res.body.code).toBe('mfa_required');
  return res.body as { mfa_id: string; methods: string[]; code: string; status_code: number; error: string };
}

describe('TOTP setup', () => {
  it('setup answers a secret and an otpauth URL; confirm turns MFA on and answers 10 backup codes', async () => {
    const u = await verifiedUser(t);
    const setup = await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(u.token)).send({ password: PASSWORD });
    expect(setup.status).toBe(200);
    expect(setup.headers['cache-control']).toBe('no-store');
    const url = new URL(setup.body.otpauth_url);
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(decodeURIComponent(url.pathname)).toBe(`/express-authlib:${u.username}`);
    expect(url.searchParams.get('secret')).toBe(setup.body.secret);
    expect(url.searchParams.get('issuer')).toBe('express-authlib');
    expect((await t.http.get(`${BASE}/mfa`).set(bearer(u.token))).body).toEqual({ totp: { enabled: false }, backup_codes: { remaining: 0 } });

    expectError(
      await t.http
        .post(`${BASE}/mfa/totp/confirm`)
        .set(bearer(u.token))
        .send({ code: '000000' === totp(setup.body.secret) ? '111111' : '000000' }),
      400,
      'invalid_code',
    );
    const confirm = await t.http
      .post(`${BASE}/mfa/totp/confirm`)
      .set(bearer(u.token))
      .send({ code: totp(setup.body.secret) });
    expect(confirm.status).toBe(200);
    expect(confirm.body.backup_codes).toHaveLength(10);
    expect(new Set(confirm.body.backup_codes).size).toBe(10);
    expect((await t.http.get(`${BASE}/mfa`).set(bearer(u.token))).body).toEqual({ totp: { enabled: true }, backup_codes: { remaining: 10 } });
    expectError(await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(u.token)).send({ password: PASSWORD }), 409, 'conflict');
  });

  it('setup needs the password (401 invalid_credentials), and an access token (API token: 403)', async () => {
    const u = await verifiedUser(t);
    expectError(await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(u.token)).send({ password: 'not my password' }), 401, 'invalid_credentials');
    expectError(await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(u.token)).send({}), 401, 'invalid_credentials');
    const api = await t.http
      .post(`${BASE}/me/api-tokens`)
      .set(bearer(u.token))
      .send({ name: 'x', scopes: ['*'] });
    for (const [method, path] of [
      ['get', '/mfa'],
      ['post', '/mfa/totp/setup'],
      ['post', '/mfa/totp/confirm'],
      ['post', '/mfa/totp/disable'],
      ['post', '/mfa/backup-codes'],
    ] as const) {
      expectError(
        await t.http[method](BASE + path)
          .set('X-API-Token', api.body.token)
          .send({ password: PASSWORD, code: '123456' }),
        403,
        'forbidden',
      );
    }
  });

  it('the secret is stored AES-256-GCM encrypted, backup codes hashed', async () => {
    const u = await withTotp();
    const rows = await rawQuery<Record<string, unknown>>(`select * from "${t.schema}".mfa_totp where user_id = $1`, [u.user.id]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(u.secret);
    expect(String(rows[0]!.secret_enc)).toMatch(/^v2\./);
    const codes = await rawQuery<Record<string, unknown>>(`select * from "${t.schema}".mfa_backup_codes where user_id = $1`, [u.user.id]);
    const text = JSON.stringify(codes).toLowerCase();
    for (const code of u.backupCodes) {
      expect(text).not.toContain(code);
      expect(text).not.toContain(code.replace('-', ''));
    }
  });
});

describe('two-step sign-in', () => {
  it('password, then TOTP: mfa_required with mfa_id and methods, then tokens', async () => {
    const u = await withTotp();
    const first = await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
    expect(first.status).toBe(401);
    expect(Object.keys(first.body as object).sort()).toEqual(['code', 'error', 'methods', 'mfa_id', 'status_code']);
    expect(first.body).toMatchObject({ code: 'mfa_required', status_code: 401 });
    expect(first.body.methods.sort()).toEqual(['backup_code', 'otp', 'totp']);
    expect(first.body.token).toBeUndefined();
    const second = await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: first.body.mfa_id, method: 'totp', code: totp(u.secret) });
    expect(second.status).toBe(200);
    expect((await t.http.get('/me').set(bearer(second.body.token))).status).toBe(200);
    // Single use: a used mfa_id is dead, and the sign-in starts over.
    nextStep();
    expectError(await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: first.body.mfa_id, method: 'totp', code: totp(u.secret) }), 401, 'invalid_code');
  });

  it('a TOTP code accepted once is refused again (replay), within its window', async () => {
    const u = await withTotp();
    const code = totp(u.secret);
    const a = await passwordFirst(t, u.username);
    expect((await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: a.mfa_id, method: 'totp', code })).status).toBe(200);
    const b = await passwordFirst(t, u.username);
    const replay = await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: b.mfa_id, method: 'totp', code });
    expectError(replay, 400, 'invalid_code');
    // Only the message tells the user to wait for the next code rather than retype this one.
    expect(replay.body.error).toMatch(/already used/);
    const right = totp(u.secret);
    const wrong = await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: b.mfa_id, method: 'totp', code: right === '000000' ? '111111' : '000000' });
    expectError(wrong, 400, 'invalid_code');
    expect(wrong.body.error).not.toMatch(/already used/);
  });

  it('one TOTP code sent twice at once opens one sign-in; the other hears it was already used', async () => {
    const u = await withTotp();
    const code = totp(u.secret);
    const [a, b] = await Promise.all([passwordFirst(t, u.username), passwordFirst(t, u.username)]);
    const answers = await Promise.all([a, b].map((m) => t.http.post(`${BASE}/login/mfa`).send({ mfa_id: m.mfa_id, method: 'totp', code })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400]);
    const refused = answers.find((r) => r.status === 400)!;
    expect(refused.body).toMatchObject({ code: 'invalid_code', status_code: 400 });
    expect(refused.body.error).toMatch(/already used/);
  });

  it('turning TOTP off with a code already used says so', async () => {
    const u = await withTotp();
    const code = totp(u.secret);
    const a = await passwordFirst(t, u.username);
    expect((await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: a.mfa_id, method: 'totp', code })).status).toBe(200);
    const off = await t.http.post(`${BASE}/mfa/totp/disable`).set(bearer(u.token)).send({ password: PASSWORD, code });
    expectError(off, 400, 'invalid_code');
    expect(off.body.error).toMatch(/already used/);
  });

  it('one step of skew either way is accepted; two are not', async () => {
    const u = await withTotp();
    const a = await passwordFirst(t, u.username);
    expectError(await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: a.mfa_id, method: 'totp', code: totp(u.secret, now() - 60_000) }), 400, 'invalid_code');
    expect((await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: a.mfa_id, method: 'totp', code: totp(u.secret, now() + 30_000) })).status).toBe(200);
  });

  it('five wrong second factors end the mfa_id', async () => {
    const u = await withTotp();
    const a = await passwordFirst(t, u.username);
    const right = totp(u.secret);
    const bad = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) expectError(await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: a.mfa_id, method: 'totp', code: bad }), 400, 'invalid_code');
    // Dead now, even for the right code (contract 5.4: 401 invalid_code, and the flow restarts).
    expectError(await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: a.mfa_id, method: 'totp', code: right }), 401, 'invalid_code');
  });

  it('the mfa_id expires after 300 s', async () => {
    const u = await withTotp();
    const a = await passwordFirst(t, u.username);
    clockOffset += 301_000;
    expectError(await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: a.mfa_id, method: 'totp', code: totp(u.secret) }), 401, 'invalid_code');
  });

  it('a backup code works once as the second factor', async () => {
    const u = await withTotp();
    const a = await passwordFirst(t, u.username);
    expect((await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: a.mfa_id, method: 'backup_code', code: u.backupCodes[0] })).status).toBe(200);
    const b = await passwordFirst(t, u.username);
    expectError(await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: b.mfa_id, method: 'backup_code', code: u.backupCodes[0] }), 400, 'invalid_code');
    expect((await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: b.mfa_id, method: 'backup_code', code: u.backupCodes[1]!.toUpperCase() })).status).toBe(200);
    const login = await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
    const status = await t.http
      .get(`${BASE}/mfa`)
      .set(bearer((await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: login.body.mfa_id, method: 'totp', code: totp(u.secret) })).body.token));
    expect(status.body.backup_codes.remaining).toBe(8);
    const events = await rawQuery<{ type: string }>(`select type from "${t.schema}".auth_events where user_id = $1 and type = 'backup_code_used'`, [u.user.id]);
    expect(events).toHaveLength(2);
  });

  it("an mfa_id is bound to its user: another user's second factor is refused", async () => {
    const u = await withTotp();
    const v = await withTotp();
    const a = await passwordFirst(t, u.username);
    expectError(await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: a.mfa_id, method: 'totp', code: totp(v.secret) }), 400, 'invalid_code');
    // Nor can the other user's password finish it.
    expectError(await t.http.post(`${BASE}/login`).send({ username: v.username, password: PASSWORD, mfa_id: a.mfa_id }), 400, 'invalid_code');
  });

  it('the first method again is refused: a password cannot finish a password sign-in', async () => {
    const u = await withTotp();
    const a = await passwordFirst(t, u.username);
    expectError(await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD, mfa_id: a.mfa_id }), 400, 'invalid_code');
  });

  it('email OTP as the second factor of a password sign-in', async () => {
    const u = await withTotp();
    const a = await passwordFirst(t, u.username);
    const email = `${u.username}@example.com`;
    const otpId = (await t.http.post(`${BASE}/request-otp`).send({ email })).body.otp_id as string;
    const mail = await box.next('otp', email);
    const done = await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: mail.code, mfa_id: a.mfa_id });
    expect(done.status).toBe(200);
    expect(done.body.user.id).toBe(u.user.id);
  });

  it('email OTP first, then the password as the second factor', async () => {
    const u = await withTotp();
    const email = `${u.username}@example.com`;
    const otpId = (await t.http.post(`${BASE}/request-otp`).send({ email })).body.otp_id as string;
    const mail = await box.next('otp', email);
    const first = await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: mail.code });
    expect(first.body).toMatchObject({ code: 'mfa_required' });
    expect(first.body.methods.sort()).toEqual(['backup_code', 'password', 'totp']);
    const done = await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD, mfa_id: first.body.mfa_id });
    expect(done.status).toBe(200);
  });
});

describe('disable and backup codes', () => {
  it('disable needs the password and a code; afterwards the password alone signs in', async () => {
    const u = await withTotp();
    const a = await passwordFirst(t, u.username);
    const token = (await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: a.mfa_id, method: 'totp', code: totp(u.secret) })).body.token as string;
    nextStep();
    expectError(
      await t.http
        .post(`${BASE}/mfa/totp/disable`)
        .set(bearer(token))
        .send({ password: 'wrong password', code: totp(u.secret) }),
      401,
      'invalid_credentials',
    );
    expectError(await t.http.post(`${BASE}/mfa/totp/disable`).set(bearer(token)).send({ password: PASSWORD, code: 'zzzzz-zzzzz' }), 400, 'invalid_code');
    expect(
      (
        await t.http
          .post(`${BASE}/mfa/totp/disable`)
          .set(bearer(token))
          .send({ password: PASSWORD, code: totp(u.secret) })
      ).body,
    ).toEqual({ success: true });
    expect((await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD })).status).toBe(200);
    expect((await t.http.get(`${BASE}/mfa`).set(bearer(token))).body).toEqual({ totp: { enabled: false }, backup_codes: { remaining: 0 } });
  });

  it('a fresh set of backup codes kills the old ones', async () => {
    const u = await withTotp();
    const a = await passwordFirst(t, u.username);
    const token = (await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: a.mfa_id, method: 'totp', code: totp(u.secret) })).body.token as string;
    const fresh = await t.http.post(`${BASE}/mfa/backup-codes`).set(bearer(token)).send({ password: PASSWORD, code: u.backupCodes[0] });
    expect(fresh.status).toBe(200);
    expect(fresh.body.backup_codes).toHaveLength(10);
    const b = await passwordFirst(t, u.username);
    expectError(await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: b.mfa_id, method: 'backup_code', code: u.backupCodes[1] }), 400, 'invalid_code');
    expect((await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: b.mfa_id, method: 'backup_code', code: fresh.body.backup_codes[0] })).status).toBe(200);
  });
});

describe('mfa.required', () => {
  it('a required user without TOTP gets tokens but only /mfa/*, /login/profile and /logout* work until TOTP is confirmed', async () => {
    const s = await opened.app({ mfa: { required: (user) => user.username.startsWith('must_') } });
    const u = await verifiedUser(s, { username: `must_${Date.now()}` });
    const login = await s.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
    expect(login.status).toBe(200);
    const auth = bearer(login.body.token);
    expectError(await s.http.get('/me').set(auth), 403, 'mfa_setup_required');
    expectError(await s.http.get(`${BASE}/me/api-tokens`).set(auth), 403, 'mfa_setup_required');
    expect((await s.http.get(`${BASE}/login/profile`).set(auth)).status).toBe(200);
    expect((await s.http.get(`${BASE}/mfa`).set(auth)).status).toBe(200);
    const setup = await s.http.post(`${BASE}/mfa/totp/setup`).set(auth).send({ password: PASSWORD });
    expect(
      (
        await s.http
          .post(`${BASE}/mfa/totp/confirm`)
          .set(auth)
          .send({ code: totp(setup.body.secret, Date.now()) })
      ).status,
    ).toBe(200);
    expect((await s.http.get('/me').set(auth)).status).toBe(200);
    // Others are unaffected.
    const other = await verifiedUser(s);
    expect((await s.http.get('/me').set(bearer(other.token))).status).toBe(200);
  });
});

describe('the admin view of a user', () => {
  it('GET /admin/users/{id} reports mfa.totp as it is', async () => {
    const admin = await t.auth.users.create({
      username: `mfaadmin${Date.now()}`,
      email: `mfaadmin${Date.now()}@example.com`,
      password: PASSWORD,
      roles: ['admin', 'user'],
    });
    const adminToken = (await t.http.post(`${BASE}/login`).send({ username: admin.username, password: PASSWORD })).body.token as string;
    const withMfa = await withTotp();
    const without = await verifiedUser(t);
    const view = (id: string) => t.http.get(`${BASE}/admin/users/${id}`).set(bearer(adminToken));
    expect((await view(withMfa.user.id)).body.mfa).toEqual({ totp: true });
    expect((await view(without.user.id)).body.mfa).toEqual({ totp: false });
  });
});
