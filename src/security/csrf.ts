import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { SigningKey } from '../options.js';
import { constantTimeEqual } from '../tokens/secrets.js';

// CSRF protection of cookie mode: an Origin allow-list, and a token bound to the login.

/** The request header that carries the CSRF token. */
export const CSRF_HEADER = 'x-csrf-token';

/**
 * The CSRF token of a login: HMAC-SHA256 of its session id (the refresh token's `fam`) under the
 * signing key, domain-separated from JWT signatures. It stays the same across rotations of that
 * login, dies with it, and cannot be computed without the key, so a page that cannot read the
 * token response cannot send it.
 */
export function csrfToken(key: SigningKey, sessionId: string): string {
  return createHmac('sha256', key.key).update(`express-authlib csrf\0${sessionId}`).digest('base64url');
}

/** Whether `given` is the CSRF token of `sessionId` under any of the keys (key rotation keeps tokens working). */
export function csrfTokenMatches(keys: readonly SigningKey[], sessionId: string, given: string): boolean {
  let match = false;
  for (const key of keys) match = constantTimeEqual(csrfToken(key, sessionId), given) || match;
  return match;
}

/**
 * The origin a request says it comes from: its `Origin` header, else the origin of its `Referer`.
 * Undefined when neither is there or usable (`Origin: null` from a sandboxed or privacy-sensitive context).
 */
export function requestOrigin(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  if (typeof origin === 'string' && origin !== '') return origin === 'null' ? undefined : origin;
  const referer = req.headers.referer;
  if (typeof referer !== 'string' || referer === '') return undefined;
  try {
    const url = new URL(referer);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}
