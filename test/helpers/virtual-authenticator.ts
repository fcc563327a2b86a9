import { generateKeyPairSync } from 'node:crypto';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';

// Chromium's own WebAuthn virtual authenticator, driven over the DevTools protocol: the browser
// runs the real ceremony (origin and RP ID checks, client data, CTAP2 attestation and assertion)
// and the authenticator answers as a platform passkey provider with user verification would.
// Its credentials can be read and planted (`WebAuthn.getCredentials` / `addCredential`), which is
// how a test copies a key with an older signature counter, or plants a key under someone else's
// credential id. CDP speaks standard base64 for binary fields.

/** A credential as the virtual authenticator holds it. */
export interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId: string;
  /** base64 PKCS#8 of the private key. */
  privateKey: string;
  /** base64 of the user handle. */
  userHandle?: string;
  signCount: number;
}

export interface VirtualAuthenticator {
  id: string;
  cdp: CDPSession;
  credentials(): Promise<VirtualCredential[]>;
  add(credential: VirtualCredential): Promise<void>;
  remove(credentialId: string): Promise<void>;
  setUserVerified(verified: boolean): Promise<void>;
  detach(): Promise<void>;
}

/**
 * Adds a CTAP2 platform authenticator with resident keys and user verification (the user always
 * verifies, and presence is simulated) to `page`'s browser context.
 */
export async function addVirtualAuthenticator(context: BrowserContext, page: Page, cdp?: CDPSession): Promise<VirtualAuthenticator> {
  const session = cdp ?? (await context.newCDPSession(page));
  await session.send('WebAuthn.enable');
  const { authenticatorId } = await session.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    id: authenticatorId,
    cdp: session,
    credentials: async () => (await session.send('WebAuthn.getCredentials', { authenticatorId })).credentials as VirtualCredential[],
    add: async (credential) => {
      await session.send('WebAuthn.addCredential', { authenticatorId, credential });
    },
    remove: async (credentialId) => {
      await session.send('WebAuthn.removeCredential', { authenticatorId, credentialId });
    },
    setUserVerified: async (isUserVerified) => {
      await session.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified });
    },
    detach: async () => {
      await session.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    },
  };
}

/** A fresh P-256 private key as CDP takes it (base64 PKCS#8). */
export function newPrivateKey(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
}

/** In-page JavaScript (the tests are type-checked without the DOM library, so page code is a string). */
const IN_PAGE_GET = `async (o) => {
  const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
  const text = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const publicKey = { ...o, challenge: bytes(o.challenge) };
  if (o.allowCredentials) publicKey.allowCredentials = o.allowCredentials.map((c) => ({ ...c, id: bytes(c.id) }));
  const credential = await navigator.credentials.get({ publicKey });
  const r = credential.response;
  const response = { clientDataJSON: text(r.clientDataJSON), authenticatorData: text(r.authenticatorData), signature: text(r.signature) };
  if (r.userHandle) response.userHandle = text(r.userHandle);
  return { id: credential.id, rawId: text(credential.rawId), type: credential.type, response, clientExtensionResults: {} };
}`;

/**
 * Runs `navigator.credentials.get()` in the page with the server's request options (JSON) and
 * answers the assertion as JSON, by hand rather than through the client: for tests that post it
 * themselves (twice, elsewhere, or made on another origin's page).
 */
export function assertInPage(page: Page, options: unknown): Promise<Record<string, unknown> & { id: string }> {
  return page.evaluate(`(${IN_PAGE_GET})(${JSON.stringify(options)})`);
}
