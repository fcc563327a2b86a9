import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { bearer, closedAfterEach, registerUser, type TestApp } from './helpers/app.js';
import { databaseOptions } from './helpers/database.js';
import { BASE } from './helpers/endpoints.js';
import { smtpMailbox, type SmtpMailbox } from './helpers/mailbox.js';
import { decodeJwt } from './helpers/tokens.js';

// What a mail says, through the real SMTP round trip: the app's name (its own option, apart from
// the JWT issuer) and lifetimes as a person says them.

let smtp: SmtpMailbox;
const opened = closedAfterEach();

beforeAll(async () => {
  smtp = await smtpMailbox();
});
afterAll(() => smtp?.close());

async function reset(t: TestApp, email: string) {
  expect((await t.http.post(`${BASE}/request-password-reset`).send({ email })).status).toBe(202);
  return smtp.next('password_reset', email);
}

describe('appName', () => {
  it('names the app in mails while the JWT iss stays the issuer', async () => {
    const t = await opened.app({ mailer: smtp.url, issuer: 'notes-prod', appName: 'Acme Notes' });
    const u = await registerUser(t);
    const mail = await reset(t, `${u.username}@example.com`);
    expect(mail.subject).toBe('Acme Notes: reset your password');
    expect(mail.text).not.toContain('notes-prod');
    expect(decodeJwt(u.token).payload.iss).toBe('notes-prod');
    // Renaming the app in mails is not renaming the issuer: the token still opens the app.
    expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(200);
  });

  it('defaults to the issuer, as before', async () => {
    const t = await opened.app({ mailer: smtp.url, issuer: 'notes-prod' });
    const u = await registerUser(t);
    expect((await reset(t, `${u.username}@example.com`)).subject).toBe('notes-prod: reset your password');
  });

  it('is checked like every option', async () => {
    const database = await databaseOptions();
    expect(() => new AuthManager(null, { ...database, jwtSecret: 'a'.repeat(32), appName: 5 as never })).toThrow(/appName/);
  });
});

describe('lifetimes in mails', () => {
  it('read as minutes, hours or days, not thousands of minutes', async () => {
    const t = await opened.app({ mailer: smtp.url, resetTokenExpiry: 3600, verificationTokenExpiry: 86_400, emailChangeTokenExpiry: 5400 });
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    expect((await reset(t, email)).text).toMatch(/It works once, for 1 hour \(until /);
    expect((await t.http.post(`${BASE}/request-verification`).send({ email })).status).toBe(202);
    const verification = await smtp.next('verification', email);
    expect(verification.text).toMatch(/It works once, for 24 hours \(until /);
    expect(verification.text).not.toMatch(/1440/);
    expect(
      (
        await t.http
          .post(`${BASE}/request-email-change`)
          .set(bearer(u.token))
          .send({ new_email: `new-${email}`, password: u.password })
      ).status,
    ).toBe(202);
    expect((await smtp.next('email_change', `new-${email}`)).text).toMatch(/It works once, for 1 hour 30 minutes \(until /);
  });

  it('a short one stays in minutes, and several days read as days', async () => {
    const t = await opened.app({ mailer: smtp.url, resetTokenExpiry: 300, verificationTokenExpiry: 7 * 86_400 });
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    expect((await reset(t, email)).text).toMatch(/It works once, for 5 minutes \(until /);
    expect((await t.http.post(`${BASE}/request-verification`).send({ email })).status).toBe(202);
    expect((await smtp.next('verification', email)).text).toMatch(/It works once, for 7 days \(until /);
  });
});
