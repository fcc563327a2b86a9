import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, closedAfterEach, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';
import { BASE, expectError } from './helpers/endpoints.js';
import { mailbox, type Mailbox } from './helpers/mailbox.js';

// Contract 5.3 through HTTP: password reset, email verification and email change by mail, with
// single-use, expiring, hashed link tokens, and every login ended by a reset or an email change.

const NEW_PASSWORD = 'a brand new passphrase';
let box: Mailbox;
let t: TestApp;
let clockOffset = 0;

beforeAll(async () => {
  box = mailbox();
  t = await createTestApp({ mailer: box.mailer, now: () => new Date(Date.now() + clockOffset) });
});
afterAll(() => t?.close());
const opened = closedAfterEach();

async function requestReset(email: string) {
  const res = await t.http.post(`${BASE}/request-password-reset`).send({ email });
  expect({ status: res.status, body: res.body }).toEqual({ status: 202, body: { success: true } });
  return box.next('password_reset', email);
}

describe('password reset', () => {
  it('mails a token; confirming sets the new password, verifies the email and ends every login and token', async () => {
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    const api = await t.http.post(`${BASE}/me/api-tokens`).set(bearer(u.token)).send({ name: 'ci' });
    const mail = await requestReset(email);
    expect(mail).toMatchObject({ kind: 'password_reset', to: email, user: { id: u.user.id, username: u.username } });
    expect(mail.token).toMatch(/^[0-9A-Za-z]{43}$/);
    expect(mail.url).toBeUndefined();
    expect(mail.text).toContain(mail.token);
    expect(mail.text).toMatch(/30 minutes/);
    expect(mail.text).toMatch(/This was requested at /);

    const ok = await t.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password: NEW_PASSWORD });
    expect({ status: ok.status, body: ok.body }).toEqual({ status: 200, body: { success: true } });

    expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(401);
    expect((await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: u.refresh_token })).status).toBe(401);
    expectError(await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD }), 401, 'invalid_credentials');
    const login = await t.http.post(`${BASE}/login`).send({ username: u.username, password: NEW_PASSWORD });
    expect(login.status).toBe(200);
    expect(login.body.user.email_verified).toBe(true);
    // Account recovery ends the API tokens too: whoever had the account may have minted some.
    expect((await t.http.get('/me').set('X-API-Token', api.body.token)).status).toBe(401);
    expect((await t.http.get(`${BASE}/me/api-tokens`).set(bearer(login.body.token))).body).toEqual([]);
  });

  it('the token is single use', async () => {
    const u = await registerUser(t);
    const mail = await requestReset(`${u.username}@example.com`);
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password: NEW_PASSWORD })).status).toBe(200);
    expectError(await t.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password: 'yet another passphrase' }), 400, 'invalid_token', [
      mail.token!,
    ]);
  });

  it('concurrent confirmations: exactly one wins', async () => {
    const u = await registerUser(t);
    const mail = await requestReset(`${u.username}@example.com`);
    const results = await Promise.all(
      ['first passphrase x', 'second passphrase y', 'third passphrase z'].map((password) =>
        t.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400]);
  });

  it('expires after resetTokenExpiry (1800 s)', async () => {
    const u = await registerUser(t);
    const mail = await requestReset(`${u.username}@example.com`);
    clockOffset = 1801 * 1000;
    try {
      expectError(await t.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password: NEW_PASSWORD }), 400, 'invalid_token');
    } finally {
      clockOffset = 0;
    }
    const fresh = await requestReset(`${u.username}@example.com`);
    clockOffset = 1799 * 1000;
    try {
      expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: fresh.token, password: NEW_PASSWORD })).status).toBe(200);
    } finally {
      clockOffset = 0;
    }
  });

  it('a newer request replaces the older token', async () => {
    const u = await registerUser(t);
    const first = await requestReset(`${u.username}@example.com`);
    const second = await requestReset(`${u.username}@example.com`);
    expectError(await t.http.post(`${BASE}/confirm-password-reset`).send({ token: first.token, password: NEW_PASSWORD }), 400, 'invalid_token');
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: second.token, password: NEW_PASSWORD })).status).toBe(200);
  });

  it('a reset also ends an outstanding email-change link', async () => {
    const u = await registerUser(t);
    const target = `moved_${u.username}@example.com`;
    expect((await t.http.post(`${BASE}/request-email-change`).set(bearer(u.token)).send({ new_email: target })).status).toBe(202);
    const change = await box.next('email_change', target);
    const mail = await requestReset(`${u.username}@example.com`);
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password: NEW_PASSWORD })).status).toBe(200);
    expectError(await t.http.post(`${BASE}/confirm-email-change`).send({ token: change.token, password: NEW_PASSWORD }), 400, 'invalid_token');
  });

  it('an unknown email gets the same answer and no mail; so does a malformed token at confirm', async () => {
    const b = mailbox();
    const s = await createTestApp({ mailer: b.mailer });
    const known = await registerUser(s);
    const unknownAnswer = await s.http.post(`${BASE}/request-password-reset`).send({ email: 'nobody-here@example.com' });
    const knownAnswer = await s.http.post(`${BASE}/request-password-reset`).send({ email: `${known.username}@example.com` });
    const shape = (r: typeof knownAnswer) => ({
      status: r.status,
      body: r.body as unknown,
      type: r.headers['content-type'],
      length: r.headers['content-length'],
    });
    expect(shape(unknownAnswer)).toEqual(shape(knownAnswer));
    await s.close(); // waits for the mail sent after the answers
    expect(b.messages.map((m) => m.to)).toEqual([`${known.username}@example.com`]);
    for (const token of ['x', 'A'.repeat(43), 'not a token at all!']) {
      expectError(await t.http.post(`${BASE}/confirm-password-reset`).send({ token, password: NEW_PASSWORD }), 400, 'invalid_token');
    }
  });

  it('the new password follows the password policy (and the token stays usable)', async () => {
    const u = await registerUser(t);
    const mail = await requestReset(`${u.username}@example.com`);
    const weak = await t.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password: 'password' });
    expectError(weak, 400, 'validation_error');
    expect(Object.keys(weak.body.fields)).toEqual(['password']);
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password: NEW_PASSWORD })).status).toBe(200);
  });

  it('400 validation_error for a missing email or token', async () => {
    expectError(await t.http.post(`${BASE}/request-password-reset`).send({}), 400, 'validation_error');
    expectError(await t.http.post(`${BASE}/request-password-reset`).send({ email: 'not an email' }), 400, 'validation_error');
    expectError(await t.http.post(`${BASE}/confirm-password-reset`).send({ password: NEW_PASSWORD }), 400, 'validation_error');
  });

  it('the token is stored only as its SHA-256', async () => {
    const u = await registerUser(t);
    const mail = await requestReset(`${u.username}@example.com`);
    const rows = await rawQuery<{ token_hash: string }>(`select token_hash from "${t.schema}".one_time_tokens where user_id = $1`, [u.user.id]);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.token_hash).not.toContain(mail.token!);
    const { createHash } = await import('node:crypto');
    expect(rows.map((r) => r.token_hash)).toContain(createHash('sha256').update(mail.token!).digest('hex'));
  });
});

