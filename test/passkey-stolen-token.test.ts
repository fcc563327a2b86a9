import express from 'express';
import * as OTPAuth from 'otpauth';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager, REAUTHENTICATION_WINDOW_SECONDS } from '../src/index.js';
import { bearer, closedAfterEach, createTestApp, deploymentOptions, PASSWORD, verifiedUser, type TestApp } from './helpers/app.js';
import { BASE, expectError, uniqueName } from './helpers/endpoints.js';
import { mailbox, type Mailbox } from './helpers/mailbox.js';
import { enrol, ORIGIN, passkeyLogin, signInOptions, SoftAuthenticator, withPasskeys } from './helpers/passkeys.js';

// What an access token alone (lifted by XSS, say) must not do with passkeys, and what removing a
// passkey must end: a passkey is two factors and outlives a password reset and logout-all, so only
// the account's holder, just signed in or with the password, adds one (and the address is told);
// and the logins a passkey opened end when it is removed, on every instance at once.

const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';
/** A passkey name whoever holds the token chooses: it must not reach the owner's mailbox. */
const PLANTED_NAME = 'Support: call +1-555-0199 now';

/** A clock the tests move: logins begin at its time, and tokens are checked against it. */
const clock = { ms: Date.now(), now: () => new Date(clock.ms), advance: (seconds: number) => void (clock.ms += seconds * 1000) };

const registerOptions = (t: TestApp, token: string, body: object = {}) => t.http.post(`${BASE}/passkeys/register/options`).set(bearer(token)).send(body);
const refresh = (t: TestApp, refreshToken: string) => t.http.post(`${BASE}/token-refresh`).send({ refresh_token: refreshToken });
const profile = (t: TestApp, token: string) => t.http.get(`${BASE}/login/profile`).set(bearer(token));

describe('adding a passkey needs the account holder: a sign-in of the last 10 minutes, or the password', () => {
  let t: TestApp;
  let box: Mailbox;
  beforeAll(async () => {
    box = mailbox();
    // Access tokens outlive the window here, so only the age of the sign-in decides.
    t = await createTestApp({ ...withPasskeys, mailer: box.mailer, now: clock.now, tokenExpiry: 3600 });
  });
  afterAll(() => t?.close());

  it('the window is 10 minutes', () => {
    expect(REAUTHENTICATION_WINDOW_SECONDS).toBe(600);
  });

  it('a token of a sign-in older than 10 minutes (refreshed or not) gets 403 reauthentication_required, also with a wrong password; the password opens it', async () => {
    const u = await verifiedUser(t);
    clock.advance(REAUTHENTICATION_WINDOW_SECONDS - 60);
    // Still within the window: no password asked.
    expect((await registerOptions(t, u.token)).status).toBe(200);
    clock.advance(120);
    expectError(await registerOptions(t, u.token), 403, 'reauthentication_required');
    // A refresh renews the token, not the sign-in.
    const renewed = await refresh(t, u.refresh_token);
    expect(renewed.status).toBe(200);
    expectError(await registerOptions(t, renewed.body.token), 403, 'reauthentication_required', [PASSWORD]);
    expectError(await registerOptions(t, renewed.body.token, { password: `${PASSWORD}!` }), 403, 'reauthentication_required');
    expectError(await t.http.post(`${BASE}/passkeys/register/options`).set(bearer(renewed.body.token)).send({ password: 42 }), 400, 'validation_error');
    // No passkey was added along the way.
    expect((await t.http.get(`${BASE}/me/passkeys`).set(bearer(renewed.body.token))).body).toEqual([]);

    // With the password: the whole registration goes through.
    const options = await registerOptions(t, renewed.body.token, { password: PASSWORD });
    expect(options.status, options.text).toBe(200);
    const authenticator = new SoftAuthenticator();
    const response = authenticator.create(options.body.options, { origin: ORIGIN });
    const added = await t.http.post(`${BASE}/passkeys/register`).set(bearer(renewed.body.token)).send({ challenge_id: options.body.challenge_id, response });
    expect(added.status, added.text).toBe(201);
    // A fresh sign-in opens it again without the password.
    const fresh = await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
    expect((await registerOptions(t, fresh.body.token)).status).toBe(200);
  });

  it('a password-less account has only the fresh sign-in', async () => {
    const created = await t.auth.users.create({ username: uniqueName('nopw') });
    const old = await t.auth.issueTokens(created.id);
    clock.advance(REAUTHENTICATION_WINDOW_SECONDS + 1);
    expectError(await registerOptions(t, old.token), 403, 'reauthentication_required');
    expectError(await registerOptions(t, old.token, { password: PASSWORD }), 403, 'reauthentication_required');
    const fresh = await t.auth.issueTokens(created.id);
    expect((await registerOptions(t, fresh.token)).status).toBe(200);
  });

  it("mails the account's address when a passkey is added: when, the device summary, what to do; never the passkey's name", async () => {
    const u = await verifiedUser(t);
    const options = await registerOptions(t, u.token);
    const response = new SoftAuthenticator().create(options.body.options, { origin: ORIGIN });
    const added = await t.http
      .post(`${BASE}/passkeys/register`)
      .set(bearer(u.token))
      .set('User-Agent', CHROME_MAC)
      .send({ challenge_id: options.body.challenge_id, response, name: PLANTED_NAME });
    expect(added.status, added.text).toBe(201);
    const mail = await box.next('passkey_added', u.user.email!);
    expect(mail.subject).toContain('a passkey was added to your account');
    expect(mail.user).toEqual({ id: u.user.id, username: u.username });
    expect(mail.text).toContain(new Date(clock.ms).toISOString());
    expect(mail.text).toContain('(Chrome on macOS)');
    expect(mail.text).toMatch(/remove that passkey/);
    expect(mail.text).toMatch(/reset your password/);
    for (const body of [mail.text, mail.html, mail.subject]) {
      expect(body).not.toContain('555-0199');
      expect(body).not.toContain('Mozilla');
    }
  });

  it('the mail follows mailTemplates.passkey_added; an unknown kind there is a TypeError', async () => {
    const own = mailbox();
    const t2 = await createTestApp({
      ...withPasskeys,
      mailer: own.mailer,
      mailTemplates: { passkey_added: (d) => ({ subject: `custom ${d.kind}`, text: `added for ${d.user.username}`, html: '<p>added</p>' }) },
    });
    try {
      const u = await verifiedUser(t2);
      await enrol(t2, u.token, new SoftAuthenticator());
      const mail = await own.next('passkey_added', u.user.email!);
      expect(mail.subject).toBe('custom passkey_added');
      expect(mail.text).toBe(`added for ${u.username}`);
    } finally {
      await t2.close();
    }
    expect(() => new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(48), mailTemplates: { passkey_adde: () => ({}) } as never })).toThrow(
      TypeError,
    );
  });
});

