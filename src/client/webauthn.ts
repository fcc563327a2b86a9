import { AuthClientError } from './errors.js';
import type {
  AssertionResponseJSON,
  PasskeyCreationOptionsJSON,
  PasskeyDescriptorJSON,
  PasskeyRequestOptionsJSON,
  RegistrationResponseJSON,
  WebAuthnCredentials,
  WebAuthnCreationOptions,
  WebAuthnDescriptor,
  WebAuthnRequestOptions,
} from './types.js';

// The browser half of a passkey ceremony: the server's options (JSON, binary fields base64url)
// made into what `navigator.credentials` takes, and the credential it gives back made into JSON.
// Written against the WebAuthn Level 2 API every current browser has, without the Level 3 JSON
// helpers (parseCreationOptionsFromJSON, toJSON) some still lack. No Node-only API, and no type of
// the DOM library either (see WebAuthnCredentials): the client type-checks without it.

/** The parts of a PublicKeyCredential read here. */
interface PublicKeyCredentialLike {
  id: string;
  type: string;
  rawId: ArrayBuffer;
  authenticatorAttachment?: string | null;
  response: unknown;
  getClientExtensionResults(): unknown;
}
interface AttestationResponseLike {
  clientDataJSON: ArrayBuffer;
  attestationObject: ArrayBuffer;
  getTransports?: () => string[];
}
interface AssertionResponseLike {
  clientDataJSON: ArrayBuffer;
  authenticatorData: ArrayBuffer;
  signature: ArrayBuffer;
  userHandle: ArrayBuffer | null;
}

/** base64url (no padding) to bytes. */
export function fromBase64url(value: string): ArrayBuffer {
  const base64 = value.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((value.length + 3) % 4);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** Bytes to base64url (no padding). */
export function toBase64url(value: ArrayBuffer | ArrayBufferView): string {
  const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const descriptors = (list: PasskeyDescriptorJSON[]): WebAuthnDescriptor[] => list.map((d) => ({ ...d, id: fromBase64url(d.id) }));

/** The server's creation options as `navigator.credentials.create({ publicKey })` takes them. */
export function creationOptions(json: PasskeyCreationOptionsJSON): WebAuthnCreationOptions {
  const { challenge, user, excludeCredentials, ...rest } = json;
  return {
    ...rest,
    challenge: fromBase64url(challenge),
    user: { ...user, id: fromBase64url(user.id) },
    ...(excludeCredentials ? { excludeCredentials: descriptors(excludeCredentials) } : {}),
  };
}

/** The server's request options as `navigator.credentials.get({ publicKey })` takes them. */
export function requestOptions(json: PasskeyRequestOptionsJSON): WebAuthnRequestOptions {
  const { challenge, allowCredentials, ...rest } = json;
  return { ...rest, challenge: fromBase64url(challenge), ...(allowCredentials ? { allowCredentials: descriptors(allowCredentials) } : {}) };
}

const attachmentOf = (credential: PublicKeyCredentialLike): { authenticatorAttachment?: 'platform' | 'cross-platform' } =>
  credential.authenticatorAttachment === 'platform' || credential.authenticatorAttachment === 'cross-platform'
    ? { authenticatorAttachment: credential.authenticatorAttachment }
    : {};

/** A new credential as the JSON `/passkeys/register` takes. */
export function registrationJSON(credential: PublicKeyCredentialLike): RegistrationResponseJSON {
  const response = credential.response as AttestationResponseLike;
  const transports = typeof response.getTransports === 'function' ? response.getTransports() : undefined;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: 'public-key',
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      attestationObject: toBase64url(response.attestationObject),
      ...(transports ? { transports } : {}),
    },
    ...attachmentOf(credential),
    clientExtensionResults: credential.getClientExtensionResults() as Record<string, unknown>,
  };
}

/** An assertion as the JSON `/login/passkey` and `/login/mfa` take. */
export function assertionJSON(credential: PublicKeyCredentialLike): AssertionResponseJSON {
  const response = credential.response as AssertionResponseLike;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: 'public-key',
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      authenticatorData: toBase64url(response.authenticatorData),
      signature: toBase64url(response.signature),
      ...(response.userHandle ? { userHandle: toBase64url(response.userHandle) } : {}),
    },
    ...attachmentOf(credential),
    clientExtensionResults: credential.getClientExtensionResults() as Record<string, unknown>,
  };
}

/** `navigator.credentials` where the page has it. */
export function browserCredentials(): WebAuthnCredentials | undefined {
  const nav = (globalThis as { navigator?: { credentials?: WebAuthnCredentials } }).navigator;
  return nav?.credentials && typeof nav.credentials.create === 'function' ? nav.credentials : undefined;
}

/**
 * Runs one browser ceremony: `passkey_unavailable` without WebAuthn, `passkey_cancelled` when the
 * user dismissed it (or it timed out: browsers do not tell the two apart), `passkey_failed` for
 * anything else the browser refused (`cause` holds its DOMException: `InvalidStateError` when the
 * authenticator already holds a passkey of this account).
 */
export async function ceremony(
  credentials: WebAuthnCredentials | undefined,
  run: (c: WebAuthnCredentials) => Promise<unknown>,
): Promise<PublicKeyCredentialLike> {
  if (!credentials)
    throw new AuthClientError('passkey_unavailable', 0, 'this browser offers no passkeys (WebAuthn needs a secure context: https or localhost)');
  let credential: unknown;
  try {
    credential = await run(credentials);
  } catch (cause) {
    const given = (cause as { name?: unknown } | null)?.name;
    const name = typeof given === 'string' ? given : 'Error';
    if (name === 'NotAllowedError' || name === 'AbortError')
      throw new AuthClientError('passkey_cancelled', 0, 'the passkey prompt was dismissed or timed out', undefined, { cause });
    throw new AuthClientError('passkey_failed', 0, `the browser refused the passkey ceremony (${name})`, undefined, { cause });
  }
  if (!credential || (credential as { type?: unknown }).type !== 'public-key') throw new AuthClientError('passkey_cancelled', 0, 'no passkey was chosen');
  return credential as PublicKeyCredentialLike;
}