describe('email verification', () => {
  it('mails an unverified address; confirming marks it verified, once', async () => {
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    expect((await t.http.post(`${BASE}/request-verification`).send({ email })).status).toBe(202);
    const mail = await box.next('verification', email);
    const ok = await t.http.post(`${BASE}/confirm-verification`).send({ token: mail.token });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ success: true, user: { id: u.user.id, email_verified: true } });
    expectError(await t.http.post(`${BASE}/confirm-verification`).send({ token: mail.token }), 400, 'invalid_token');
    expect((await t.http.get(`${BASE}/login/profile`).set(bearer(u.token))).body.user.email_verified).toBe(true);
  });

  it('mails nobody for an unknown or already verified address, with the same answer', async () => {
    const b = mailbox();
    const s = await createTestApp({ mailer: b.mailer });
    const verified = await s.auth.users.create({ username: `ver_${Date.now()}`, email: `ver${Date.now()}@example.com`, email_verified: true });
    const answers = await Promise.all(
      [verified.email!, 'unknown-person@example.com'].map((email) => s.http.post(`${BASE}/request-verification`).send({ email })),
    );
    expect(answers.map((r) => [r.status, r.body])).toEqual([
      [202, { success: true }],
      [202, { success: true }],
    ]);
    await s.close();
    expect(b.messages).toEqual([]);
  });

  it('requireEmailVerification: register mails a link, /login refuses with 403 email_not_verified until it is followed', async () => {
    const b = mailbox();
    const s = await opened.app({ mailer: b.mailer, requireEmailVerification: true });
    const u = await registerUser(s);
    const email = `${u.username}@example.com`;
    const mail = await b.next('verification', email);
    expectError(await s.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD }), 403, 'email_not_verified');
    // A wrong password stays the usual 401: the verification state is told only to whoever knows the password.
    expectError(await s.http.post(`${BASE}/login`).send({ username: u.username, password: 'wrong password here' }), 401, 'invalid_credentials');
    expect((await s.http.post(`${BASE}/confirm-verification`).send({ token: mail.token })).status).toBe(200);
    expect((await s.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD })).status).toBe(200);
  });

  it('expires after verificationTokenExpiry (86400 s)', async () => {
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    await t.http.post(`${BASE}/request-verification`).send({ email });
    const mail = await box.next('verification', email);
    clockOffset = 86_401_000;
    try {
      expectError(await t.http.post(`${BASE}/confirm-verification`).send({ token: mail.token }), 400, 'invalid_token');
    } finally {
      clockOffset = 0;
    }
  });

  it('emailLinks builds the url; mailTemplates replaces the text', async () => {
    const b = mailbox();
    const s = await opened.app({
      mailer: b.mailer,
      emailLinks: { verification: 'https://app.example/verify#token={token}' },
      mailTemplates: { verification: (d) => ({ subject: `Hi ${d.user.username}`, text: `go to ${d.url ?? ''}`, html: `<a href="${d.url ?? ''}">go</a>` }) },
    });
    const u = await registerUser(s);
    await s.http.post(`${BASE}/request-verification`).send({ email: `${u.username}@example.com` });
    const mail = await b.next('verification', `${u.username}@example.com`);
    expect(mail.url).toBe(`https://app.example/verify#token=${mail.token}`);
    expect(mail.subject).toBe(`Hi ${u.username}`);
    expect(mail.text).toBe(`go to ${mail.url}`);
  });
});