describe('removing a passkey ends the logins it opened', () => {
  const { app, track } = closedAfterEach();

  /** A verified user with a passkey; answers the user and the authenticator. */
  async function withPasskey(t: TestApp) {
    const u = await verifiedUser(t);
    const authenticator = new SoftAuthenticator();
    const { passkey } = await enrol(t, u.token, authenticator);
    return { u, authenticator, passkey };
  }

  it('by its owner: the passkey login (first factor) is refused at once, its refresh token too; other logins go on', async () => {
    const t = await app(withPasskeys);
    const { u, authenticator, passkey } = await withPasskey(t);
    const other = new SoftAuthenticator();
    await enrol(t, u.token, other);
    const planted = await passkeyLogin(t, authenticator);
    expect(planted.status, planted.text).toBe(200);
    const kept = await passkeyLogin(t, other);
    expect((await profile(t, planted.body.token)).status).toBe(200);

    expect((await t.http.delete(`${BASE}/me/passkeys/${passkey.id}`).set(bearer(u.token))).status).toBe(200);
    expectError(await profile(t, planted.body.token), 401, 'invalid_token');
    expect((await refresh(t, planted.body.refresh_token)).status).toBe(401);
    // The owner's password login and the login of the other passkey are untouched.
    expect((await profile(t, u.token)).status).toBe(200);
    expect((await profile(t, kept.body.token)).status).toBe(200);
    expect((await refresh(t, kept.body.refresh_token)).status).toBe(200);
    const listed = (await t.http.get(`${BASE}/me/sessions`).set(bearer(u.token))).body as Array<{ id: string }>;
    expect(listed).toHaveLength(2);
  });

  it('as the second factor of a password sign-in (/login/mfa and /login/passkey with mfa_id); removed programmatically (auth.passkeys.remove, as the admin routes and the CLI do)', async () => {
    const t = await app(withPasskeys);
    const { u, authenticator, passkey } = await withPasskey(t);
    const setup = await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(u.token)).send({ password: PASSWORD });
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.body.secret as string) });
    expect((await t.http.post(`${BASE}/mfa/totp/confirm`).set(bearer(u.token)).send({ code: totp.generate() })).status).toBe(200);

    const first = await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
    const options = await signInOptions(t, { mfa_id: first.body.mfa_id });
    const viaMfa = await t.http
      .post(`${BASE}/login/mfa`)
      .send({ mfa_id: first.body.mfa_id, method: 'passkey', response: authenticator.get(options.options, { origin: ORIGIN }) });
    expect(viaMfa.status, viaMfa.text).toBe(200);
    const again = await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
    const viaLogin = await passkeyLogin(t, authenticator, { mfa_id: again.body.mfa_id });
    expect(viaLogin.status, viaLogin.text).toBe(200);

    await t.auth.passkeys.remove(u.user.id, passkey.id);
    for (const login of [viaMfa.body, viaLogin.body]) {
      expectError(await profile(t, login.token), 401, 'invalid_token');
      expect((await refresh(t, login.refresh_token)).status).toBe(401);
    }
    expect((await profile(t, u.token)).status).toBe(200);
  });

  it('on two instances: removed on one, the passkey login is refused on the other at once', async () => {
    const a = await createTestApp(withPasskeys);
    track(() => a.close());
    // A second AuthManager on the same schema and secret: another instance of the deployment.
    const server = express();
    const b = new AuthManager(server, await deploymentOptions(a, { webauthn: withPasskeys.webauthn }));
    track(() => b.close());
    await b.ready;
    server.get('/me', b.requireAuth(), (req, res) => res.json({ id: req.auth!.user.id }));
    const onB = request(server);

    const { u, authenticator, passkey } = await withPasskey(a);
    const planted = await passkeyLogin(a, authenticator);
    expect((await onB.get('/me').set(bearer(planted.body.token))).status).toBe(200);
    const started = performance.now();
    expect((await a.http.delete(`${BASE}/me/passkeys/${passkey.id}`).set(bearer(u.token))).status).toBe(200);
    let elapsed = Infinity;
    while (performance.now() - started < 3000) {
      if ((await onB.get('/me').set(bearer(planted.body.token))).status === 401) {
        elapsed = performance.now() - started;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    console.log(`a login of a removed passkey was refused on the other instance after ${elapsed.toFixed(0)} ms`);
    expect(elapsed).toBeLessThan(1000);
    expect((await onB.post(`${BASE}/token-refresh`).send({ refresh_token: planted.body.refresh_token })).status).toBe(401);
    expect((await onB.get('/me').set(bearer(u.token))).status).toBe(200);
  });
});
