import express from 'express';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { bearer, closedAfterEach, createTestApp, PASSWORD, type TestApp, verifiedUser } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { databaseOptions, rawQuery } from './helpers/database.js';
import { BASE, expectError, uniqueName } from './helpers/endpoints.js';
import { smtpMailbox, type SmtpMailbox } from './helpers/mailbox.js';
import { awayFromStepEnd } from './helpers/totp-step.js';

// Contract 5.3: every link, code and mfa_id dies when the address or password it was issued for
// changes, by any path: the user, an administrator, the programmatic API, plain SQL, another
// instance. Mail goes over a real SMTP round trip.

const NEW_PASSWORD = 'an entirely new passphrase';
let smtp: SmtpMailbox;
let t: TestApp;
const opened = closedAfterEach();

beforeAll(async () => {
  smtp = await smtpMailbox();
  t = await createTestApp({ mailer: smtp.url });
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

/** A verified user with a live reset link and a live email code, both mailed to its current address. */
async function withOutstanding(app: TestApp = t) {
  const u = await verifiedUser(app);
  const email = `${u.username}@example.com`;
  expect((await app.http.post(`${BASE}/request-password-reset`).send({ email })).status).toBe(202);
  const reset = (await smtp.next('password_reset', email)).token!;
  const otpId = (await app.http.post(`${BASE}/request-otp`).send({ email })).body.otp_id as string;
  const code = (await smtp.next('otp', email)).code!;
  return { ...u, email, reset, otpId, code };
}

async function expectDead(app: TestApp, o: { reset: string; otpId: string; code: string }) {
  expectError(await app.http.post(`${BASE}/confirm-password-reset`).send({ token: o.reset, password: NEW_PASSWORD }), 400, 'invalid_token');
  expectError(await app.http.post(`${BASE}/login/otp`).send({ otp_id: o.otpId, code: o.code }), 400, 'invalid_code');
}

describe('an address change kills what was mailed to the old address', () => {
  it('by an administrator (PATCH /admin/users/{id}): the old reset link and email code no longer work', async () => {
    const o = await withOutstanding();
    const admin = await registerAdmin(t);
    const moved = await t.http
      .patch(`${BASE}/admin/users/${o.user.id}`)
      .set(bearer(admin.token))
      .send({ email: `${uniqueName('moved')}@example.com` });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    await expectDead(t, o);
  });

  it("by the user's own email change: the code and link to the old address no longer work", async () => {
    const o = await withOutstanding();
    const changeTo = `${uniqueName('new')}@example.com`;
    expect((await t.http.post(`${BASE}/request-email-change`).set(bearer(o.token)).send({ new_email: changeTo })).status).toBe(202);
    const link = await smtp.next('email_change', changeTo);
    expect((await t.http.post(`${BASE}/confirm-email-change`).send({ token: link.token, password: PASSWORD })).status).toBe(200);
    await expectDead(t, o);
  });

  it('by the programmatic API (auth.users.update)', async () => {
    const o = await withOutstanding();
    await t.auth.users.update(o.user.id, { email: `${uniqueName('api')}@example.com` });
    await expectDead(t, o);
  });

  it('by plain SQL changing the address alone (email, not email_key): the old reset link and code no longer work', async () => {
    const o = await withOutstanding();
    await rawQuery(`UPDATE "${t.schema}".users SET email = $2 WHERE id = $1`, [o.user.id, `${uniqueName('sql')}@example.com`]);
    await expectDead(t, o);
  });

  it('by plain SQL changing only the case of the address: the links end too (a new one can be asked for)', async () => {
    const o = await withOutstanding();
    await rawQuery(`UPDATE "${t.schema}".users SET email = upper(email) WHERE id = $1`, [o.user.id]);
    await expectDead(t, o);
    expect((await t.http.post(`${BASE}/request-password-reset`).send({ email: o.email })).status).toBe(202);
    const fresh = (await smtp.next('password_reset', o.email.toUpperCase())).token!;
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: fresh, password: NEW_PASSWORD })).status).toBe(200);
  });
});

