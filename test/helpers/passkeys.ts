import { expect } from 'vitest';
import { bearer, type TestApp } from './app.js';
import { BASE } from './endpoints.js';
import { SoftAuthenticator, type Ceremony } from './soft-authenticator.js';

/** The relying party of the HTTP passkey tests: the app at https://app.example.com, RP ID example.com. */
export const ORIGIN = 'https://app.example.com';
export const WEBAUTHN = { rpId: 'example.com', rpName: 'Example', origins: [ORIGIN] };

type Options = { challenge: string; rp: { id?: string }; user: { id: string }; rpId?: string; allowCredentials?: Array<{ id: string }> };

/** The options of a registration for the caller of `token`. */
export async function registrationOptions(t: TestApp, token: string) {
  const res = await t.http.post(`${BASE}/passkeys/register/options`).set(bearer(token)).send({});
  expect(res.status, res.text).toBe(200);
  return res.body as { challenge_id: string; options: Options };
}

/** Registers a passkey of `authenticator` for the caller of `token`; answers it and its credential id. */
export async function enrol(t: TestApp, token: string, authenticator: SoftAuthenticator, input: { name?: string; ceremony?: Partial<Ceremony> } = {}) {
  const { challenge_id, options } = await registrationOptions(t, token);
  const response = authenticator.create(options, { origin: ORIGIN, ...input.ceremony });
  const res = await t.http
    .post(`${BASE}/passkeys/register`)
    .set(bearer(token))
    .send({ challenge_id, response, ...(input.name !== undefined ? { name: input.name } : {}) });
  expect(res.status, res.text).toBe(201);
  return { passkey: res.body.passkey as { id: string; name: string }, credentialId: response.id };
}

/** Sign-in options (discoverable without a username). */
export async function signInOptions(t: TestApp, body: { username?: string; mfa_id?: string } = {}) {
  const res = await t.http.post(`${BASE}/login/passkey/options`).send(body);
  expect(res.status, res.text).toBe(200);
  return res.body as { challenge_id: string; options: Options };
}

/** A whole passkey sign-in: options, an assertion of `authenticator`, `/login/passkey`; answers the response. */
export async function passkeyLogin(
  t: TestApp,
  authenticator: SoftAuthenticator,
  input: { username?: string; mfa_id?: string; ceremony?: Partial<Ceremony> & { credentialId?: string; counter?: number } } = {},
) {
  const { challenge_id, options } = await signInOptions(t, input.username !== undefined ? { username: input.username } : {});
  const response = authenticator.get(options, { origin: ORIGIN, ...input.ceremony });
  return t.http.post(`${BASE}/login/passkey`).send({ challenge_id, response, ...(input.mfa_id !== undefined ? { mfa_id: input.mfa_id } : {}) });
}

/** A TestApp with passkeys. */
export const withPasskeys = { webauthn: WEBAUTHN };

export { SoftAuthenticator };
