import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthClientError, createAuthClient, type WebAuthnCredentials } from '../src/client/index.js';
import { createTestApp, PASSWORD, verifiedUser, type TestApp } from './helpers/app.js';
import { ORIGIN, SoftAuthenticator, withPasskeys } from './helpers/passkeys.js';

// The client's passkey calls in Node, with the WebAuthn API passed in (`credentials`): a wrapper
// that hands the Node authenticator exactly what a browser's navigator.credentials gets
// (ArrayBuffers) and answers what a browser answers (a PublicKeyCredential with ArrayBuffers), so
// the client's conversions both ways are checked against the real server. The browser itself is
// in passkeys-browser.test.ts.

const b64url = (b: ArrayBuffer) => Buffer.from(b).toString('base64url');
const bytes = (s: string) => {
  const buf = Buffer.from(s, 'base64url');
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
};

/** navigator.credentials over the Node authenticator; `calls` records what the client passed. */
function softCredentials(authenticator: SoftAuthenticator) {
  const calls: Array<{ kind: 'create' | 'get'; publicKey: Record<string, unknown> }> = [];
  const credentials: WebAuthnCredentials = {
    async create({ publicKey }) {
      calls.push({ kind: 'create', publicKey: publicKey as unknown as Record<string, unknown> });
      const json = authenticator.create(
        { challenge: b64url(publicKey.challenge), rp: publicKey.rp, user: { id: b64url(publicKey.user.id) } },
        { origin: ORIGIN },
      );
      return {
        id: json.id,
        type: 'public-key',
        rawId: bytes(json.rawId),
        authenticatorAttachment: 'platform',
        response: {
          clientDataJSON: bytes(json.response.clientDataJSON),
          attestationObject: bytes(json.response.attestationObject),
          getTransports: () => ['internal'],
        },
        getClientExtensionResults: () => ({}),
      };
    },
    async get({ publicKey }) {
      calls.push({ kind: 'get', publicKey: publicKey as unknown as Record<string, unknown> });
      const json = authenticator.get(
        {
          challenge: b64url(publicKey.challenge),
          ...(publicKey.allowCredentials ? { allowCredentials: publicKey.allowCredentials.map((c) => ({ id: b64url(c.id) })) } : {}),
        },
        { origin: ORIGIN },
      );
      return {
        id: json.id,
        type: 'public-key',
        rawId: bytes(json.rawId),
        authenticatorAttachment: 'platform',
        response: {
          clientDataJSON: bytes(json.response.clientDataJSON),
          authenticatorData: bytes(json.response.authenticatorData),
          signature: bytes(json.response.signature),
          userHandle: bytes(json.response.userHandle),
        },
        getClientExtensionResults: () => ({}),
      };
    },
  };
  return { credentials, calls };
}

