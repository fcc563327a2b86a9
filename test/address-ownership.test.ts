import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, closedAfterEach, createTestApp, PASSWORD, registerUser, type TestApp, verifiedUser } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';
import { BASE, expectError, uniqueName } from './helpers/endpoints.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { startFakeGoogle, type FakeGoogle } from './helpers/fake-google.js';
import { smtpMailbox, type SmtpMailbox } from './helpers/mailbox.js';
import { authorizeAt, rememberBrowser } from './helpers/oauth-browser.js';
import { accountRows } from './helpers/oauth-db.js';
import { awayFromStepEnd } from './helpers/totp-step.js';

// Contract 5.3, "Ownership": pre-account hijacking (Sudhodanan and Paverd, USENIX Security 2022).
// A squatter registers the victim's address; nothing he sets up may survive the victim proving
// the address, and the victim's provider sign-in never lands in an account whose password he holds.
// Mail goes over a real SMTP round trip.

const PUBLIC_URL = 'http://app.test';
const CALLBACK = `${PUBLIC_URL}${BASE}/login/oauth2callback`;
const VICTIM_PASSWORD = 'the victim chose this one';

let google: FakeGoogle;
let github: FakeGitHub;
let smtp: SmtpMailbox;
let t: TestApp;
const opened = closedAfterEach();

function providers() {
  return {
    google: { clientId: google.clientId, clientSecret: google.clientSecret, ...google.urls },
    github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls },
  };
}

beforeAll(async () => {
  google = await startFakeGoogle({ callbackURL: CALLBACK });
  github = await startFakeGitHub({ callbackURL: CALLBACK });
  smtp = await smtpMailbox();
  t = await createTestApp({ publicUrl: PUBLIC_URL, oauthConfig: providers(), mailer: smtp.url });
  t.app.get('/verified-only', t.auth.requireAuth({ emailVerified: true }), (_req, res) => res.json({ ok: true }));
});
afterAll(async () => {
  await t?.close();
  await Promise.allSettled([google?.stop(), github?.stop(), smtp?.close()]);
});

/** A browser through a provider: a sign-in, or with `token` the signed-in user's explicit linking. */
async function viaProvider(app: TestApp, provider: string, token?: string) {
  const req = token ? app.http.post(`${BASE}/me/identities/${provider}`).set(bearer(token)).send({}) : app.http.post(`${BASE}/login/oauth`).send({ provider });
  const begin = rememberBrowser(await req);
  expect(begin.status, JSON.stringify(begin.body)).toBe(200);
  const { callbackPath, cookie } = await authorizeAt(begin.body.redirect_url);
  return app.http.get(callbackPath).set('Cookie', cookie);
}

function totp(secret: string, at = Date.now()): string {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });
}

async function enrolTotp(app: TestApp, token: string, password = PASSWORD): Promise<string> {
  const setup = await app.http.post(`${BASE}/mfa/totp/setup`).set(bearer(token)).send({ password });
  expect(setup.status, JSON.stringify(setup.body)).toBe(200);
  await awayFromStepEnd();
  const confirm = await app.http
    .post(`${BASE}/mfa/totp/confirm`)
    .set(bearer(token))
    .send({ code: totp(setup.body.secret, Date.now() - 30_000) });
  expect(confirm.status, JSON.stringify(confirm.body)).toBe(200);
  return setup.body.secret as string;
}

/**
 * The squatter's account on the victim's address, after the victim clicked the genuine
 * verification link the squatter asked for (attack C): verified, so the squatter could then link
 * his own GitHub, enrol TOTP and mint an API token. Every one of those must die when the victim
 * recovers the address.
 */
