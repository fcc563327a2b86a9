import { randomUUID } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { registerAdmin } from './helpers/admin.js';
import { bearer, closedAfterEach, createTestApp, PASSWORD, registerUser, verifiedUser, type TestApp } from './helpers/app.js';
import { auditRows } from './helpers/audit.js';
import { rawQuery } from './helpers/database.js';
import { BASE, expectError, uniqueName } from './helpers/endpoints.js';
import { mailbox } from './helpers/mailbox.js';
import { enrol, ORIGIN, passkeyLogin, registrationOptions, signInOptions, SoftAuthenticator, WEBAUTHN, withPasskeys } from './helpers/passkeys.js';

// Passkeys over HTTP (contract 5.7), with a WebAuthn authenticator written in Node
// (helpers/soft-authenticator.ts) in place of a browser: the option, registration, sign-in with
// and without a username, passkeys and MFA, management and the last way in, and the ownership
// rules. The browser's own ceremony is in passkeys-browser.test.ts; attacks in passkey-attacks.test.ts.

/** A well-formed assertion that proves nothing. */
const ASSERTION_SHAPE = { id: 'AA', rawId: 'AA', type: 'public-key', response: { clientDataJSON: 'AA', authenticatorData: 'AA', signature: 'AA' } };
const PASSKEY_KEYS = ['backed_up', 'created_at', 'device_type', 'id', 'last_used_at', 'name'];
const totpOf = (secret: string) => new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) });

/** Turns TOTP on for the caller of `token`; answers the TOTP generator. */
async function turnOnTotp(t: TestApp, token: string): Promise<OTPAuth.TOTP> {
  const setup = await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(token)).send({ password: PASSWORD });
  expect(setup.status, setup.text).toBe(200);
  const totp = totpOf(setup.body.secret as string);
  expect((await t.http.post(`${BASE}/mfa/totp/confirm`).set(bearer(token)).send({ code: totp.generate() })).status).toBe(200);
  return totp;
}

