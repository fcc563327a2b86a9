import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, registerAdmin } from './helpers/admin.js';
import { bearer, createTestApp, verifiedUser, type TestApp } from './helpers/app.js';
import { auditRows } from './helpers/audit.js';
import { BASE, expectError } from './helpers/endpoints.js';
import { groupApi } from './helpers/groups.js';
import { enrol, ORIGIN, passkeyLogin, registrationOptions, signInOptions, SoftAuthenticator, withPasskeys } from './helpers/passkeys.js';

// Passkeys under attack, over HTTP: each attack is a response a browser would not make (or one
// made for someone else), signed validly where that matters, so each refusal is the check under
// test and not a broken signature. Every refused assertion is 401 invalid_credentials; a refused
// registration is 400 validation_error. The same attacks in a real browser, where a browser can
// make them, are in passkeys-browser.test.ts.

describe('passkey attacks', () => {
  let t: TestApp;
  /** Moves the server's clock. */
  let offsetMs = 0;
  beforeAll(async () => {
    t = await createTestApp({ ...withPasskeys, now: () => new Date(Date.now() + offsetMs) });
  });
  afterAll(() => t?.close());

  /** A verified user with one passkey on a fresh authenticator. */
  async function userWithPasskey() {
    const u = await verifiedUser(t);
    const authenticator = new SoftAuthenticator();
    const { passkey, credentialId } = await enrol(t, u.token, authenticator);
    return { ...u, authenticator, passkey, credentialId };
  }

  const login = (body: object) => t.http.post(`${BASE}/login/passkey`).send(body);

  describe('replay and challenges', () => {
    it('a replayed assertion is refused: the challenge was used up by its first presentation', async () => {
      const alice = await userWithPasskey();
      const { challenge_id, options } = await signInOptions(t);
      const response = alice.authenticator.get(options, { origin: ORIGIN });
      expect((await login({ challenge_id, response })).status).toBe(200);
      expectError(await login({ challenge_id, response }), 401, 'invalid_credentials');
      // Even at the same moment: of concurrent presentations of one fresh assertion, exactly one wins.
      const fresh = await signInOptions(t);
      const again = alice.authenticator.get(fresh.options, { origin: ORIGIN });
      const results = await Promise.all(Array.from({ length: 5 }, () => login({ challenge_id: fresh.challenge_id, response: again })));
      expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401]);
    });

    it('a wrong assertion still uses the challenge up: a second try with it is refused', async () => {
      const alice = await userWithPasskey();
      const { challenge_id, options } = await signInOptions(t);
      expectError(
        await login({ challenge_id, response: alice.authenticator.get(options, { origin: 'https://evil.example.com' }) }),
        401,
        'invalid_credentials',
      );
      expectError(await login({ challenge_id, response: alice.authenticator.get(options, { origin: ORIGIN }) }), 401, 'invalid_credentials');
    });

    it('the response must answer the challenge_id it is sent with, and a challenge lives 300 s', async () => {
      const alice = await userWithPasskey();
      const a = await signInOptions(t);
      const b = await signInOptions(t);
      expectError(await login({ challenge_id: b.challenge_id, response: alice.authenticator.get(a.options, { origin: ORIGIN }) }), 401, 'invalid_credentials');
      const late = await signInOptions(t);
      offsetMs = 301_000;
      try {
        expectError(
          await login({ challenge_id: late.challenge_id, response: alice.authenticator.get(late.options, { origin: ORIGIN }) }),
          401,
          'invalid_credentials',
        );
      } finally {
        offsetMs = 0;
      }
      // A response to a challenge the server never issued.
      const made = alice.authenticator.get({ challenge: Buffer.alloc(32, 7).toString('base64url') }, { origin: ORIGIN });
      expectError(await login({ challenge_id: a.challenge_id, response: made }), 401, 'invalid_credentials');
    });

    it("another user's challenge: a sign-in challenge asked for Alice is not answered by Bob's passkey, nor a registration challenge of Alice's by Bob", async () => {
      const alice = await userWithPasskey();
      const bob = await userWithPasskey();
      const forAlice = await signInOptions(t, { username: alice.username });
      expectError(
        await login({
          challenge_id: forAlice.challenge_id,
          response: bob.authenticator.get(forAlice.options, { origin: ORIGIN, credentialId: bob.credentialId }),
        }),
        401,
        'invalid_credentials',
      );

      const alicesRegistration = await registrationOptions(t, alice.token);
      const response = new SoftAuthenticator().create(alicesRegistration.options, { origin: ORIGIN });
      const stolen = await t.http.post(`${BASE}/passkeys/register`).set(bearer(bob.token)).send({ challenge_id: alicesRegistration.challenge_id, response });
      expectError(stolen, 400, 'validation_error');
      expect(await t.auth.passkeys.list(bob.user.id)).toHaveLength(1);
      // Alice's own challenge was not spent by Bob's attempt.
      const own = await t.http.post(`${BASE}/passkeys/register`).set(bearer(alice.token)).send({ challenge_id: alicesRegistration.challenge_id, response });
      expect(own.status).toBe(201);
    });
  });

  describe('origin, RP ID and user verification are checked exactly', () => {
    it('sign-in: another origin, another scheme or port, another RP ID, no user verification', async () => {
      const alice = await userWithPasskey();
      for (const ceremony of [
        { origin: 'https://evil.example.com' },
        { origin: 'https://app.example.com.evil.com' },
        { origin: 'http://app.example.com' },
        { origin: 'https://app.example.com:8443' },
        { origin: ORIGIN, rpId: 'evil.com' },
        { origin: ORIGIN, rpId: 'app.example.com' },
        { origin: ORIGIN, userVerified: false },
      ]) {
        expectError(await passkeyLogin(t, alice.authenticator, { ceremony }), 401, 'invalid_credentials');
      }
      expect((await passkeyLogin(t, alice.authenticator)).status).toBe(200);
    });

    it('registration: the same checks, answered 400', async () => {
      const u = await verifiedUser(t);
      for (const ceremony of [{ origin: 'https://evil.example.com' }, { origin: ORIGIN, rpId: 'evil.com' }, { origin: ORIGIN, userVerified: false }]) {
        const { challenge_id, options } = await registrationOptions(t, u.token);
        const response = new SoftAuthenticator().create(options, ceremony);
        expectError(await t.http.post(`${BASE}/passkeys/register`).set(bearer(u.token)).send({ challenge_id, response }), 400, 'validation_error');
      }
      expect(await t.auth.passkeys.list(u.user.id)).toEqual([]);
    });

    it('client data changed after signing is refused', async () => {
      const alice = await userWithPasskey();
      const { challenge_id, options } = await signInOptions(t);
      const response = alice.authenticator.get(options, { origin: 'https://evil.example.com' });
      const data = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString()) as Record<string, unknown>;
      const forged = Buffer.from(JSON.stringify({ ...data, origin: ORIGIN })).toString('base64url');
      expectError(
        await login({ challenge_id, response: { ...response, response: { ...response.response, clientDataJSON: forged } } }),
        401,
        'invalid_credentials',
      );
    });
  });

  describe('the signature counter', () => {
    it('a counter that goes backwards (or stays) is refused and audited as passkey_clone_suspected', async () => {
      const alice = await userWithPasskey();
      for (let i = 0; i < 3; i++) expect((await passkeyLogin(t, alice.authenticator)).status).toBe(200);
      // The authenticator is at 3; a copy of the key taken at 1 signs with 2, then the same 3.
      expectError(await passkeyLogin(t, alice.authenticator, { ceremony: { counter: 2 } }), 401, 'invalid_credentials');
      expectError(await passkeyLogin(t, alice.authenticator, { ceremony: { counter: 3 } }), 401, 'invalid_credentials');
      const events = await auditRows(t.schema, { type: 'passkey_clone_suspected', userId: alice.user.id });
      expect(events.map((e) => [Number(e.data.stored_counter), e.data.presented_counter, e.data.passkey_id])).toEqual([
        [3, 2, alice.passkey.id],
        [3, 3, alice.passkey.id],
      ]);
      // The genuine authenticator moves on past it.
      expect((await passkeyLogin(t, alice.authenticator, { ceremony: { counter: 10 } })).status).toBe(200);
    });

    it('a forged response with a low counter is no clone: the counter is judged only once the signature holds', async () => {
      const alice = await userWithPasskey();
      expect((await passkeyLogin(t, alice.authenticator, { ceremony: { counter: 5 } })).status).toBe(200);
      const { challenge_id, options } = await signInOptions(t);
      const response = alice.authenticator.get(options, { origin: ORIGIN, counter: 1 });
      const forged = { ...response, response: { ...response.response, signature: Buffer.alloc(70, 1).toString('base64url') } };
      expectError(await login({ challenge_id, response: forged }), 401, 'invalid_credentials');
      expect(await auditRows(t.schema, { type: 'passkey_clone_suspected', userId: alice.user.id })).toEqual([]);
    });

    it('an authenticator that keeps no counter (always 0) signs in every time', async () => {
      const u = await verifiedUser(t);
      const counterless = new SoftAuthenticator(0);
      await enrol(t, u.token, counterless);
      for (let i = 0; i < 3; i++) expect((await passkeyLogin(t, counterless)).status).toBe(200);
    });
  });

  describe("someone else's credential", () => {
    it("a second authenticator's response for Alice's credential (its own key, her id and user handle) is refused", async () => {
      const alice = await userWithPasskey();
      const mallory = new SoftAuthenticator();
      // Mallory's authenticator makes a key of its own under Alice's credential id and user handle.
      const { options } = await registrationOptions(t, alice.token);
      mallory.create(options, { origin: ORIGIN, credentialId: alice.credentialId });
      expectError(await passkeyLogin(t, mallory, { username: alice.username, ceremony: { credentialId: alice.credentialId } }), 401, 'invalid_credentials');
      expectError(await passkeyLogin(t, mallory, { ceremony: { credentialId: alice.credentialId } }), 401, 'invalid_credentials');
    });

    it("Alice's genuine assertion claiming Bob's user handle is refused", async () => {
      const alice = await userWithPasskey();
      const bob = await userWithPasskey();
      const { challenge_id, options } = await signInOptions(t);
      const response = alice.authenticator.get(options, { origin: ORIGIN });
      const bobsHandle = Buffer.from(bob.user.id.replace(/-/g, ''), 'hex').toString('base64url');
      expectError(
        await login({ challenge_id, response: { ...response, response: { ...response.response, userHandle: bobsHandle } } }),
        401,
        'invalid_credentials',
      );
    });

    it("as a second factor, another user's passkey is refused and counts as a wrong second factor of that sign-in", async () => {
      const alice = await userWithPasskey();
      const bob = await userWithPasskey();
      const setup = await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(alice.token)).send({ password: alice.password });
      expect(setup.status).toBe(200);
      const { TOTP, Secret } = await import('otpauth');
      const totp = new TOTP({ secret: Secret.fromBase32(setup.body.secret as string) });
      await t.http.post(`${BASE}/mfa/totp/confirm`).set(bearer(alice.token)).send({ code: totp.generate() });
      const first = await t.http.post(`${BASE}/login`).send({ username: alice.username, password: alice.password });
      expect(first.body.code).toBe('mfa_required');
      const { options } = await signInOptions(t);
      const res = await t.http
        .post(`${BASE}/login/mfa`)
        .send({ mfa_id: first.body.mfa_id, method: 'passkey', response: bob.authenticator.get(options, { origin: ORIGIN }) });
      expectError(res, 401, 'invalid_credentials');
      expect((await auditRows(t.schema, { type: 'mfa_failed', userId: alice.user.id })).map((e) => e.data)).toEqual([{ method: 'passkey' }]);
      // Her own finishes it: one wrong try does not end an mfa_id.
      const mine = await signInOptions(t, { mfa_id: first.body.mfa_id });
      const ok = await t.http
        .post(`${BASE}/login/mfa`)
        .send({ mfa_id: first.body.mfa_id, method: 'passkey', response: alice.authenticator.get(mine.options, { origin: ORIGIN }) });
      expect(ok.status, ok.text).toBe(200);
    });
  });

  describe('credentials that are not the account’s own access token', () => {
    it('an API token, a service key or an impersonation token is refused (403) on every passkey route; the admin routes need the admin role', async () => {
      const alice = await userWithPasskey();
      const admin = await registerAdmin(t);
      const apiToken = (
        await t.http
          .post(`${BASE}/me/api-tokens`)
          .set(bearer(alice.token))
          .send({ name: 'ci', scopes: ['*'] })
      ).body.token as string;
      const adminApiToken = (await t.http.post(`${BASE}/me/api-tokens`).set(bearer(admin.token)).send({ name: 'ops' })).body.token as string;
      const impersonation = (await adminApi(t, admin.token).impersonate(alice.user.id)).body.token as string;
      expect(impersonation).toBeTruthy();
      const group = (await groupApi(t, alice.token).create({ name: `keys ${alice.username}` })).body.group as { id: string };
      const serviceKey = (
        await t.http
          .post(`${BASE}/groups/${group.id}/api-tokens`)
          .set(bearer(alice.token))
          .send({ name: 'svc', scopes: ['read'] })
      ).body.token as string;
      const { challenge_id, options } = await registrationOptions(t, alice.token);
      const response = new SoftAuthenticator().create(options, { origin: ORIGIN });

      const routes = (token: string) => [
        t.http.post(`${BASE}/passkeys/register/options`).set(bearer(token)).send({}),
        t.http.post(`${BASE}/passkeys/register`).set(bearer(token)).send({ challenge_id, response }),
        t.http.get(`${BASE}/me/passkeys`).set(bearer(token)),
        t.http.get(`${BASE}/${alice.user.id}/passkeys`).set(bearer(token)),
        t.http.patch(`${BASE}/me/passkeys/${alice.passkey.id}`).set(bearer(token)).send({ name: 'x' }),
        t.http.delete(`${BASE}/me/passkeys/${alice.passkey.id}`).set(bearer(token)),
        t.http.get(`${BASE}/admin/users/${alice.user.id}/passkeys`).set(bearer(token)),
        t.http.patch(`${BASE}/admin/users/${alice.user.id}/passkeys/${alice.passkey.id}`).set(bearer(token)).send({ name: 'x' }),
        t.http.delete(`${BASE}/admin/users/${alice.user.id}/passkeys/${alice.passkey.id}`).set(bearer(token)),
      ];
      for (const token of [apiToken, serviceKey, impersonation]) {
        for (const res of await Promise.all(routes(token))) expectError(res, 403, 'forbidden');
      }
      // An admin's API token without the scope `admin` reaches neither the admin routes nor anyone's passkeys.
      for (const res of await Promise.all(routes(adminApiToken))) expectError(res, 403, 'forbidden');
      expect(await auditRows(t.schema, { type: 'impersonation_refused', userId: alice.user.id })).toHaveLength(9);

      // Nothing changed, and the challenge the refused registrations carried is still Alice's to use.
      expect(await t.auth.passkeys.list(alice.user.id)).toEqual([expect.objectContaining({ id: alice.passkey.id, name: 'Passkey' })]);
      expect((await t.http.post(`${BASE}/passkeys/register`).set(bearer(alice.token)).send({ challenge_id, response })).status).toBe(201);
    });

    it('malformed responses are 400, never a 500', async () => {
      const { challenge_id } = await signInOptions(t);
      for (const response of [
        'x',
        [],
        { id: 'a+b', rawId: 'a+b', type: 'public-key', response: { clientDataJSON: 'AA', authenticatorData: 'AA', signature: 'AA' } },
        { id: 'AA', rawId: 'AA', type: 'public-key', response: { clientDataJSON: 'AA' } },
        { id: 'AA', rawId: 'AA', type: 'public-key', response: { clientDataJSON: 'AA', authenticatorData: 'AA', signature: 'AA', userHandle: 7 } },
      ]) {
        expectError(await login({ challenge_id, response }), 400, 'validation_error');
      }
      expectError(await login({ challenge_id: 'not-a-uuid', response: {} }), 400, 'validation_error');
      // Well-formed but not WebAuthn at all: one 401.
      const junk = {
        id: 'AA',
        rawId: 'AA',
        type: 'public-key',
        response: { clientDataJSON: Buffer.from('{"challenge":1}').toString('base64url'), authenticatorData: 'AA', signature: 'AA' },
      };
      expectError(await login({ challenge_id, response: junk }), 401, 'invalid_credentials');
      expectError(await t.http.post(`${BASE}/login/passkey/options`).send({ username: 'x'.repeat(400) }), 400, 'validation_error');
    });
  });
});
