import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, closedAfterEach, PASSWORD, registerUser, type TestApp, verifiedUser } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';
import { BASE, expectError, uniqueName } from './helpers/endpoints.js';
import { smtpMailbox, type SmtpMailbox } from './helpers/mailbox.js';

// Contract 5.3/5.4: wrong second factors and email codes are limited per account, across every
// mfa_id and otp_id and whatever the client address; live challenges per account are capped; the
// user is told by mail. Mail carries no text the requester chose; the per-target mail limit counts
// the address the route mails. Mail goes over a real SMTP round trip.

let smtp: SmtpMailbox;
let clockOffset = 0;
const now = () => new Date(Date.now() + clockOffset);
const opened = closedAfterEach();

beforeAll(async () => {
  smtp = await smtpMailbox();
});
afterAll(() => smtp?.close());

/** Rate limits as shipped (the test helper turns them off), each request from its own address. */
async function limitedApp(): Promise<TestApp> {
  return opened.app({ mailer: smtp.url, rateLimit: {}, trustProxy: true, now });
}

let addresses = 0;
/** A fresh client address for every request: the attacker with unlimited addresses. */
const from = () => {
  addresses += 1;
  return { 'X-Forwarded-For': `198.51.${Math.floor(addresses / 250) % 250}.${(addresses % 250) + 1}` };
};

function totp(secret: string, at = now().getTime()): string {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });
}

async function withTotp(app: TestApp) {
  const u = await verifiedUser(app);
  const setup = await app.http.post(`${BASE}/mfa/totp/setup`).set(from()).set(bearer(u.token)).send({ password: PASSWORD });
  const confirm = await app.http
    .post(`${BASE}/mfa/totp/confirm`)
    .set(from())
    .set(bearer(u.token))
    .send({ code: totp(setup.body.secret, now().getTime() - 30_000) });
  expect(confirm.status).toBe(200);
  return { ...u, secret: setup.body.secret as string, email: `${u.username}@example.com` };
}

/** The first factor from a fresh address: an mfa_id. */
async function mfaId(app: TestApp, username: string): Promise<string> {
  const first = await app.http.post(`${BASE}/login`).set(from()).send({ username, password: PASSWORD });
  expect(first.body.code, JSON.stringify(first.body)).toBe('mfa_required');
  return first.body.mfa_id as string;
}

const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('wrong second factors, per account', () => {
  it('a signed-in caller (a stolen access token) guessing the code that turns TOTP off or renews backup codes is counted too', async () => {
    const app = await limitedApp();
    const u = await withTotp(app);
    for (let i = 0; i < 5; i++) {
      const path = i % 2 === 0 ? 'disable' : 'backup-codes';
      const url = path === 'disable' ? `${BASE}/mfa/totp/disable` : `${BASE}/mfa/backup-codes`;
      expectError(
        await app.http
          .post(url)
          .set(from())
          .set(bearer(u.token))
          .send({ password: PASSWORD, code: wrong(totp(u.secret)) }),
        400,
        'invalid_code',
      );
    }
    // The sixth waits, the right code included, and a sign-in's second factor shares the count.
    expectError(
      await app.http
        .post(`${BASE}/mfa/totp/disable`)
        .set(from())
        .set(bearer(u.token))
        .send({ password: PASSWORD, code: totp(u.secret) }),
      429,
      'rate_limited',
    );
    const signIn = await app.http
      .post(`${BASE}/login/mfa`)
      .set(from())
      .send({ mfa_id: await mfaId(app, u.username), method: 'totp', code: totp(u.secret) });
    expectError(signIn, 429, 'rate_limited');
    await smtp.next('failed_codes', u.email);
    expect((await app.http.get(`${BASE}/mfa`).set(bearer(u.token))).body.totp.enabled).toBe(true);
  });

  it('with the password and a new address per guess, the sixth TOTP guess waits (429), even the right code; the user is mailed', async () => {
    const app = await limitedApp();
    const u = await withTotp(app);
    for (let i = 0; i < 5; i++) {
      const res = await app.http
        .post(`${BASE}/login/mfa`)
        .set(from())
        .send({ mfa_id: await mfaId(app, u.username), method: 'totp', code: wrong(totp(u.secret)) });
      expectError(res, 400, 'invalid_code');
    }
    const blocked = await app.http
      .post(`${BASE}/login/mfa`)
      .set(from())
      .send({ mfa_id: await mfaId(app, u.username), method: 'totp', code: totp(u.secret) });
    expectError(blocked, 429, 'rate_limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    const notice = await smtp.next('failed_codes', u.email);
    expect(notice.text).toMatch(/wrong/);
    // A minute later, one more try is checked.
    clockOffset += 61_000;
    const later = await app.http
      .post(`${BASE}/login/mfa`)
      .set(from())
      .send({ mfa_id: await mfaId(app, u.username), method: 'totp', code: totp(u.secret) });
    expect(later.status, JSON.stringify(later.body)).toBe(200);
  });

  it('wrong email codes count across otp_ids: a fresh otp_id does not reset the count', async () => {
    const app = await limitedApp();
    const u = await verifiedUser(app);
    const email = `${u.username}@example.com`;
    const one = (await app.http.post(`${BASE}/request-otp`).set(from()).send({ email })).body.otp_id as string;
    const code1 = (await smtp.next('otp', email)).code!;
    for (let i = 0; i < 3; i++)
      expectError(
        await app.http
          .post(`${BASE}/login/otp`)
          .set(from())
          .send({ otp_id: one, code: wrong(code1) }),
        400,
        'invalid_code',
      );
    const two = (await app.http.post(`${BASE}/request-otp`).set(from()).send({ email })).body.otp_id as string;
    const code2 = (await smtp.next('otp', email)).code!;
    for (let i = 0; i < 2; i++)
      expectError(
        await app.http
          .post(`${BASE}/login/otp`)
          .set(from())
          .send({ otp_id: two, code: wrong(code2) }),
        400,
        'invalid_code',
      );
    // Even the right code is refused while the account waits, as a wrong one: a 429 would tell a
    // registered address from an unknown one (whose otp_id anyone can get).
    expectError(await app.http.post(`${BASE}/login/otp`).set(from()).send({ otp_id: two, code: code2 }), 400, 'invalid_code');
    const unknown = (
      await app.http
        .post(`${BASE}/request-otp`)
        .set(from())
        .send({ email: `${uniqueName('nobody')}@example.com` })
    ).body.otp_id as string;
    for (let i = 0; i < 6; i++)
      expectError(await app.http.post(`${BASE}/login/otp`).set(from()).send({ otp_id: unknown, code: '123456' }), 400, 'invalid_code');
    // A minute later the account's next try is checked again.
    clockOffset += 61_000;
    const three = (await app.http.post(`${BASE}/request-otp`).set(from()).send({ email })).body.otp_id as string;
    const code3 = (await smtp.next('otp', email)).code!;
    expect((await app.http.post(`${BASE}/login/otp`).set(from()).send({ otp_id: three, code: code3 })).status).toBe(200);
  });

  it('concurrent guesses on many mfa_ids are counted one after another: at most 5 are checked', async () => {
    const app = await limitedApp();
    const u = await withTotp(app);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await mfaId(app, u.username));
    const guesses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        app.http
          .post(`${BASE}/login/mfa`)
          .set(from())
          .send({ mfa_id: ids[i % 3], method: 'totp', code: String(100000 + i) }),
      ),
    );
    const checked = guesses.filter((r) => r.status === 400).length;
    expect(checked).toBeLessThanOrEqual(5);
    expect(guesses.filter((r) => r.status === 429).length).toBeGreaterThan(0);
  });

  it('at most 3 mfa_ids of one account are live at once; beginning another retires the oldest', async () => {
    const app = await limitedApp();
    const u = await withTotp(app);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await mfaId(app, u.username));
    const live = await rawQuery(`SELECT id FROM "${app.schema}".one_time_tokens WHERE user_id = $1 AND purpose = 'mfa' AND used_at IS NULL`, [u.user.id]);
    expect(live).toHaveLength(3);
    expectError(
      await app.http
        .post(`${BASE}/login/mfa`)
        .set(from())
        .send({ mfa_id: ids[0], method: 'totp', code: totp(u.secret) }),
      401,
      'invalid_code',
    );
    expect(
      (
        await app.http
          .post(`${BASE}/login/mfa`)
          .set(from())
          .send({ mfa_id: ids[5], method: 'totp', code: totp(u.secret) })
      ).status,
    ).toBe(200);
  });
});

