import { createHmac, hash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` uniformly random base62 characters (randomInt avoids modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)];
  return out;
}

/**
 * Hex SHA-256 of the UTF-8 bytes: how bearer tokens are kept at rest (they carry >= 190 bits, so no
 * salt or stretching is needed). Node's one-shot `hash` (20.12+; the package needs 20.19): every
 * API-token request hashes its token, and a `createHash` object per call took three times as long
 * (1.0 against 0.33 µs) and left a Hash stream object per request for the collector.
 */
export function sha256(value: string): string {
  return hash('sha256', value, 'hex');
}

/**
 * Hex HMAC-SHA-256 under a server key: how short codes (email OTP, backup codes) are kept at rest.
 * A plain hash of a 6-digit code is reversed by trying a million values; without the key nothing
 * can be tried offline, and online guessing is what the attempt limits stop.
 */
export function keyedHash(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

/** `length` random decimal digits. */
export function randomDigits(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += String(randomInt(10));
  return out;
}

/** Equality that takes the same time wherever the strings differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) return false;
  return timingSafeEqual(ab, bb);
}

/** A fresh random secret suitable for `jwtSecret` (48 bytes, base64url). */
export function generateSecret(): string {
  return randomBytes(48).toString('base64url');
}