async function squattedAfterBareClick(app: TestApp = t) {
  const email = `${uniqueName('victim')}@example.com`;
  const squatter = await registerUser(app, { email });
  expect((await app.http.post(`${BASE}/request-verification`).send({ email })).status).toBe(202);
  const link = await smtp.next('verification', email);
  const clicked = await app.http.post(`${BASE}/confirm-verification`).send({ token: link.token });
  expect(clicked.status).toBe(200);
  expect(clicked.body.user.email_verified).toBe(true);
  // The squatter plants his ways back in.
  const octo = github.makeUser({ email: `${uniqueName('squatter')}@users.example`, verified: true });
  github.nextUser = octo;
  const linked = await viaProvider(app, 'github', squatter.token);
  expect(linked.status, JSON.stringify(linked.body)).toBe(200);
  expect(linked.body.user.id).toBe(squatter.user.id);
  const api = await app.http.post(`${BASE}/me/api-tokens`).set(bearer(linked.body.token)).send({ name: 'backdoor' });
  expect(api.status).toBe(201);
  const secret = await enrolTotp(app, linked.body.token);
  return { email, squatter, octo, apiToken: api.body.token as string, totpSecret: secret, refresh: linked.body.refresh_token as string };
}

/** Nothing the squatter set up opens the account any more. */
async function expectSquatterLockedOut(app: TestApp, s: Awaited<ReturnType<typeof squattedAfterBareClick>>) {
  expectError(await app.http.post(`${BASE}/login`).send({ username: s.squatter.username, password: PASSWORD }), 401, 'invalid_credentials');
  expect((await app.http.post(`${BASE}/token-refresh`).send({ refresh_token: s.refresh })).status).toBe(401);
  expect((await app.http.post(`${BASE}/token-refresh`).send({ refresh_token: s.squatter.refresh_token })).status).toBe(401);
  expect((await app.http.get('/me').set('X-API-Token', s.apiToken)).status).toBe(401);
  expect(await accountRows(app, s.squatter.user.id)).toHaveLength(0);
  // His GitHub now signs in to an account of its own, never the victim's.
  github.nextUser = s.octo;
  const again = await viaProvider(app, 'github');
  expect(again.body.user?.id).not.toBe(s.squatter.user.id);
}

describe('an account whose address is unverified plants nothing', () => {
  it('cannot link an identity: POST /me/identities/{provider} answers 403 email_not_verified', async () => {
    const squatter = await registerUser(t, { email: `${uniqueName('victim')}@example.com` });
    expectError(await t.http.post(`${BASE}/me/identities/github`).set(bearer(squatter.token)).send({}), 403, 'email_not_verified');
    expect(await accountRows(t, squatter.user.id)).toHaveLength(0);
  });

  it('a linking flow begun while verified is refused at the callback once the address is no longer verified', async () => {
    const u = await verifiedUser(t);
    const begin = rememberBrowser(await t.http.post(`${BASE}/me/identities/github`).set(bearer(u.token)).send({}));
    expect(begin.status).toBe(200);
    await t.auth.users.update(u.user.id, { email: `${uniqueName('moved')}@example.com` });
    const { callbackPath, cookie } = await authorizeAt(begin.body.redirect_url);
    const res = await t.http.get(callbackPath).set('Cookie', cookie);
    expectError(res, 403, 'email_not_verified');
    expect(await accountRows(t, u.user.id)).toHaveLength(0);
  });

  it('cannot enrol MFA: /mfa/totp/setup answers 403 email_not_verified', async () => {
    const squatter = await registerUser(t, { email: `${uniqueName('victim')}@example.com` });
    expectError(await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(squatter.token)).send({ password: PASSWORD }), 403, 'email_not_verified');
  });

  it('requireAuth({ emailVerified: true }) refuses an unverified caller with 403 email_not_verified', async () => {
    const u = await registerUser(t);
    expectError(await t.http.get('/verified-only').set(bearer(u.token)), 403, 'email_not_verified');
    const v = await verifiedUser(t);
    expect((await t.http.get('/verified-only').set(bearer(v.token))).status).toBe(200);
    expect(() => t.auth.requireAuth({ emailVerified: 'yes' as unknown as boolean })).toThrow(TypeError);
  });
});

