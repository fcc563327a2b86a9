import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

// A WebAuthn authenticator in plain Node (P-256 keys, `none` attestation), for the tests and the
// benchmark that need what a browser never produces: a validly signed response for another origin
// or RP ID, a counter of one's choosing, a response made outside any page. The browser tests drive
// Chromium's own virtual authenticator instead (test/helpers/virtual-authenticator.ts).

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();
const b64url = (data: Buffer | Uint8Array) => Buffer.from(data).toString('base64url');

/** A credential this authenticator holds. */
export interface SoftCredential {
  id: string;
  rpId: string;
  /** base64url of the user handle the registration named. */
  userHandle: string;
  key: KeyObject;
  publicKey: KeyObject;
  signCount: number;
}

/** What a ceremony may be asked to do differently from an honest browser. */
export interface Ceremony {
  /** The page's origin as the client data states it. */
  origin: string;
  /** The RP ID whose hash goes into the authenticator data. @default the options' RP ID */
  rpId?: string;
  /** Whether the user was verified (UV flag). @default true */
  userVerified?: boolean;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

function counterBytes(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The COSE_Key (EC2, ES256, P-256) of a public key. */
function coseKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  return isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, new Uint8Array(Buffer.from(jwk.x!, 'base64url'))],
      [-3, new Uint8Array(Buffer.from(jwk.y!, 'base64url'))],
    ]),
  );
}

export class SoftAuthenticator {
  readonly credentials = new Map<string, SoftCredential>();
  /** Counters start here and go up by one per assertion (0 keeps no counter, as many passkeys do). */
  constructor(private readonly counterStep = 1) {}

  /**
   * `navigator.credentials.create()`: a new credential for the options' RP and user; answers the
   * response JSON. `credentialId` makes it under an id chosen by the caller (a credential id
   * another account already registered).
   */
  create(options: { challenge: string; rp: { id?: string }; user: { id: string } }, ceremony: Ceremony & { credentialId?: string }) {
    const rpId = ceremony.rpId ?? options.rp.id!;
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const id = ceremony.credentialId === undefined ? randomBytes(16) : Buffer.from(ceremony.credentialId, 'base64url');
    const credential: SoftCredential = { id: b64url(id), rpId, userHandle: options.user.id, key: privateKey, publicKey, signCount: 0 };
    this.credentials.set(credential.id, credential);
    const flags = FLAG_UP | FLAG_AT | (ceremony.userVerified === false ? 0 : FLAG_UV);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([flags]), counterBytes(0), Buffer.alloc(16), idLength, id, coseKey(publicKey)]);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: ceremony.origin, crossOrigin: false }));
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Map<string, string> | Uint8Array>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', new Uint8Array(authData)],
      ]),
    );
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key' as const,
      response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal'] },
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
    };
  }

  /**
   * `navigator.credentials.get()`: an assertion by `credentialId` (default: the first credential
   * the options allow, or the first held). `counter` overrides the signature counter sent.
   */
  get(
    options: { challenge: string; rpId?: string; allowCredentials?: Array<{ id: string }> },
    ceremony: Ceremony & { credentialId?: string; counter?: number },
  ) {
    const id = ceremony.credentialId ?? options.allowCredentials?.find((c) => this.credentials.has(c.id))?.id ?? [...this.credentials.keys()][0];
    const credential = id === undefined ? undefined : this.credentials.get(id);
    if (!credential) throw new Error('soft authenticator: no credential for these options');
    const rpId = ceremony.rpId ?? options.rpId ?? credential.rpId;
    credential.signCount += this.counterStep;
    const counter = ceremony.counter ?? credential.signCount;
    const flags = FLAG_UP | (ceremony.userVerified === false ? 0 : FLAG_UV);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([flags]), counterBytes(counter)]);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: ceremony.origin, crossOrigin: false }));
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.key);
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
    };
  }
}