describe('the webauthn option', () => {
  const base = { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(48) };
  const refused = (webauthn: unknown, extra: Record<string, unknown> = {}) =>
    expect(() => new AuthManager(null, { ...base, ...extra, webauthn: webauthn as never })).toThrow(TypeError);

  it('is a TypeError when malformed: an IP or a URL as RP ID, an origin off the RP ID or on plain http, no origins and no publicUrl, an unknown key', () => {
    refused({ rpId: '127.0.0.1', rpName: 'x', origins: ['https://127.0.0.1'] });
    refused({ rpId: 'https://example.com', rpName: 'x', origins: ['https://example.com'] });
    refused({ rpId: 'Example.com', rpName: 'x', origins: ['https://example.com'] });
    refused({ rpId: 'example.com', rpName: '', origins: ['https://example.com'] });
    refused({ rpId: 'example.com', rpName: 'x', origins: ['https://example.org'] });
    refused({ rpId: 'example.com', rpName: 'x', origins: ['https://notexample.com'] });
    refused({ rpId: 'example.com', rpName: 'x', origins: ['http://app.example.com'] });
    refused({ rpId: 'example.com', rpName: 'x', origins: ['https://app.example.com/login'] });
    refused({ rpId: 'example.com', rpName: 'x', origins: [] });
    refused({ rpId: 'example.com', rpName: 'x' });
    refused({ rpId: 'example.com', rpName: 'x', origin: ['https://example.com'] });
    refused({ rpId: 'example.com', rpName: 'x' }, { publicUrl: 'https://example.org' });
    expect(() => new AuthManager(null, { ...base, webauthn: { rpId: 'localhost', rpName: 'dev', origins: ['http://localhost:3000'] } }).close()).not.toThrow();
  });

  describe('without it', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp();
    });
    afterAll(() => t?.close());

    it('every passkey endpoint answers 501 not_configured, and /auth-methods says passkey.enabled: false', async () => {
      const u = await verifiedUser(t);
      const calls = [
        t.http.post(`${BASE}/passkeys/register/options`).set(bearer(u.token)).send({}),
        t.http.post(`${BASE}/passkeys/register`).set(bearer(u.token)).send({}),
        t.http.post(`${BASE}/login/passkey/options`).send({}),
        t.http.post(`${BASE}/login/passkey`).send({}),
        t.http.get(`${BASE}/me/passkeys`).set(bearer(u.token)),
        t.http.patch(`${BASE}/me/passkeys/${u.user.id}`).set(bearer(u.token)).send({ name: 'x' }),
        t.http.delete(`${BASE}/me/passkeys/${u.user.id}`).set(bearer(u.token)),
        t.http.get(`${BASE}/admin/users/${u.user.id}/passkeys`).set(bearer(u.token)),
        t.http.delete(`${BASE}/admin/users/${u.user.id}/passkeys/${u.user.id}`).set(bearer(u.token)),
        t.http.post(`${BASE}/login/mfa`).send({ mfa_id: 'x'.repeat(43), method: 'passkey', response: ASSERTION_SHAPE }),
      ];
      for (const res of await Promise.all(calls)) expectError(res, 501, 'not_configured');
      expect((await t.http.get(`${BASE}/auth-methods`)).body.passkey).toEqual({ enabled: false });
    });
  });

  it('origins default to the origin of publicUrl', async () => {
    const t = await createTestApp({ publicUrl: `${ORIGIN}/app/`, webauthn: { rpId: WEBAUTHN.rpId, rpName: WEBAUTHN.rpName } });
    try {
      expect((await t.http.get(`${BASE}/auth-methods`)).body.passkey).toEqual({ enabled: true });
      const u = await verifiedUser(t);
      const authenticator = new SoftAuthenticator();
      await enrol(t, u.token, authenticator);
      expect((await passkeyLogin(t, authenticator)).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('passkeys', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(withPasskeys);
  });
  afterAll(() => t?.close());

  describe('registration', () => {
    it('takes an address its holder proved: a self-registered one (even verified by a bare click) is refused with 403 email_not_verified', async () => {
      const u = await registerUser(t);
      expectError(await t.http.post(`${BASE}/passkeys/register/options`).set(bearer(u.token)).send({}), 403, 'email_not_verified');
      // Verified without proving who holds the account (a link anyone could ask for, clicked): still refused.
      await rawQuery(`UPDATE "${t.schema}".users SET email_verified = true WHERE id = $1`, [u.user.id]);
      expectError(await t.http.post(`${BASE}/passkeys/register/options`).set(bearer(u.token)).send({}), 403, 'email_not_verified');
    });

    it('an account without an address holds nobody else’s: it may enrol', async () => {
      const created = await t.auth.users.create({ username: uniqueName('noaddr'), password: PASSWORD });
      const { token } = await t.auth.issueTokens(created.id);
      await enrol(t, token, new SoftAuthenticator());
    });

    it('answers creation options (discoverable, user verification required, no attestation, 300 s) and stores the passkey', async () => {
      const u = await verifiedUser(t);
      const { challenge_id, options } = await registrationOptions(t, u.token);
      expect(challenge_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(options).toMatchObject({
        rp: { id: 'example.com', name: 'Example' },
        user: { id: Buffer.from(u.user.id.replace(/-/g, ''), 'hex').toString('base64url'), name: u.username, displayName: u.username },
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
        attestation: 'none',
        timeout: 300_000,
        excludeCredentials: [],
      });
      expect(Buffer.from(options.challenge, 'base64url')).toHaveLength(32);

      const authenticator = new SoftAuthenticator();
      const response = authenticator.create(options, { origin: ORIGIN });
      const res = await t.http.post(`${BASE}/passkeys/register`).set(bearer(u.token)).send({ challenge_id, response });
      expect(res.status, res.text).toBe(201);
      expect(Object.keys(res.body.passkey).sort()).toEqual(PASSKEY_KEYS);
      expect(res.body.passkey).toMatchObject({ name: 'Passkey', device_type: 'singleDevice', backed_up: false, last_used_at: null });
      // Stored: the credential id and public key, nothing secret; the key is the one the attestation carried.
      const [row] = await rawQuery<Record<string, unknown>>(`SELECT * FROM "${t.schema}".passkeys WHERE user_id = $1`, [u.user.id]);
      expect(row).toMatchObject({ credential_id: response.id, transports: ['internal'] });
      expect(Object.keys(row!).sort()).toEqual([
        'backed_up',
        'counter',
        'created_at',
        'credential_id',
        'device_type',
        'id',
        'last_used_at',
        'name',
        'public_key',
        'transports',
        'user_id',
      ]);
      const [event] = await auditRows(t.schema, { type: 'passkey_added', userId: u.user.id });
      expect(event).toMatchObject({ actor_id: null, data: { passkey_id: res.body.passkey.id, device_type: 'singleDevice' } });

      // The next options exclude it, and a name is kept.
      const next = await registrationOptions(t, u.token);
      expect(next.options.allowCredentials).toBeUndefined();
      expect((next.options as unknown as { excludeCredentials: unknown[] }).excludeCredentials).toEqual([
        { id: response.id, type: 'public-key', transports: ['internal'] },
      ]);
      const named = await enrol(t, u.token, new SoftAuthenticator(), { name: '  Phone  ' });
      expect(named.passkey.name).toBe('Phone');
    });

    it('refuses a malformed body with 400, a name over 64 characters too', async () => {
      const u = await verifiedUser(t);
      const { challenge_id, options } = await registrationOptions(t, u.token);
      const response = new SoftAuthenticator().create(options, { origin: ORIGIN });
      for (const body of [
        {},
        { challenge_id },
        { challenge_id: 'nope', response },
        { challenge_id, response: { ...response, type: 'other' } },
        { challenge_id, response, name: 'x'.repeat(65) },
      ]) {
        expectError(await t.http.post(`${BASE}/passkeys/register`).set(bearer(u.token)).send(body), 400, 'validation_error');
      }
      // None of them used the challenge up.
      expect((await t.http.post(`${BASE}/passkeys/register`).set(bearer(u.token)).send({ challenge_id, response })).status).toBe(201);
    });

    it('a credential belongs to one user: the same credential id for another account is 409', async () => {
      const alice = await verifiedUser(t);
      const bob = await verifiedUser(t);
      const { credentialId } = await enrol(t, alice.token, new SoftAuthenticator());
      const { challenge_id, options } = await registrationOptions(t, bob.token);
      const response = new SoftAuthenticator().create(options, { origin: ORIGIN, credentialId });
      expectError(await t.http.post(`${BASE}/passkeys/register`).set(bearer(bob.token)).send({ challenge_id, response }), 409, 'conflict');
      expect(await t.auth.passkeys.list(bob.user.id)).toEqual([]);
    });
  });

  describe('sign-in', () => {
    it('with and without a username answers {token, refresh_token, user}, audited as passkey_login', async () => {
      const u = await verifiedUser(t);
      const authenticator = new SoftAuthenticator();
      const { passkey } = await enrol(t, u.token, authenticator);

      const discoverable = await signInOptions(t);
      expect(discoverable.options).toEqual({ rpId: 'example.com', challenge: discoverable.options.challenge, timeout: 300_000, userVerification: 'required' });
      const response = authenticator.get(discoverable.options, { origin: ORIGIN });
      const res = await t.http.post(`${BASE}/login/passkey`).send({ challenge_id: discoverable.challenge_id, response });
      expect(res.status, res.text).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['refresh_token', 'token', 'user']);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body.user).toMatchObject({ id: u.user.id });
      expect((await t.http.get('/me').set(bearer(res.body.token))).body).toEqual({ username: u.username, method: 'jwt' });
      expect((await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: res.body.refresh_token })).status).toBe(200);

      const named = await signInOptions(t, { username: u.user.email! });
      expect(named.options.allowCredentials).toEqual([{ id: response.id, type: 'public-key' }]);
      const byName = await t.http
        .post(`${BASE}/login/passkey`)
        .send({ challenge_id: named.challenge_id, response: authenticator.get(named.options, { origin: ORIGIN }) });
      expect(byName.status).toBe(200);
      expect(byName.body.user.last_login).not.toBeNull();

      const [listed] = (await t.http.get(`${BASE}/me/passkeys`).set(bearer(res.body.token))).body as Array<{ last_used_at: string | null }>;
      expect(listed!.last_used_at).not.toBeNull();
      const logins = await auditRows(t.schema, { type: 'passkey_login', userId: u.user.id });
      expect(logins.map((e) => e.data)).toEqual([{ passkey_id: passkey.id }, { passkey_id: passkey.id }]);
      const successes = await auditRows(t.schema, { type: 'login_success', userId: u.user.id });
      expect(successes.filter((e) => e.data.method === 'passkey')).toHaveLength(2);
    });

    it('an unknown username, or an account without passkeys, gets the same shape: one made-up credential, the same each time', async () => {
      const known = await verifiedUser(t);
      await enrol(t, known.token, new SoftAuthenticator());
      const without = await verifiedUser(t);
      const shape = (o: { options: Record<string, unknown> }) => ({
        keys: Object.keys(o.options).sort(),
        allow: (o.options.allowCredentials as Array<{ id: string; type: string }>).map((c) => [Object.keys(c).sort(), Buffer.from(c.id, 'base64url').length]),
      });
      const real = await signInOptions(t, { username: known.username });
      const ghost = await signInOptions(t, { username: 'nobody_by_this_name' });
      const noPasskey = await signInOptions(t, { username: without.username });
      expect(shape(ghost)).toEqual(shape(real));
      expect(shape(noPasskey)).toEqual(shape(real));
      expect(Object.keys(ghost).sort()).toEqual(['challenge_id', 'options']);
      // Stable per name (asking twice tells nothing), different between names.
      const again = await signInOptions(t, { username: 'NOBODY_BY_THIS_NAME' });
      expect(again.options.allowCredentials).toEqual(ghost.options.allowCredentials);
      expect(noPasskey.options.allowCredentials).not.toEqual(ghost.options.allowCredentials);
    });

    it('a disabled account is refused after the assertion (403 account_disabled)', async () => {
      const u = await verifiedUser(t);
      const authenticator = new SoftAuthenticator();
      await enrol(t, u.token, authenticator);
      await t.auth.users.setActive(u.user.id, false);
      expectError(await passkeyLogin(t, authenticator), 403, 'account_disabled');
    });

    it('a refused assertion is 401 invalid_credentials, audited as a login failure', async () => {
      const u = await verifiedUser(t);
      const authenticator = new SoftAuthenticator();
      await enrol(t, u.token, authenticator);
      expectError(await passkeyLogin(t, authenticator, { ceremony: { origin: 'https://evil.example.com' } }), 401, 'invalid_credentials');
      const [failure] = await auditRows(t.schema, { type: 'login_failure', userId: u.user.id });
      expect(failure!.data).toEqual({ method: 'passkey' });
    });
  });

  describe('with MFA', () => {
    it('a passkey is two factors: TOTP on, it signs in alone; after a password, mfa_required lists it and /login/mfa or /login/passkey finish with it', async () => {
      const u = await verifiedUser(t);
      const authenticator = new SoftAuthenticator();
      await enrol(t, u.token, authenticator);
      await turnOnTotp(t, u.token);

      expect((await passkeyLogin(t, authenticator)).status).toBe(200);

      const first = await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
      expect(first.status).toBe(401);
      expect(first.body).toMatchObject({ code: 'mfa_required', methods: ['totp', 'backup_code', 'passkey'] });
      // Options for that sign-in name its user's passkeys.
      const options = await signInOptions(t, { mfa_id: first.body.mfa_id });
      expect(options.options.allowCredentials).toHaveLength(1);
      const viaMfa = await t.http
        .post(`${BASE}/login/mfa`)
        .send({ mfa_id: first.body.mfa_id, method: 'passkey', response: authenticator.get(options.options, { origin: ORIGIN }) });
      expect(viaMfa.status, viaMfa.text).toBe(200);
      expect(viaMfa.body.user.id).toBe(u.user.id);

      const again = await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
      const viaLogin = await passkeyLogin(t, authenticator, { mfa_id: again.body.mfa_id });
      expect(viaLogin.status, viaLogin.text).toBe(200);
      const second = await auditRows(t.schema, { type: 'passkey_login', userId: u.user.id });
      expect(second.filter((e) => e.data.second_factor === true)).toHaveLength(2);
      // The mfa_id is used up.
      expectError(await passkeyLogin(t, authenticator, { mfa_id: again.body.mfa_id }), 401, 'invalid_code');
    });

    it('options for a dead mfa_id are 401 invalid_code', async () => {
      expectError(await t.http.post(`${BASE}/login/passkey/options`).send({ mfa_id: 'A'.repeat(43) }), 401, 'invalid_code');
    });
  });

  describe('management', () => {
    it('lists, renames and removes the caller’s own; another user’s passkey is 404', async () => {
      const alice = await verifiedUser(t);
      const bob = await verifiedUser(t);
      const { passkey } = await enrol(t, alice.token, new SoftAuthenticator(), { name: 'Laptop' });
      const list = await t.http.get(`${BASE}/me/passkeys`).set(bearer(alice.token));
      expect(list.body).toEqual([expect.objectContaining({ id: passkey.id, name: 'Laptop' })]);
      expect((await t.http.get(`${BASE}/${alice.user.id}/passkeys`).set(bearer(alice.token))).body).toEqual(list.body);

      expectError(await t.http.patch(`${BASE}/me/passkeys/${passkey.id}`).set(bearer(bob.token)).send({ name: 'Mine' }), 404, 'not_found');
      expectError(await t.http.delete(`${BASE}/me/passkeys/${passkey.id}`).set(bearer(bob.token)), 404, 'not_found');
      expectError(await t.http.get(`${BASE}/${alice.user.id}/passkeys`).set(bearer(bob.token)), 404, 'not_found');
      expectError(await t.http.delete(`${BASE}/me/passkeys/not-an-id`).set(bearer(alice.token)), 404, 'not_found');

      const renamed = await t.http.patch(`${BASE}/me/passkeys/${passkey.id}`).set(bearer(alice.token)).send({ name: 'Work laptop' });
      expect(renamed.status).toBe(200);
      expect(Object.keys(renamed.body)).toEqual(['passkey']);
      expect(renamed.body.passkey).toMatchObject({ id: passkey.id, name: 'Work laptop' });
      expectError(await t.http.patch(`${BASE}/me/passkeys/${passkey.id}`).set(bearer(alice.token)).send({ name: '' }), 400, 'validation_error');

      expect((await t.http.delete(`${BASE}/me/passkeys/${passkey.id}`).set(bearer(alice.token))).body).toEqual({ success: true });
      expect((await t.http.get(`${BASE}/me/passkeys`).set(bearer(alice.token))).body).toEqual([]);
      expect((await auditRows(t.schema, { type: 'passkey_removed', userId: alice.user.id }))[0]!.data).toEqual({ passkey_id: passkey.id });
    });

    it('a site admin lists and removes a user’s passkeys, by /{user}/passkeys and /admin/users/{id}/passkeys, audited with the admin as actor', async () => {
      const admin = await registerAdmin(t);
      const u = await verifiedUser(t);
      const one = await enrol(t, u.token, new SoftAuthenticator());
      const two = await enrol(t, u.token, new SoftAuthenticator());
      expect((await t.http.get(`${BASE}/${u.user.id}/passkeys`).set(bearer(admin.token))).body).toHaveLength(2);
      expect((await t.http.get(`${BASE}/admin/users/${u.user.id}/passkeys`).set(bearer(admin.token))).body).toHaveLength(2);
      expect(
        (await t.http.patch(`${BASE}/admin/users/${u.user.id}/passkeys/${one.passkey.id}`).set(bearer(admin.token)).send({ name: 'Lost' })).body.passkey.name,
      ).toBe('Lost');
      expect((await t.http.delete(`${BASE}/admin/users/${u.user.id}/passkeys/${one.passkey.id}`).set(bearer(admin.token))).status).toBe(200);
      expect((await t.http.delete(`${BASE}/${u.user.id}/passkeys/${two.passkey.id}`).set(bearer(admin.token))).status).toBe(200);
      const removed = await auditRows(t.schema, { type: 'passkey_removed', userId: u.user.id });
      expect(removed.map((e) => e.actor_id)).toEqual([admin.user.id, admin.user.id]);
      // An id nobody has (a fresh random one: changing a character of a real id could give it back).
      expectError(await t.http.get(`${BASE}/admin/users/${randomUUID()}/passkeys`).set(bearer(admin.token)), 404, 'not_found');
      expectError(await t.http.get(`${BASE}/admin/users/${u.user.id}/passkeys`).set(bearer(u.token)), 403, 'forbidden');
    });

    it('the last way to sign in cannot be removed (409): a password-less account keeps one passkey', async () => {
      const created = await t.auth.users.create({ username: uniqueName('pwless'), email: `${uniqueName('pwless')}@example.com`, email_verified: true });
      const { token } = await t.auth.issueTokens(created.id);
      const first = await enrol(t, token, new SoftAuthenticator());
      expectError(await t.http.delete(`${BASE}/me/passkeys/${first.passkey.id}`).set(bearer(token)), 409, 'conflict');
      await expect(t.auth.passkeys.remove(created.id, first.passkey.id)).rejects.toMatchObject({ code: 'conflict' });
      const second = await enrol(t, token, new SoftAuthenticator());
      // Two at once: the user's row is locked, so they cannot both take the last two.
      const both = await Promise.all([
        t.http.delete(`${BASE}/me/passkeys/${first.passkey.id}`).set(bearer(token)),
        t.http.delete(`${BASE}/me/passkeys/${second.passkey.id}`).set(bearer(token)),
      ]);
      expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(await t.auth.passkeys.list(created.id)).toHaveLength(1);
    });

    it('a passkey counts as a way in when unlinking a provider', async () => {
      const created = await t.auth.users.create({ username: uniqueName('linked'), email: `${uniqueName('linked')}@example.com`, email_verified: true });
      await rawQuery(`INSERT INTO "${t.schema}".oauth_accounts (provider, provider_user_id, user_id) VALUES ('github', $1, $2)`, [
        uniqueName('gh'),
        created.id,
      ]);
      const { token } = await t.auth.issueTokens(created.id);
      expectError(await t.http.delete(`${BASE}/me/identities/github`).set(bearer(token)), 409, 'conflict');
      const { passkey } = await enrol(t, token, new SoftAuthenticator());
      // With the provider linked, the passkey is not the last way in ...
      expect((await t.http.delete(`${BASE}/me/passkeys/${passkey.id}`).set(bearer(token))).status).toBe(200);
      const again = await enrol(t, token, new SoftAuthenticator());
      // ... and with a passkey, the provider is not.
      expect((await t.http.delete(`${BASE}/me/identities/github`).set(bearer(token))).status).toBe(200);
      expectError(await t.http.delete(`${BASE}/me/passkeys/${again.passkey.id}`).set(bearer(token)), 409, 'conflict');
    });
  });
});

