import { describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { bearer, closedAfterEach, PASSWORD, registerUser } from './helpers/app.js';
import { BASE, expectError } from './helpers/endpoints.js';
import { mailbox } from './helpers/mailbox.js';
import { extraInstance } from './helpers/tokens.js';

// Around the account lifecycle: rate limits per address and per target email, impersonation
// tokens kept out of MFA and email change, sessions ended on another instance, option misuse.

const opened = closedAfterEach();
const LOW = { limit: 2, windowSeconds: 60 };
const HIGH = { limit: 1000, windowSeconds: 60 };

describe('rate limits of the new endpoints', () => {
  it('mail requests per address: the third from one address is 429, whatever the target', async () => {
    const box = mailbox();
    const t = await opened.app({ mailer: box.mailer, rateLimit: { mail: LOW, mailTarget: HIGH } });
    const send = (email: string) => t.http.post(`${BASE}/request-password-reset`).send({ email });
    expect((await send('a@example.com')).status).toBe(202);
    expect((await t.http.post(`${BASE}/request-otp`).send({ email: 'b@example.com' })).status).toBe(202);
    const limited = await send('c@example.com');
    expectError(limited, 429, 'rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('mail requests per target email: the third for one address is 429, from any address (spelling folded)', async () => {
    const box = mailbox();
    const t = await opened.app({ mailer: box.mailer, trustProxy: true, rateLimit: { mail: HIGH, mailTarget: LOW } });
    const send = (email: string, ip: string) => t.http.post(`${BASE}/request-verification`).set('X-Forwarded-For', ip).send({ email });
    expect((await send('victim@example.com', '203.0.113.1')).status).toBe(202);
    expect((await send('VICTIM@example.com', '203.0.113.2')).status).toBe(202);
    expectError(await send('victim@example.com', '203.0.113.3'), 429, 'rate_limited');
    expect((await send('someone-else@example.com', '203.0.113.3')).status).toBe(202);
  });

  it('failed codes per address: wrong OTPs count, and past the limit even a right one waits', async () => {
    const box = mailbox();
    const t = await opened.app({ mailer: box.mailer, rateLimit: { code: LOW, mail: HIGH, mailTarget: HIGH } });
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    const otpId = (await t.http.post(`${BASE}/request-otp`).send({ email })).body.otp_id as string;
    const mail = await box.next('otp', email);
    const wrong = mail.code === '000000' ? '111111' : '000000';
    expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: wrong }), 400, 'invalid_code');
    expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: wrong }), 400, 'invalid_code');
    expectError(await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: mail.code }), 429, 'rate_limited');
  });
});

describe('impersonation tokens', () => {
  it('cannot manage MFA or change the email (403 forbidden)', async () => {
    const box = mailbox();
    const t = await opened.app({ mailer: box.mailer });
    const admin = await registerUser(t);
    const u = await registerUser(t);
    await t.auth.users.setRoles(admin.user.id, ['admin', 'user']);
    const { token: impersonating } = await t.auth.users.impersonate(admin.user.id, u.user.id);
    expect((await t.http.get('/me').set(bearer(impersonating))).status).toBe(200);
    expectError(await t.http.get(`${BASE}/mfa`).set(bearer(impersonating)), 403, 'forbidden');
    expectError(await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(impersonating)).send({ password: PASSWORD }), 403, 'forbidden');
    expectError(await t.http.post(`${BASE}/request-email-change`).set(bearer(impersonating)).send({ new_email: 'x@example.com' }), 403, 'forbidden');
  });
});

describe('a reset or an email change ends the sessions on every instance', () => {
  /** The status `token` gets on `other` once it stops working, or after 1 s. */
  async function diesOn(other: Awaited<ReturnType<typeof extraInstance>>, token: string): Promise<number> {
    const deadline = Date.now() + 1000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) status = (await other.http.get('/me').set(bearer(token))).status;
    return status;
  }

  /** Two instances of one deployment, and a user whose token works on the second. */
  async function twoInstances() {
    const box = mailbox();
    const t = await opened.app({ mailer: box.mailer });
    const other = await extraInstance(t.schema, { jwtSecret: t.secret });
    opened.track(() => other.close());
    const u = await registerUser(t);
    expect((await other.http.get('/me').set(bearer(u.token))).status).toBe(200);
    return { box, t, other, u };
  }

  it('the access token dies on another instance as soon as the reset commits', async () => {
    const { box, t, other, u } = await twoInstances();
    await t.http.post(`${BASE}/request-password-reset`).send({ email: `${u.username}@example.com` });
    const mail = await box.next('password_reset', `${u.username}@example.com`);
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password: 'a fresh passphrase' })).status).toBe(200);
    expect(await diesOn(other, u.token)).toBe(401);
  });

  it('the same after an email change', async () => {
    const { box, t, other, u } = await twoInstances();
    const target = `moved_${u.username}@example.com`;
    await t.http.post(`${BASE}/request-email-change`).set(bearer(u.token)).send({ new_email: target });
    const mail = await box.next('email_change', target);
    expect((await t.http.post(`${BASE}/confirm-email-change`).send({ token: mail.token, password: PASSWORD })).status).toBe(200);
    expect(await diesOn(other, u.token)).toBe(401);
  });
});

describe('options', () => {
  const base = { dbDsn: 'pglite://memory', jwtSecret: 'o'.repeat(32) };
  it.each([
    ['mailer', { mailer: 'http://mail.example.com' }],
    ['mailer', { mailer: { deliver: () => undefined } }],
    ['emailLinks.passwordReset', { emailLinks: { passwordReset: 'https://app.example/reset' } }],
    ['emailLinks.other', { emailLinks: { other: 'https://app.example/{token}' } }],
    ['mailTemplates.welcome', { mailTemplates: { welcome: () => ({ subject: '', text: '', html: '' }) } }],
    ['mailTemplates.otp', { mailTemplates: { otp: 'text' } }],
    ['requireEmailVerification', { requireEmailVerification: 'yes' }],
    ['resetTokenExpiry', { resetTokenExpiry: 0 }],
    ['verificationTokenExpiry', { verificationTokenExpiry: 1.5 }],
    ['emailChangeTokenExpiry', { emailChangeTokenExpiry: -1 }],
    ['otp.length', { otp: { length: 3 } }],
    ['otp.maxAttempts', { otp: { maxAttempts: 0 } }],
    ['mfa.required', { mfa: { required: true } }],
    ['mfa.issuer', { mfa: { issuer: '' } }],
  ])('%s: TypeError naming it', (name, extra) => {
    expect(() => new AuthManager(null, { ...base, ...(extra as object) })).toThrow(new RegExp(`\`${name.replace('.', '\\.')}\``));
  });

  it('an smtp:// URL is accepted as the mailer', async () => {
    const auth = new AuthManager(null, { ...base, mailer: 'smtp://user:pass@127.0.0.1:2525?from=no-reply@example.com' });
    await auth.close();
  });
});