describe('a recovery by the address owner ends everything set up before (attacks A and B)', () => {
  it('a reset link: password, sessions, refresh and API tokens, linked identity and TOTP of the squatter all end', async () => {
    const s = await squattedAfterBareClick();
    expect((await t.http.post(`${BASE}/request-password-reset`).send({ email: s.email })).status).toBe(202);
    const mail = await smtp.next('password_reset', s.email);
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password: VICTIM_PASSWORD })).status).toBe(200);
    await expectSquatterLockedOut(t, s);
    // The victim signs in with the new password alone: the squatter's TOTP is gone too.
    const login = await t.http.post(`${BASE}/login`).send({ username: s.email, password: VICTIM_PASSWORD });
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    expect((await t.http.get(`${BASE}/mfa`).set(bearer(login.body.token))).body).toMatchObject({ totp: { enabled: false } });
  });

  it('an email code: the victim gets tokens without the squatter TOTP, and the squatter password, tokens and identity end', async () => {
    const s = await squattedAfterBareClick();
    const otp = await t.http.post(`${BASE}/request-otp`).send({ email: s.email });
    const mail = await smtp.next('otp', s.email);
    const res = await t.http.post(`${BASE}/login/otp`).send({ otp_id: otp.body.otp_id, code: mail.code });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.user.id).toBe(s.squatter.user.id);
    await expectSquatterLockedOut(t, s);
    expect((await t.http.get('/me').set(bearer(res.body.token))).status).toBe(200);
  });

  it('an email code on a never-verified squatted account ends the squatter password and refresh token (attack B)', async () => {
    const email = `${uniqueName('victim')}@example.com`;
    const squatter = await registerUser(t, { email });
    const otp = await t.http.post(`${BASE}/request-otp`).send({ email });
    const mail = await smtp.next('otp', email);
    expect((await t.http.post(`${BASE}/login/otp`).send({ otp_id: otp.body.otp_id, code: mail.code })).status).toBe(200);
    expectError(await t.http.post(`${BASE}/login`).send({ username: squatter.username, password: PASSWORD }), 401, 'invalid_credentials');
    expect((await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: squatter.refresh_token })).status).toBe(401);
    expect((await t.http.get('/me').set(bearer(squatter.token))).status).toBe(401);
    // The victim's later Google sign-in now links into the account the victim alone holds.
    google.nextUser = google.makeUser({ email, email_verified: true });
    const signIn = await viaProvider(t, 'google');
    expect(signIn.status, JSON.stringify(signIn.body)).toBe(200);
    expect(signIn.body.user.id).toBe(squatter.user.id);
    expectError(await t.http.post(`${BASE}/login`).send({ username: squatter.username, password: PASSWORD }), 401, 'invalid_credentials');
  });

  it('on a second instance too: the squatter access token dies there at once', async () => {
    const s = await squattedAfterBareClick();
    const other = await secondInstance(t);
    opened.track(() => other.close());
    const access = (await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: s.refresh })).body.token as string;
    expect((await other.http.get('/me').set(bearer(access))).status).toBe(200);
    const otp = await t.http.post(`${BASE}/request-otp`).send({ email: s.email });
    const mail = await smtp.next('otp', s.email);
    expect((await t.http.post(`${BASE}/login/otp`).send({ otp_id: otp.body.otp_id, code: mail.code })).status).toBe(200);
    await expect.poll(async () => (await other.http.get('/me').set(bearer(access))).status, { timeout: 5000 }).toBe(401);
  });
});