describe('passkeys and mfa.required', () => {
  it('a held-back user may enrol a passkey, which lifts mfa_setup_required and becomes their second factor after a password', async () => {
    const t = await createTestApp({ ...withPasskeys, mfa: { required: (user) => user.roles.includes('admin') } });
    try {
      const admin = await registerAdmin(t);
      await t.auth.users.update(admin.user.id, { email_verified: true });
      const { token } = (await t.http.post(`${BASE}/login`).send({ username: admin.username, password: PASSWORD })).body as { token: string };
      expectError(await t.http.get('/me').set(bearer(token)), 403, 'mfa_setup_required');
      const authenticator = new SoftAuthenticator();
      await enrol(t, token, authenticator);
      // The same token now works everywhere: every instance was told the user has a passkey.
      expect((await t.http.get('/me').set(bearer(token))).status).toBe(200);

      const first = await t.http.post(`${BASE}/login`).send({ username: admin.username, password: PASSWORD });
      expect(first.body).toMatchObject({ code: 'mfa_required', methods: ['passkey'] });
      expect((await passkeyLogin(t, authenticator, { mfa_id: first.body.mfa_id })).status).toBe(200);
      expect((await passkeyLogin(t, authenticator)).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('ownership (contract 5.3)', () => {
  const { app } = closedAfterEach();

  it('a recovery by mail of an address the holder never proved ends the passkeys added before', async () => {
    const box = mailbox();
    const t = await app({ ...withPasskeys, mailer: box.mailer });
    const u = await verifiedUser(t);
    const authenticator = new SoftAuthenticator();
    await enrol(t, u.token, authenticator);
    // The account is moved onto an address its holder has not proven (an administrator's change).
    const victim = `${uniqueName('owner')}@example.com`;
    await t.auth.users.update(u.user.id, { email: victim });
    expect((await passkeyLogin(t, authenticator)).status).toBe(200);

    // The address's owner takes it back with a reset link: nothing set up before opens the account.
    await t.http.post(`${BASE}/request-password-reset`).send({ email: victim });
    const { token } = await box.next('password_reset', victim);
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token, password: 'a brand new passphrase' })).status).toBe(200);
    expect(await t.auth.passkeys.list(u.user.id)).toEqual([]);
    expectError(await passkeyLogin(t, authenticator), 401, 'invalid_credentials');
    expect(await auditRows(t.schema, { type: 'account_recovered', userId: u.user.id })).toHaveLength(1);
  });

  it('a proven holder’s own reset keeps their passkeys', async () => {
    const box = mailbox();
    const t = await app({ ...withPasskeys, mailer: box.mailer });
    const u = await verifiedUser(t);
    const authenticator = new SoftAuthenticator();
    await enrol(t, u.token, authenticator);
    await t.http.post(`${BASE}/request-password-reset`).send({ email: u.user.email });
    const { token } = await box.next('password_reset', u.user.email!);
    expect((await t.http.post(`${BASE}/confirm-password-reset`).send({ token, password: 'a brand new passphrase' })).status).toBe(200);
    expect(await t.auth.passkeys.list(u.user.id)).toHaveLength(1);
    expect((await passkeyLogin(t, authenticator)).status).toBe(200);
  });

  it('a registration challenge dies with the address it was issued under', async () => {
    const t = await app(withPasskeys);
    const u = await verifiedUser(t);
    const { challenge_id, options } = await registrationOptions(t, u.token);
    await t.auth.users.update(u.user.id, { email: `${uniqueName('moved')}@example.com`, email_verified: true });
    const { token } = (await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD })).body as { token: string };
    const response = new SoftAuthenticator().create(options, { origin: ORIGIN });
    expectError(await t.http.post(`${BASE}/passkeys/register`).set(bearer(token)).send({ challenge_id, response }), 400, 'validation_error');
  });
});

