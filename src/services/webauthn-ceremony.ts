import { randomBytes } from 'node:crypto';
import type * as SimpleWebAuthn from '@simplewebauthn/server';
import { lazyRequire } from '../lazy-require.js';
import type { ResolvedWebAuthn } from '../webauthn-options.js';

// The WebAuthn ceremonies as @simplewebauthn/server runs them, behind the few calls the passkey
// services make: options for the browser, and the verification of what it answers. Loaded on the
// first passkey operation, so an app without the `webauthn` option never carries it.
const webauthn = lazyRequire<typeof SimpleWebAuthn>('@simplewebauthn/server');

/** How long a registration or sign-in challenge lives (the browser is told the same, in milliseconds). */
export const PASSKEY_CHALLENGE_SECONDS = 300;
/** COSE algorithms accepted for a new passkey: EdDSA, ES256, RS256 (what authenticators offer). */
const ALGORITHMS = [-8, -7, -257];

/** The browser's answer to `navigator.credentials.create()` or `.get()`, as JSON (base64url fields). */
export type RegistrationResponse = SimpleWebAuthn.RegistrationResponseJSON;
export type AssertionResponse = SimpleWebAuthn.AuthenticationResponseJSON;
export type CreationOptions = SimpleWebAuthn.PublicKeyCredentialCreationOptionsJSON;
export type RequestOptions = SimpleWebAuthn.PublicKeyCredentialRequestOptionsJSON;

/** A credential as the options name it: its id and how the browser may reach it. */
export interface CredentialRef {
  credential_id: string;
  transports: string[];
}

/** What a verified registration gives: nothing secret, all of it public material. */
export interface NewCredential {
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: string;
  backedUp: boolean;
}

/** A fresh challenge: 32 random bytes, base64url, as the client data will carry it back. */
export function newChallenge(): string {
  return randomBytes(32).toString('base64url');
}

/** The user handle of a user: the 16 bytes of their id (no name, no address: the authenticator keeps it). */
export function userHandleOf(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId.replace(/-/g, ''), 'hex'));
}

/**
 * The challenge a response signed, read from its client data; undefined when there is none to
 * read. Only to find the challenge it claims: the verification checks it again against the one issued.
 */
export function challengeOf(response: { response: { clientDataJSON: string } }): string | undefined {
  try {
    const data = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof data.challenge === 'string' && /^[A-Za-z0-9_-]{16,128}$/.test(data.challenge) ? data.challenge : undefined;
  } catch {
    return undefined;
  }
}

const toDescriptor = (c: CredentialRef) => ({ id: c.credential_id, transports: c.transports as SimpleWebAuthn.AuthenticatorTransport[] });

/** PublicKeyCredentialCreationOptions: a discoverable credential with user verification, the user's own passkeys excluded. */
export function creationOptions(
  cfg: ResolvedWebAuthn,
  input: { challenge: string; userId: string; userName: string; displayName: string; exclude: CredentialRef[] },
): Promise<CreationOptions> {
  return webauthn().generateRegistrationOptions({
    rpName: cfg.rpName,
    rpID: cfg.rpId,
    userID: userHandleOf(input.userId),
    userName: input.userName,
    userDisplayName: input.displayName,
    challenge: new Uint8Array(Buffer.from(input.challenge, 'base64url')),
    timeout: PASSKEY_CHALLENGE_SECONDS * 1000,
    attestationType: 'none',
    excludeCredentials: input.exclude.map(toDescriptor),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    supportedAlgorithmIDs: ALGORITHMS,
  });
}

/** PublicKeyCredentialRequestOptions: the named credentials, or none at all (discoverable credentials). */
export function requestOptions(
  cfg: ResolvedWebAuthn,
  input: { challenge: string; allow: Array<{ credential_id: string }> | undefined },
): Promise<RequestOptions> {
  return webauthn().generateAuthenticationOptions({
    rpID: cfg.rpId,
    challenge: new Uint8Array(Buffer.from(input.challenge, 'base64url')),
    timeout: PASSKEY_CHALLENGE_SECONDS * 1000,
    userVerification: 'required',
    // Ids only: transports differ by authenticator, and a made-up credential must look like a real one.
    ...(input.allow ? { allowCredentials: input.allow.map((c) => ({ id: c.credential_id })) } : {}),
  });
}

/**
 * Verifies a registration against the issued challenge, the configured origins and RP ID exactly,
 * with user verification; undefined when anything fails (the caller answers one error for all).
 */
export async function verifyRegistration(cfg: ResolvedWebAuthn, response: RegistrationResponse, challenge: string): Promise<NewCredential | undefined> {
  try {
    const result = await webauthn().verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: [...cfg.origins],
      expectedRPID: cfg.rpId,
      requireUserVerification: true,
      supportedAlgorithmIDs: ALGORITHMS,
    });
    if (!result.verified) return undefined;
    const info = result.registrationInfo;
    return {
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: [...new Set(response.response.transports ?? [])].filter((t) => /^[a-z-]{1,32}$/.test(t)).slice(0, 8),
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
    };
  } catch {
    return undefined;
  }
}

/**
 * Verifies an assertion of `credential` against the issued challenge, the origins and RP ID
 * exactly, with user verification. The signature counter is not judged here (the library would
 * judge it before the signature, so a forged response could pass for a clone): the caller compares
 * the verified counter with the stored one. Undefined when anything fails.
 */
export async function verifyAssertion(
  cfg: ResolvedWebAuthn,
  response: AssertionResponse,
  challenge: string,
  credential: { credential_id: string; public_key: string; transports: string[] },
): Promise<{ counter: number; backedUp: boolean } | undefined> {
  try {
    const result = await webauthn().verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: [...cfg.origins],
      expectedRPID: cfg.rpId,
      requireUserVerification: true,
      credential: {
        id: credential.credential_id,
        publicKey: new Uint8Array(Buffer.from(credential.public_key, 'base64url')),
        counter: 0,
        transports: credential.transports,
      },
    });
    if (!result.verified || !result.authenticationInfo.userVerified) return undefined;
    return { counter: result.authenticationInfo.newCounter, backedUp: result.authenticationInfo.credentialBackedUp };
  } catch {
    return undefined;
  }
}

/**
 * Whether an assertion's counter says the credential was copied: the authenticator keeps a counter
 * (either value is non-zero) and it did not move past the stored one. A signature checked over an
 * older counter came from another copy of the key.
 */
export function counterRegressed(stored: number, presented: number): boolean {
  return (stored > 0 || presented > 0) && presented <= stored;
}