describe("the victim's provider sign-in never lands in an account whose password someone else holds (attack C)", () => {
  it('after a bare click on the squatter-requested verification link, a provider-verified sign-in answers 409 account_exists', async () => {
    const s = await squattedAfterBareClick();
    google.nextUser = google.makeUser({ email: s.email, email_verified: true });
    const res = await viaProvider(t, 'google');
    expectError(res, 409, 'account_exists');
    expect(res.text).not.toMatch(/refresh_token|"token"/);
    expect((await accountRows(t, s.squatter.user.id)).map((a) => a.provider)).toEqual(['github']);
  });

  it('a registrant who verifies with the password proves the address: keeps the login, and a provider sign-in links in', async () => {
    const email = `${uniqueName('owner')}@example.com`;
    const u = await registerUser(t, { email });
    expect((await t.http.post(`${BASE}/request-verification`).send({ email })).status).toBe(202);
    const link = await smtp.next('verification', email);
    expectError(await t.http.post(`${BASE}/confirm-verification`).send({ token: link.token, password: 'not the password' }), 401, 'invalid_credentials');
    const ok = await t.http.post(`${BASE}/confirm-verification`).send({ token: link.token, password: PASSWORD });
    expect(ok.status).toBe(200);
    expect((await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: u.refresh_token })).status).toBe(200);
    google.nextUser = google.makeUser({ email, email_verified: true });
    const signIn = await viaProvider(t, 'google');
    expect(signIn.status, JSON.stringify(signIn.body)).toBe(200);
    expect(signIn.body.user.id).toBe(u.user.id);
    expect((await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD })).status).toBe(200);
  });

  it('a registrant who verifies with a bare click keeps the login (password, refresh token)', async () => {
    const email = `${uniqueName('owner')}@example.com`;
    const u = await registerUser(t, { email });
    expect((await t.http.post(`${BASE}/request-verification`).send({ email })).status).toBe(202);
    const link = await smtp.next('verification', email);
    expect((await t.http.post(`${BASE}/confirm-verification`).send({ token: link.token })).status).toBe(200);
    expect((await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: u.refresh_token })).status).toBe(200);
    expect((await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD })).status).toBe(200);
  });
});

describe('requireEmailVerification: no path hands tokens to an unverified account', () => {
  it('/register answers 201 {user} without tokens; issueTokens refuses; the verified account signs in', async () => {
    const app = await opened.app({ requireEmailVerification: true, mailer: smtp.url });
    const email = `${uniqueName('newcomer')}@example.com`;
    const res = await app.http.post(`${BASE}/register`).send({ username: uniqueName('newcomer'), email, password: PASSWORD });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body)).toEqual(['user']);
    expect(res.body.user.email_verified).toBe(false);
    expect(await rawQuery(`SELECT 1 FROM "${app.schema}".refresh_tokens WHERE user_id = $1`, [res.body.user.id])).toHaveLength(0);
    await expect(app.auth.issueTokens(res.body.user.id)).rejects.toMatchObject({ code: 'email_not_verified' });
    const link = await smtp.next('verification', email);
    expect((await app.http.post(`${BASE}/confirm-verification`).send({ token: link.token })).status).toBe(200);
    expect((await app.http.post(`${BASE}/login`).send({ username: email, password: PASSWORD })).status).toBe(200);
  });

  it('a refresh token of an account whose address an administrator un-verified is refused', async () => {
    const app = await opened.app({ requireEmailVerification: true });
    const created = await app.auth.users.create({
      username: uniqueName('u'),
      email: `${uniqueName('u')}@example.com`,
      password: PASSWORD,
      email_verified: true,
    });
    const tokens = await app.auth.issueTokens(created.id);
    await app.auth.users.update(created.id, { email_verified: false });
    expectError(await app.http.post(`${BASE}/token-refresh`).send({ refresh_token: tokens.refresh_token }), 403, 'email_not_verified');
  });
});

/** Another AuthManager on the same database and schema: a second instance of the app. */
async function secondInstance(app: TestApp): Promise<TestApp> {
  const { default: express } = await import('express');
  const { default: request } = await import('supertest');
  const { AuthManager } = await import('../src/index.js');
  const { databaseOptions } = await import('./helpers/database.js');
  const other = express();
  const auth = new AuthManager(other, {
    ...(await databaseOptions()),
    dbSchema: app.schema,
    jwtSecret: app.secret,
    bcryptRounds: 4,
    rateLimit: false,
    logger: false,
  });
  await auth.ready;
  other.get('/me', auth.requireAuth(), (req, res) => res.json({ username: req.auth!.user.username }));
  return { app: other, auth, schema: app.schema, secret: app.secret, http: request(other), close: () => auth.close() };
}