describe('email change', () => {
  it('mails the new address; confirming with the password moves the account, verifies it, notifies the old address and ends every login', async () => {
    const u = await registerUser(t);
    const old = `${u.username}@example.com`;
    const target = `new_${u.username}@example.org`;
    expect((await t.http.post(`${BASE}/request-email-change`).set(bearer(u.token)).send({ new_email: target })).status).toBe(202);
    const mail = await box.next('email_change', target);
    expectError(await t.http.post(`${BASE}/confirm-email-change`).send({ token: mail.token, password: 'not the password' }), 401, 'invalid_credentials');
    expectError(await t.http.post(`${BASE}/confirm-email-change`).send({ token: mail.token }), 401, 'invalid_credentials');
    const ok = await t.http.post(`${BASE}/confirm-email-change`).send({ token: mail.token, password: PASSWORD });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ success: true, user: { email: target, email_verified: true } });
    const notice = await box.next('email_changed', old);
    expect(notice.text).toContain(target);
    expect(notice.token).toBeUndefined();
    expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(401);
    expect((await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: u.refresh_token })).status).toBe(401);
    expect((await t.http.post(`${BASE}/login`).send({ username: target, password: PASSWORD })).status).toBe(200);
    expectError(await t.http.post(`${BASE}/confirm-email-change`).send({ token: mail.token, password: PASSWORD }), 400, 'invalid_token');
  });

  it('expires after emailChangeTokenExpiry (3600 s); a newer request replaces the older link', async () => {
    const u = await registerUser(t);
    const first = `first_${u.username}@example.com`;
    const second = `second_${u.username}@example.com`;
    await t.http.post(`${BASE}/request-email-change`).set(bearer(u.token)).send({ new_email: first });
    const firstMail = await box.next('email_change', first);
    await t.http.post(`${BASE}/request-email-change`).set(bearer(u.token)).send({ new_email: second });
    const secondMail = await box.next('email_change', second);
    expectError(await t.http.post(`${BASE}/confirm-email-change`).send({ token: firstMail.token, password: PASSWORD }), 400, 'invalid_token');
    clockOffset = 3_601_000;
    try {
      expectError(await t.http.post(`${BASE}/confirm-email-change`).send({ token: secondMail.token, password: PASSWORD }), 400, 'invalid_token');
    } finally {
      clockOffset = 0;
    }
  });

  it('409 conflict when the new address is taken; 400 when it is already the account email', async () => {
    const u = await registerUser(t);
    const other = await registerUser(t);
    expectError(
      await t.http
        .post(`${BASE}/request-email-change`)
        .set(bearer(u.token))
        .send({ new_email: `${other.username.toUpperCase()}@example.com` }),
      409,
      'conflict',
    );
    expectError(
      await t.http
        .post(`${BASE}/request-email-change`)
        .set(bearer(u.token))
        .send({ new_email: `${u.username}@example.com` }),
      400,
      'validation_error',
    );
  });

  it('the address taken between request and confirm: 409 conflict, nothing changes', async () => {
    const u = await registerUser(t);
    const target = `race_${u.username}@example.com`;
    await t.http.post(`${BASE}/request-email-change`).set(bearer(u.token)).send({ new_email: target });
    const mail = await box.next('email_change', target);
    await registerUser(t, { email: target });
    expectError(await t.http.post(`${BASE}/confirm-email-change`).send({ token: mail.token, password: PASSWORD }), 409, 'conflict');
    expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(200);
  });

  it('needs an access token: an API token gets 403, no token 401', async () => {
    const u = await registerUser(t);
    const api = await t.http
      .post(`${BASE}/me/api-tokens`)
      .set(bearer(u.token))
      .send({ name: 'x', scopes: ['*'] });
    expectError(await t.http.post(`${BASE}/request-email-change`).set('X-API-Token', api.body.token).send({ new_email: 'z@example.com' }), 403, 'forbidden');
    expectError(await t.http.post(`${BASE}/request-email-change`).send({ new_email: 'z@example.com' }), 401, 'unauthorized');
  });

  it('a password-less account confirms signed in (its access token), not with the token alone', async () => {
    const created = await t.auth.users.create({ username: `nopw_${Date.now()}`, email: `nopw${Date.now()}@example.com` });
    const { token } = await t.auth.issueTokens(created.id);
    const target = `nopw_new_${Date.now()}@example.com`;
    expect((await t.http.post(`${BASE}/request-email-change`).set(bearer(token)).send({ new_email: target })).status).toBe(202);
    const mail = await box.next('email_change', target);
    expectError(await t.http.post(`${BASE}/confirm-email-change`).send({ token: mail.token }), 401, 'unauthorized');
    expect((await t.http.post(`${BASE}/confirm-email-change`).set(bearer(token)).send({ token: mail.token })).body.user.email).toBe(target);
  });
});