describe('a password change kills the links, codes and mfa_ids issued before', () => {
  it('a code requested before a reset no longer signs in after it', async () => {
    const o = await withOutstanding();
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: o.reset, password: NEW_PASSWORD })).status).toBe(200);
    expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: o.otpId, code: o.code }), 400, 'invalid_code');
  });

  it("by the user's /change-password: the reset link and code die", async () => {
    const o = await withOutstanding();
    const changed = await t.http.post(`${BASE}/change-password`).set(bearer(o.token)).send({ current_password: PASSWORD, password: NEW_PASSWORD });
    expect(changed.status).toBe(200);
    await expectDead(t, o);
  });

  it("by an administrator's new password (PATCH /admin/users/{id})", async () => {
    const o = await withOutstanding();
    const admin = await registerAdmin(t);
    expect((await t.http.patch(`${BASE}/admin/users/${o.user.id}`).set(bearer(admin.token)).send({ password: NEW_PASSWORD })).status).toBe(200);
    await expectDead(t, o);
  });

  it('by the programmatic API (auth.users.setPassword), as the CLI `user passwd` does', async () => {
    const o = await withOutstanding();
    await t.auth.users.setPassword(o.user.id, NEW_PASSWORD);
    await expectDead(t, o);
  });

  it('by plain SQL: the database itself retires them (the credential version is a trigger)', async () => {
    const o = await withOutstanding();
    await rawQuery(`UPDATE "${t.schema}".users SET password_hash = password_hash || 'x' WHERE id = $1`, [o.user.id]);
    await expectDead(t, o);
  });

  it('on another instance: a password set there kills a link issued here', async () => {
    const o = await withOutstanding();
    const other = new AuthManager(express(), {
      ...(await databaseOptions()),
      dbSchema: t.schema,
      jwtSecret: t.secret,
      bcryptRounds: 4,
      rateLimit: false,
      logger: false,
    });
    opened.track(() => other.close());
    await other.ready;
    await other.users.setPassword(o.user.id, NEW_PASSWORD);
    await expectDead(t, o);
  });

  it('an mfa_id begun with the old password does not complete after a reset', async () => {
    const u = await verifiedUser(t);
    const email = `${u.username}@example.com`;
    const setup = await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(u.token)).send({ password: PASSWORD });
    const secret = OTPAuth.Secret.fromBase32(setup.body.secret as string);
    const code = (at: number) => new OTPAuth.TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });
    await awayFromStepEnd();
    expect(
      (
        await t.http
          .post(`${BASE}/mfa/totp/confirm`)
          .set(bearer(u.token))
          .send({ code: code(Date.now() - 30_000) })
      ).status,
    ).toBe(200);
    const first = await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
    expect(first.body.code).toBe('mfa_required');
    expect((await t.http.post(`${BASE}/request-password-reset`).send({ email })).status).toBe(202);
    const reset = (await smtp.next('password_reset', email)).token;
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: reset, password: NEW_PASSWORD })).status).toBe(200);
    expectError(await t.http.post(`${BASE}/login/mfa`).send({ mfa_id: first.body.mfa_id, method: 'totp', code: code(Date.now()) }), 401, 'invalid_code');
  });
});

describe('one live link or code per purpose and account, under concurrency', () => {
  const live = async (app: TestApp, userId: string, purpose: string) =>
    (await rawQuery(`SELECT id FROM "${app.schema}".one_time_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL`, [userId, purpose])).length;

  it('10 concurrent reset requests leave exactly 1 live link; 3 concurrent code requests leave 1 live code', async () => {
    const app = await opened.app({ mailer: smtp.url });
    const email = `${uniqueName('busy')}@example.com`;
    const mine = await app.auth.users.create({ username: uniqueName('busy'), email, password: PASSWORD, email_verified: true });
    const resets = await Promise.all(Array.from({ length: 10 }, () => app.http.post(`${BASE}/request-password-reset`).send({ email })));
    expect(resets.map((r) => r.status)).toEqual(Array(10).fill(202));
    const codes = await Promise.all(Array.from({ length: 3 }, () => app.http.post(`${BASE}/request-otp`).send({ email })));
    expect(codes.map((r) => r.status)).toEqual(Array(3).fill(202));
    await expect
      .poll(async () => (await rawQuery(`SELECT id FROM "${app.schema}".one_time_tokens WHERE user_id = $1`, [mine.id])).length, { timeout: 8000 })
      .toBe(13);
    expect(await live(app, mine.id, 'password_reset')).toBe(1);
    expect(await live(app, mine.id, 'otp')).toBe(1);
  });
});