describe('an email change proves the holder as well as the mailbox: a victim who clicks cannot hand their address over', () => {
  /** A password-less account signed up through GitHub, asking to move to the victim's address. */
  async function changeTowardVictim() {
    const octo = github.makeUser({ email: `${uniqueName('attacker')}@users.example`, verified: true });
    github.nextUser = octo;
    const signUp = await viaProvider(t, 'github');
    expect(signUp.status, JSON.stringify(signUp.body)).toBe(200);
    const attacker = { id: signUp.body.user.id as string, token: signUp.body.token as string };
    const victim = `${uniqueName('victim')}@example.com`;
    expect((await t.http.post(`${BASE}/request-email-change`).set(bearer(attacker.token)).send({ new_email: victim })).status).toBe(202);
    const mail = await smtp.next('email_change', victim);
    return { octo, attacker, victim, link: mail.token! };
  }

  it("the victim's bare click is 401 unauthorized; the victim's Google sign-in then gets an account of its own", async () => {
    const a = await changeTowardVictim();
    expectError(await t.http.post(`${BASE}/confirm-email-change`).send({ token: a.link }), 401, 'unauthorized');
    const rows = await rawQuery<{ email: string | null; owner_proven: boolean }>(`SELECT email, owner_proven FROM "${t.schema}".users WHERE id = $1`, [
      a.attacker.id,
    ]);
    expect(rows[0]!.email).not.toBe(a.victim);
    google.nextUser = google.makeUser({ email: a.victim, email_verified: true });
    const signIn = await viaProvider(t, 'google');
    expect(signIn.status, JSON.stringify(signIn.body)).toBe(200);
    expect(signIn.body.user.id).not.toBe(a.attacker.id);
    expect(signIn.body.user.email).toBe(a.victim);
    // The attacker's GitHub still signs in to the attacker's own account, not the victim's.
    github.nextUser = a.octo;
    expect((await viaProvider(t, 'github')).body.user.id).toBe(a.attacker.id);
  });

  it("another user's access token (the victim signed in elsewhere) is 403 forbidden", async () => {
    const a = await changeTowardVictim();
    const someone = await verifiedUser(t);
    expectError(await t.http.post(`${BASE}/confirm-email-change`).set(bearer(someone.token)).send({ token: a.link }), 403, 'forbidden');
    expectError(await t.http.post(`${BASE}/confirm-email-change`).set(bearer(someone.token)).send({ token: a.link, password: PASSWORD }), 403, 'forbidden');
  });

  it("an API token or an impersonation token of the account is 403 forbidden; the holder's own access token confirms", async () => {
    const a = await changeTowardVictim();
    const api = await t.http
      .post(`${BASE}/me/api-tokens`)
      .set(bearer(a.attacker.token))
      .send({ name: 'x', scopes: ['*'] });
    expect(api.status).toBe(201);
    expectError(await t.http.post(`${BASE}/confirm-email-change`).set('X-API-Token', api.body.token).send({ token: a.link }), 403, 'forbidden');
    const admin = await registerUser(t);
    await t.auth.users.setRoles(admin.user.id, ['admin', 'user']);
    const { token: impersonating } = await t.auth.users.impersonate(admin.user.id, a.attacker.id);
    expectError(await t.http.post(`${BASE}/confirm-email-change`).set(bearer(impersonating)).send({ token: a.link }), 403, 'forbidden');
    // None of that spent the link: the holder confirms it, signed in, and the address is proven.
    const ok = await t.http.post(`${BASE}/confirm-email-change`).set(bearer(a.attacker.token)).send({ token: a.link });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.user).toMatchObject({ email: a.victim, email_verified: true });
    const rows = await rawQuery<{ owner_proven: boolean }>(`SELECT owner_proven FROM "${t.schema}".users WHERE id = $1`, [a.attacker.id]);
    expect(rows[0]!.owner_proven).toBe(true);
  });
});