describe('without a mailer', () => {
  it('the four request endpoints answer 501 not_configured, and /auth-methods says otp: false', async () => {
    const s = await opened.app();
    const u = await registerUser(s);
    for (const path of ['/request-password-reset', '/request-verification', '/request-otp']) {
      expectError(await s.http.post(BASE + path).send({ email: 'a@example.com' }), 501, 'not_configured');
    }
    expectError(await s.http.post(`${BASE}/request-email-change`).set(bearer(u.token)).send({ new_email: 'b@example.com' }), 501, 'not_configured');
    expect((await s.http.get(`${BASE}/auth-methods`)).body).toMatchObject({ otp: { enabled: false }, mfa: { enabled: true } });
    expect((await t.http.get(`${BASE}/auth-methods`)).body).toMatchObject({ otp: { enabled: true } });
  });
});

describe('a failing mailer', () => {
  it('is logged without the token and audited, never a 500', async () => {
    const logged: unknown[] = [];
    const log = (...args: unknown[]) => void logged.push(args);
    const s = await opened.app({
      mailer: { send: () => Promise.reject(new Error('SMTP 421 try later')) },
      logger: { info: log, warn: log, error: log, debug: log },
    });
    const u = await registerUser(s);
    expect((await s.http.post(`${BASE}/request-password-reset`).send({ email: `${u.username}@example.com` })).status).toBe(202);
    await s.auth.close(); // waits for the background mail
    const text = JSON.stringify(logged);
    expect(text).toContain('sending mail failed');
    const tokens = await rawQuery<{ n: number }>(`select count(*)::int as n from "${s.schema}".one_time_tokens`);
    expect(tokens[0]!.n).toBe(1);
    const events = await rawQuery<{ type: string; data: unknown }>(`select type, data from "${s.schema}".auth_events where type = 'mail_failed'`);
    expect(events).toEqual([{ type: 'mail_failed', data: { kind: 'password_reset' } }]);
    expect(text).not.toMatch(/[0-9A-Za-z]{43}/);
  });
});
