import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, type JsonWebKey } from 'node:crypto';
import { misuse } from '../option-checks.js';

/** The asymmetric JWS algorithms access tokens may be signed with: Ed25519 and ECDSA on P-256. */
export type SigningAlgorithm = 'EdDSA' | 'ES256';

/** One entry of the `signingKeys` option: a private key (or, after the first, a public key kept to verify). */
export type SigningKeyInput = string | Buffer | KeyObject | JsonWebKey;

/** A public key as published in the JWKS (RFC 7517), with what a verifier needs to pick and pin it. */
export interface PublicJwk {
  kty: 'OKP' | 'EC';
  crv: 'Ed25519' | 'P-256';
  x: string;
  y?: string;
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
}

/** A resolved signing key: its `kid` pins its one algorithm. */
export interface AsymmetricKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** Undefined for a key kept only to verify (a public key listed after the first). */
  readonly privateKey: KeyObject | undefined;
  readonly publicKey: KeyObject;
  readonly jwk: Readonly<PublicJwk>;
}

const SHAPE = 'an Ed25519 or P-256 key: a PEM string, a JWK object or a KeyObject; generate one with `npx authlib keys generate`';

function looksLikeJwk(value: unknown): value is JsonWebKey {
  return (
    value !== null && typeof value === 'object' && !(value instanceof KeyObject) && !Buffer.isBuffer(value) && typeof (value as JsonWebKey).kty === 'string'
  );
}

function keyObjectOf(value: unknown, option: string): KeyObject {
  try {
    if (value instanceof KeyObject) return value;
    if (typeof value === 'string' || Buffer.isBuffer(value)) {
      const pem = value.toString();
      return pem.includes('PRIVATE KEY') ? createPrivateKey(pem) : createPublicKey(pem);
    }
    if (looksLikeJwk(value)) return 'd' in value ? createPrivateKey({ key: value, format: 'jwk' }) : createPublicKey({ key: value, format: 'jwk' });
  } catch (err) {
    throw misuse(option, `could not be read (${(err as Error).message}); it must be ${SHAPE}`);
  }
  throw misuse(option, `must be ${SHAPE}`);
}

function algorithmOf(key: KeyObject, option: string): SigningAlgorithm {
  if (key.type === 'secret') throw misuse(option, `is a secret key; HMAC secrets go in \`jwtSecret\`. It must be ${SHAPE}`);
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw misuse(option, `is a ${key.asymmetricKeyType ?? 'unknown'} key; it must be ${SHAPE}`);
}

/** RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order, base64url. */
export function jwkThumbprint(jwk: Pick<PublicJwk, 'kty' | 'crv' | 'x' | 'y'>): string {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function resolveOne(value: unknown, option: string, mustSign: boolean): AsymmetricKey {
  const key = keyObjectOf(value, option);
  const alg = algorithmOf(key, option);
  if (mustSign && key.type !== 'private')
    throw misuse(option, 'must be a private key: the first key signs (public keys may follow it, to verify during a rotation)');
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const exported = publicKey.export({ format: 'jwk' }) as { kty: 'OKP' | 'EC'; crv: 'Ed25519' | 'P-256'; x: string; y?: string };
  const given = looksLikeJwk(value) ? (value as { kid?: unknown }).kid : undefined;
  if (given !== undefined && (typeof given !== 'string' || given.length === 0 || given.length > 200))
    throw misuse(option, 'has a `kid` that is not a short string');
  const base = { kty: exported.kty, crv: exported.crv, x: exported.x, ...(exported.y ? { y: exported.y } : {}) };
  const jwk: PublicJwk = Object.freeze({ ...base, kid: given ?? jwkThumbprint(base), alg, use: 'sig' as const });
  return Object.freeze({ kid: jwk.kid, alg, privateKey: key.type === 'private' ? key : undefined, publicKey, jwk });
}

/**
 * The `signingKeys` option: none (HS256 with `jwtSecret`, the default), one key, or a list that
 * rotates: the first (a private key) signs, every one verifies, picked by `kid`. A key's `kid` is
 * the one its JWK names, else its RFC 7638 thumbprint, so a rotation needs nothing but the list.
 */
export function signingKeysOf(value: unknown, hmacKids: readonly string[]): readonly AsymmetricKey[] {
  if (value === undefined) return Object.freeze([]);
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw misuse('signingKeys', 'must hold at least one key (or be left out for HS256 with `jwtSecret`)');
  const keys = list.map((entry, i) => resolveOne(entry, list.length > 1 ? `signingKeys[${i}]` : 'signingKeys', i === 0));
  const kids = new Set<string>(hmacKids);
  for (const [i, key] of keys.entries()) {
    if (kids.has(key.kid)) throw misuse(`signingKeys[${i}]`, `has the kid '${key.kid}' of another key; each key needs its own`);
    kids.add(key.kid);
  }
  return Object.freeze(keys);
}

/** A fresh signing key for `signingKeys`, as PKCS#8 PEM or as a private JWK (with its kid). */
export function generateSigningKey(alg: SigningAlgorithm = 'EdDSA', format: 'pem' | 'jwk' = 'pem'): string {
  const { privateKey } = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (format === 'pem') return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const jwk = privateKey.export({ format: 'jwk' }) as unknown as PublicJwk & { d: string };
  return JSON.stringify({ ...jwk, kid: jwkThumbprint(jwk), alg, use: 'sig' });
}
