import { randomUUID } from 'node:crypto';
import type { ResolvedOptions } from '../options.js';
import { signJwt, verifyJwt, type JwtResult } from './jwt.js';

/** `typ` header of access tokens (RFC 9068). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** Longest life of an impersonation token (one with `imp`), whatever `tokenExpiry` is. */
export const MAX_IMPERSONATION_SECONDS = 3600;

/**
 * What an access token asserts. `ver` is the user's token version when it was issued; `sid` is the
 * session (one login) it belongs to, so logging that session out kills it too.
 */
export interface AccessClaims {
  sub: string;
  roles: string[];
  ver: number;
  sid?: string;
  jti: string;
  iat: number;
  exp: number;
  imp?: string;
}

type Options = Pick<ResolvedOptions, 'keys' | 'issuer' | 'audience' | 'now' | 'tokenExpiry'>;

/** Signs an access token for `userId`; `lifetime` overrides `tokenExpiry` (impersonation uses a shorter one). */
export function signAccessToken(
  opts: Options,
  subject: { userId: string; roles: readonly string[]; version: number; sessionId?: string; impersonatorId?: string },
  lifetime = opts.tokenExpiry,
): string {
  const iat = Math.floor(opts.now().getTime() / 1000);
  return signJwt(opts, ACCESS_TOKEN_TYPE, {
    sub: subject.userId,
    roles: [...subject.roles],
    ver: subject.version,
    ...(subject.sessionId ? { sid: subject.sessionId } : {}),
    jti: randomUUID(),
    iat,
    exp: iat + lifetime,
    ...(subject.impersonatorId ? { imp: subject.impersonatorId } : {}),
  });
}

/** Verifies signature, type and claims of an access token. Revocation is checked elsewhere. */
export function verifyAccessToken(opts: Options, token: string): JwtResult<AccessClaims> {
  const result = verifyJwt(opts, token, ACCESS_TOKEN_TYPE, Math.max(opts.tokenExpiry, MAX_IMPERSONATION_SECONDS));
  if (!result.ok) return result;
  const { roles, ver, imp, sid, exp, iat } = result.claims;
  // Only an impersonation token may outlive `tokenExpiry`.
  if (imp === undefined && exp - iat > opts.tokenExpiry) return { ok: false, code: 'invalid_token' };
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string') || !Number.isInteger(ver)) {
    return { ok: false, code: 'invalid_token' };
  }
  if ((imp !== undefined && typeof imp !== 'string') || (sid !== undefined && typeof sid !== 'string')) {
    return { ok: false, code: 'invalid_token' };
  }
  return { ok: true, claims: result.claims as unknown as AccessClaims };
}
