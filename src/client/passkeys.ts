import type { Passkey, PasskeyCreationOptionsJSON, PasskeyRequestOptionsJSON, PasskeySignInInput, User, WebAuthnCredentials } from './types.js';
import { assertionJSON, ceremony, creationOptions, registrationJSON, requestOptions } from './webauthn.js';

/** What the passkey calls borrow from the client: its request helpers and the WebAuthn API. */
export interface PasskeyCallDeps {
  /** A request without the access token. */
  call<T>(method: string, path: string, init: { body?: unknown }): Promise<T>;
  /** A request with the access token, refreshed once when it expired. */
  authed<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** A token-issuing request: keeps the tokens and answers the user. */
  signIn(path: string, body: object): Promise<User>;
  webauthn(): WebAuthnCredentials | undefined;
}

/** The client's passkey methods (contract 5.7): sign in, register, and the account's list. */
export function passkeyCalls(d: PasskeyCallDeps) {
  const path = (userId: string, passkeyId?: string) =>
    `/${encodeURIComponent(userId)}/passkeys${passkeyId === undefined ? '' : `/${encodeURIComponent(passkeyId)}`}`;
  return {
    /**
     * Signs in with a passkey in the browser (`navigator.credentials.get`): with `username`, one of
     * that account's; without, whichever the user picks; with `mfaId`, as the second factor of a
     * sign-in that answered `mfa_required`. A passkey is two factors: no `mfa_required` follows.
     * Browser refusals are `passkey_cancelled`, `passkey_unavailable` or `passkey_failed`.
     */
    async signInWithPasskey(input: PasskeySignInInput = {}): Promise<User> {
      const body = input.mfaId !== undefined ? { mfa_id: input.mfaId } : input.username !== undefined ? { username: input.username } : {};
      const { challenge_id, options } = await d.call<{ challenge_id: string; options: PasskeyRequestOptionsJSON }>('POST', '/login/passkey/options', { body });
      const response = assertionJSON(await ceremony(d.webauthn(), (c) => c.get({ publicKey: requestOptions(options) })));
      return input.mfaId !== undefined
        ? d.signIn('/login/mfa', { mfa_id: input.mfaId, method: 'passkey', challenge_id, response })
        : d.signIn('/login/passkey', { challenge_id, response });
    },

    /**
     * Adds a passkey to the signed-in account (`navigator.credentials.create`); answers it as listed.
     * Unless the sign-in is of the last 10 minutes, the server wants the account's `password`
     * (`reauthentication_required` without it, or with a wrong one).
     */
    async registerPasskey(input: { name?: string; password?: string } = {}): Promise<Passkey> {
      const proof = input.password !== undefined ? { password: input.password } : {};
      const { challenge_id, options } = await d.authed<{ challenge_id: string; options: PasskeyCreationOptionsJSON }>(
        'POST',
        '/passkeys/register/options',
        proof,
      );
      const response = registrationJSON(await ceremony(d.webauthn(), (c) => c.create({ publicKey: creationOptions(options) })));
      const body = { challenge_id, response, ...(input.name !== undefined ? { name: input.name } : {}) };
      return (await d.authed<{ passkey: Passkey }>('POST', '/passkeys/register', body)).passkey;
    },

    /** The account's passkeys (`me`, or another user's for a site admin): list, rename, remove (never the last way in: 409). */
    passkeys: {
      list: (userId = 'me') => d.authed<Passkey[]>('GET', path(userId)),
      rename: async (passkeyId: string, name: string, userId = 'me') =>
        (await d.authed<{ passkey: Passkey }>('PATCH', path(userId, passkeyId), { name })).passkey,
      remove: (passkeyId: string, userId = 'me') => d.authed<{ success: true }>('DELETE', path(userId, passkeyId)),
    },
  };
}