describe('an address that arrived by an unproven path is recovered by its owner', () => {
  it("moved there by the programmatic API without email_verified: the owner's reset ends the linked identity, sessions and password", async () => {
    const holder = await verifiedUser(t);
    github.nextUser = github.makeUser({ email: `${uniqueName('holder')}@users.example`, verified: true });
    const linked = await viaProvider(t, 'github', holder.token);
    expect(linked.status, JSON.stringify(linked.body)).toBe(200);
    const victim = `${uniqueName('victim')}@example.com`;
    await t.auth.users.update(holder.user.id, { email: victim });
    const rows = await rawQuery<{ owner_proven: boolean }>(`SELECT owner_proven FROM "${t.schema}".users WHERE id = $1`, [holder.user.id]);
    expect(rows[0]!.owner_proven).toBe(false);
    expect((await t.http.post(`${BASE}/request-password-reset`).send({ email: victim })).status).toBe(202);
    const mail = await smtp.next('password_reset', victim);
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token: mail.token, password: VICTIM_PASSWORD })).status).toBe(200);
    expect(await accountRows(t, holder.user.id)).toHaveLength(0);
    expect((await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: linked.body.refresh_token })).status).toBe(401);
    expectError(await t.http.post(`${BASE}/login`).send({ username: holder.username, password: PASSWORD }), 401, 'invalid_credentials');
  });
});

describe('security mails carry no text the requester chose', () => {
  /** Whoever registered the victim's address chose this name; it must not reach the victim's mailbox. */
  const chosen = () => `Support.CALL-NOW.evil.${uniqueName('x').slice(2)}`;
  function expectClean(mail: { subject: string; text: string; html: string }, username: string) {
    for (const part of [mail.subject, mail.text, mail.html]) expect(part.toLowerCase()).not.toContain(username.toLowerCase());
  }

  it('reset, verification, email code, email change and the changed notice name no username', async () => {
    const victim = `${uniqueName('victim')}@example.com`;
    const squatter = await registerUser(t, { username: chosen(), email: victim });
    expect((await t.http.post(`${BASE}/request-verification`).send({ email: victim })).status).toBe(202);
    expectClean(await smtp.next('verification', victim), squatter.username);
    expect((await t.http.post(`${BASE}/request-password-reset`).send({ email: victim })).status).toBe(202);
    expectClean(await smtp.next('password_reset', victim), squatter.username);
    expect((await t.http.post(`${BASE}/request-otp`).send({ email: victim })).status).toBe(202);
    expectClean(await smtp.next('otp', victim), squatter.username);
    const elsewhere = `${uniqueName('elsewhere')}@example.com`;
    expect((await t.http.post(`${BASE}/request-email-change`).set(bearer(squatter.token)).send({ new_email: elsewhere })).status).toBe(202);
    const change = await smtp.next('email_change', elsewhere);
    expectClean(change, squatter.username);
    expect((await t.http.post(`${BASE}/confirm-email-change`).send({ token: change.token, password: PASSWORD })).status).toBe(200);
    expectClean(await smtp.next('email_changed', victim), squatter.username);
  });

  it('the wrong-codes notice names no username either', async () => {
    const app = await opened.app({ mailer: smtp.url, rateLimit: {}, trustProxy: true });
    const victim = `${uniqueName('victim')}@example.com`;
    const squatter = await registerUser(app, { username: chosen(), email: victim });
    let n = 0;
    const from = () => ({ 'X-Forwarded-For': `203.0.113.${++n}` });
    for (let round = 0; round < 4; round++) {
      const otp = await app.http.post(`${BASE}/request-otp`).set(from()).send({ email: victim });
      expect(otp.status).toBe(202);
      const code = (await smtp.next('otp', victim)).code!;
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(code.length, '0');
      for (let i = 0; i < 2; i++) await app.http.post(`${BASE}/login/otp`).set(from()).send({ otp_id: otp.body.otp_id, code: wrong });
    }
    expectClean(await smtp.next('failed_codes', victim), squatter.username);
  });
});