describe('cookie mode and the rate limit', () => {
  const { app } = closedAfterEach();

  it('a passkey sign-in asking for the cookie gets the refresh token as an HttpOnly cookie, like any first factor', async () => {
    const t = await app({ ...withPasskeys, cookies: { secure: false, allowedOrigins: [ORIGIN] } });
    const u = await verifiedUser(t);
    const authenticator = new SoftAuthenticator();
    await enrol(t, u.token, authenticator);
    const { challenge_id, options } = await signInOptions(t);
    const res = await t.http
      .post(`${BASE}/login/passkey`)
      .set('Origin', ORIGIN)
      .send({ challenge_id, response: authenticator.get(options, { origin: ORIGIN }), refresh_token_in: 'cookie' });
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['csrf_token', 'token', 'user']);
    expect(String(res.headers['set-cookie'])).toMatch(/authlib_refresh=.+HttpOnly/);
  });

  it('ceremonies begun are limited per address (rate limit "passkey"); failed assertions count under "code"', async () => {
    const t = await app({ ...withPasskeys, rateLimit: { passkey: { limit: 2, windowSeconds: 60 }, code: { limit: 1, windowSeconds: 60 } } });
    expect((await t.http.post(`${BASE}/login/passkey/options`).send({})).status).toBe(200);
    const options = await t.http.post(`${BASE}/login/passkey/options`).send({});
    const limited = await t.http.post(`${BASE}/login/passkey/options`).send({});
    expectError(limited, 429, 'rate_limited');
    expect(limited.body.error).toMatch(/rate limit "passkey"/);
    expect(limited.headers['retry-after']).toBeDefined();
    const junk = new SoftAuthenticator().create({ challenge: 'AAAA', rp: { id: 'example.com' }, user: { id: 'AA' } }, { origin: ORIGIN });
    const assertion = { ...junk, response: { clientDataJSON: junk.response.clientDataJSON, authenticatorData: 'AAAA', signature: 'AAAA' } };
    expectError(await t.http.post(`${BASE}/login/passkey`).send({ challenge_id: options.body.challenge_id, response: assertion }), 401, 'invalid_credentials');
    expectError(await t.http.post(`${BASE}/login/passkey`).send({ challenge_id: options.body.challenge_id, response: assertion }), 429, 'rate_limited');
  });
});
