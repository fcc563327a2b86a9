import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';
import { BASE, expectError } from './helpers/endpoints.js';
import { mailbox, type Mailbox } from './helpers/mailbox.js';

// Email one-time codes (contract 5.3): /request-otp and /login/otp, with attempt limits.

let box: Mailbox;
let t: TestApp;
let clockOffset = 0;

beforeAll(async () => {
  box = mailbox();
  t = await createTestApp({ mailer: box.mailer, now: () => new Date(Date.now() + clockOffset) });
});
afterAll(() => t?.close());

async function requestOtp(email: string) {
  const res = await t.http.post(`${BASE}/request-otp`).send({ email });
  expect(res.status).toBe(202);
  expect(Object.keys(res.body as object)).toEqual(['otp_id']);
  return res.body.otp_id as string;
}

const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('email OTP login', () => {
  it('mails a 6-digit code; the code signs in once and marks the email verified', async () => {
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    const otpId = await requestOtp(email);
    const mail = await box.next('otp', email);
    expect(mail.code).toMatch(/^\d{6}$/);
    expect(mail.text).toContain(mail.code);
    expect(mail.text).toMatch(/5 minutes/);
    const login = await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: mail.code });
    expect(login.status).toBe(200);
    expect(login.headers['cache-control']).toBe('no-store');
    expect(login.body.user).toMatchObject({ id: u.user.id, email_verified: true });
    expect((await t.http.get('/me').set(bearer(login.body.token))).status).toBe(200);
    expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: mail.code }), 400, 'invalid_code');
  });

  it('five wrong tries kill the otp_id, even for the right code afterwards', async () => {
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    const otpId = await requestOtp(email);
    const mail = await box.next('otp', email);
    for (let i = 0; i < 5; i++) expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: wrong(mail.code!) }), 400, 'invalid_code');
    expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: mail.code }), 400, 'invalid_code');
  });

  it('four wrong tries still leave the right code usable', async () => {
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    const otpId = await requestOtp(email);
    const mail = await box.next('otp', email);
    for (let i = 0; i < 4; i++) expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: wrong(mail.code!) }), 400, 'invalid_code');
    expect((await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: mail.code })).status).toBe(200);
  });

  it('expires after otp.expiresIn (300 s)', async () => {
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    const otpId = await requestOtp(email);
    const mail = await box.next('otp', email);
    clockOffset = 301_000;
    try {
      expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: mail.code }), 400, 'invalid_code');
    } finally {
      clockOffset = 0;
    }
  });

  it('a newer code replaces the older one', async () => {
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    const first = await requestOtp(email);
    const firstMail = await box.next('otp', email);
    const second = await requestOtp(email);
    const secondMail = await box.next('otp', email);
    expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: first, code: firstMail.code }), 400, 'invalid_code');
    expect((await t.http.post(`${BASE}/login/otp`).send({ otp_id: second, code: secondMail.code })).status).toBe(200);
  });

  it('an unknown email gets a well-formed otp_id that never succeeds', async () => {
    const otpId = await requestOtp('no-such-user@example.com');
    expect(otpId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    for (const code of ['000000', '123456', '999999']) expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code }), 400, 'invalid_code');
    expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: 'not-an-id', code: '123456' }), 400, 'invalid_code');
    expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId }), 400, 'validation_error');
  });

  it('a code of one otp_id does not work with another', async () => {
    const a = await registerUser(t);
    const b = await registerUser(t);
    const aId = await requestOtp(`${a.username}@example.com`);
    const aMail = await box.next('otp', `${a.username}@example.com`);
    const bId = await requestOtp(`${b.username}@example.com`);
    await box.next('otp', `${b.username}@example.com`);
    expect(aId).not.toBe(bId);
    expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: bId, code: aMail.code }), 400, 'invalid_code');
  });

  it('the code is not stored: only a keyed hash', async () => {
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    await requestOtp(email);
    const mail = await box.next('otp', email);
    const rows = await rawQuery<Record<string, unknown>>(`select * from "${t.schema}".one_time_tokens where user_id = $1 and purpose = 'otp'`, [u.user.id]);
    expect(JSON.stringify(rows)).not.toContain(mail.code);
  });

  it('/auth-methods reports otp enabled with a mailer', async () => {
    expect((await t.http.get(`${BASE}/auth-methods`)).body).toMatchObject({ password: { enabled: true }, otp: { enabled: true }, mfa: { enabled: true } });
  });
});