describe('client passkeys (Node, WebAuthn passed in)', () => {
  let t: TestApp;
  let server: Server;
  let api: string;

  beforeAll(async () => {
    t = await createTestApp(withPasskeys);
    server = createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    api = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await t?.close();
  });

  it('registerPasskey, signInWithPasskey (with and without a username, and as the second factor), passkeys.list/rename/remove', async () => {
    const u = await verifiedUser(t);
    const { credentials, calls } = softCredentials(new SoftAuthenticator());
    const client = createAuthClient({ baseUrl: api, credentials });
    await client.login({ username: u.username, password: PASSWORD });

    const passkey = await client.registerPasskey({ name: 'Laptop' });
    expect(passkey).toMatchObject({ name: 'Laptop', device_type: 'singleDevice' });
    // The browser got bytes, not base64url strings.
    const created = calls[0]!.publicKey as { challenge: ArrayBuffer; user: { id: ArrayBuffer } };
    expect(created.challenge).toBeInstanceOf(ArrayBuffer);
    expect(Buffer.from(created.user.id).toString('hex')).toBe(u.user.id.replace(/-/g, ''));

    await client.logout();
    expect((await client.signInWithPasskey()).id).toBe(u.user.id);
    expect(client.store.getAccessToken()).toBeTruthy();
    await client.logout();
    expect((await client.signInWithPasskey({ username: u.username })).id).toBe(u.user.id);
    const named = calls.at(-1)!.publicKey as { allowCredentials: Array<{ id: ArrayBuffer }> };
    expect(named.allowCredentials).toHaveLength(1);
    expect(named.allowCredentials[0]!.id).toBeInstanceOf(ArrayBuffer);

    expect(await client.passkeys.list()).toEqual([expect.objectContaining({ id: passkey.id, name: 'Laptop' })]);
    expect(await client.passkeys.rename(passkey.id, 'Old laptop')).toMatchObject({ id: passkey.id, name: 'Old laptop' });

    // As the second factor after a password, with TOTP on.
    const setup = await client.mfa.setup(PASSWORD);
    const { TOTP, Secret } = await import('otpauth');
    await client.mfa.confirm(new TOTP({ secret: Secret.fromBase32(setup.secret) }).generate());
    await client.logout();
    const first = await client.login({ username: u.username, password: PASSWORD }).catch((e: unknown) => e as AuthClientError);
    expect(first).toBeInstanceOf(AuthClientError);
    expect((first as AuthClientError).body).toMatchObject({ code: 'mfa_required', methods: expect.arrayContaining(['passkey']) });
    expect((await client.signInWithPasskey({ mfaId: (first as AuthClientError).body!.mfa_id! })).id).toBe(u.user.id);

    // This login was opened by the passkey (its second factor): removing the passkey ends it too.
    expect(await client.passkeys.remove(passkey.id)).toEqual({ success: true });
    await expect(client.passkeys.list()).rejects.toMatchObject({ status: 401 });
    expect(await t.auth.passkeys.list(u.user.id)).toEqual([]);
  });

  it('browser refusals are client errors: passkey_unavailable, passkey_cancelled, passkey_failed; a refused assertion is the server’s 401', async () => {
    const u = await verifiedUser(t);
    // Node has no navigator.credentials.
    const bare = createAuthClient({ baseUrl: api });
    await bare.login({ username: u.username, password: PASSWORD });
    await expect(bare.registerPasskey()).rejects.toMatchObject({ code: 'passkey_unavailable', status: 0 });

    const refusing = (name: string): WebAuthnCredentials => ({
      create: () => Promise.reject(Object.assign(new Error(name), { name })),
      get: () => Promise.reject(Object.assign(new Error(name), { name })),
    });
    const cancelled = createAuthClient({ baseUrl: api, credentials: refusing('NotAllowedError') });
    await expect(cancelled.signInWithPasskey()).rejects.toMatchObject({ code: 'passkey_cancelled' });
    const failed = createAuthClient({ baseUrl: api, credentials: refusing('InvalidStateError') });
    await failed.login({ username: u.username, password: PASSWORD });
    const err = (await failed.registerPasskey().catch((e: unknown) => e)) as AuthClientError;
    expect(err).toMatchObject({ code: 'passkey_failed', message: expect.stringContaining('InvalidStateError') });
    expect((err.cause as Error).name).toBe('InvalidStateError');
    const nothing = createAuthClient({ baseUrl: api, credentials: { create: () => Promise.resolve(null), get: () => Promise.resolve(null) } });
    await expect(nothing.signInWithPasskey()).rejects.toMatchObject({ code: 'passkey_cancelled' });

    // A passkey the server does not know (never registered there).
    const stranger = new SoftAuthenticator();
    stranger.create({ challenge: 'AAAA', rp: { id: 'example.com' }, user: { id: 'AAAA' } }, { origin: ORIGIN });
    const unknown = createAuthClient({ baseUrl: api, credentials: softCredentials(stranger).credentials });
    await expect(unknown.signInWithPasskey()).rejects.toMatchObject({ code: 'invalid_credentials', status: 401 });
    expect(unknown.store.getAccessToken()).toBeNull();
  });
});