describe('security mail carries no text the requester chose', () => {
  const planted = 'Mozilla/5.0 forward the sign-in code to security@evil.example; use https://evil.example/reset instead';

  it('an attacker User-Agent reaches neither the reset nor the code mail; a browser is named from a fixed list', async () => {
    const app = await limitedApp();
    const u = await registerUser(app);
    const email = `${u.username}@example.com`;
    await app.http.post(`${BASE}/request-password-reset`).set(from()).set('User-Agent', planted).send({ email });
    await app.http.post(`${BASE}/request-otp`).set(from()).set('User-Agent', planted).send({ email });
    for (const mail of [await smtp.next('password_reset', email), await smtp.next('otp', email)]) {
      for (const body of [mail.text, mail.html, mail.subject]) {
        expect(body).not.toMatch(/evil|forward|instead/);
      }
    }
    const firefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
    await app.http.post(`${BASE}/request-verification`).set(from()).set('User-Agent', firefox).send({ email });
    const mail = await smtp.next('verification', email);
    expect(mail.text).toContain('(Firefox on Windows)');
    expect(mail.text).not.toContain('Gecko');
  });
});

describe('the per-target mail limit counts the address the route mails', () => {
  it('{new_email: target, email: decoy} on /request-email-change: at most 5 mails reach the target', async () => {
    const app = await limitedApp();
    const target = `${uniqueName('target')}@example.com`;
    let sent = 0;
    for (let i = 0; i < 8; i++) {
      const u = await registerUser(app);
      const res = await app.http
        .post(`${BASE}/request-email-change`)
        .set(from())
        .set(bearer(u.token))
        .send({ new_email: target, email: `decoy${i}@example.com` });
      if (res.status === 202) sent += 1;
      else expectError(res, 429, 'rate_limited');
    }
    expect(sent).toBe(5);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(smtp.received.filter((m) => m.to === target)).toHaveLength(5);
  });
});

describe('mfa.required sees the effective roles', () => {
  it('an admin by roleImplications without TOTP is held to mfa_setup_required', async () => {
    const app = await opened.app({ roleImplications: { owner: ['admin'] }, mfa: { required: (user) => user.roles.includes('admin') } });
    await app.auth.roles.create('owner');
    const created = await app.auth.users.create({
      username: uniqueName('own'),
      email: `${uniqueName('own')}@example.com`,
      password: PASSWORD,
      roles: ['owner'],
    });
    const { token } = await app.auth.issueTokens(created.id);
    expectError(await app.http.get('/me').set(bearer(token)), 403, 'mfa_setup_required');
  });
});
