import { sign, verify } from 'node:crypto';
import type { AsymmetricKey } from './signing-keys.js';

// Compact JWS (RFC 7515) for the asymmetric algorithms, on node:crypto: synchronous, so a verified
// token is judged in the same tick as an HS256 one (jsonwebtoken has no EdDSA; jose verifies
// asynchronously only). HS256 stays with jsonwebtoken.

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** ES256 signatures are R || S (RFC 7518 3.4), never DER; Ed25519 signatures are 64 bytes too. */
const SIGNATURE_BYTES = 64;

function signature(key: AsymmetricKey, input: Buffer): Buffer {
  return key.alg === 'EdDSA' ? sign(null, input, key.privateKey!) : sign('sha256', input, { key: key.privateKey!, dsaEncoding: 'ieee-p1363' });
}

/** Signs `payload` with `key` (which must hold its private half), the header naming its alg and kid. */
export function signWithKey(key: AsymmetricKey, typ: string, payload: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: key.alg, typ, kid: key.kid })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const input = `${header}.${body}`;
  return `${input}.${signature(key, Buffer.from(input)).toString('base64url')}`;
}

/** Whether the signature of a compact JWS is `key`'s, over exactly its first two parts. */
export function signatureMatches(key: AsymmetricKey, token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) return false;
  const sig = Buffer.from(parts[2]!, 'base64url');
  if (sig.length !== SIGNATURE_BYTES) return false;
  const input = Buffer.from(`${parts[0]}.${parts[1]}`);
  try {
    return key.alg === 'EdDSA' ? verify(null, input, key.publicKey, sig) : verify('sha256', input, { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}

/** The payload of a compact JWS whose signature was checked: an object, or undefined. */
export function payloadOf(token: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
