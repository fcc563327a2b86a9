import type { ResolvedOptions } from '../options.js';
import { signJwt, verifyJwt, type JwtResult } from './jwt.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `typ` header of refresh tokens: never accepted where an access token is expected, and the reverse. */
export const REFRESH_TOKEN_TYPE = 'rt+jwt';

/** What a refresh token asserts: its own id (`jti`) and its session (`fam`). */
export interface RefreshClaims {
  sub: string;
  jti: string;
  fam: string;
  iat: number;
  exp: number;
}

type Options = Pick<ResolvedOptions, 'keys' | 'issuer' | 'audience' | 'now' | 'refreshTokenExpiry'>;

/** Signs a refresh token expiring with its session (the lifetime is absolute per login). */
export function signRefreshToken(opts: Options, t: { userId: string; id: string; sessionId: string; expiresAt: Date }): string {
  return signJwt(opts, REFRESH_TOKEN_TYPE, {
    sub: t.userId,
    jti: t.id,
    fam: t.sessionId,
    iat: Math.floor(opts.now().getTime() / 1000),
    exp: Math.floor(t.expiresAt.getTime() / 1000),
  });
}

/** Verifies signature, type and claims; whether it was already used is the database's call. */
export function verifyRefreshToken(opts: Options, token: string): JwtResult<RefreshClaims> {
  const result = verifyJwt(opts, token, REFRESH_TOKEN_TYPE, opts.refreshTokenExpiry);
  if (!result.ok) return result;
  // They become database keys: anything but a uuid is not one of ours.
  const { sub, jti, fam } = result.claims;
  if (![sub, jti, fam].every((v) => typeof v === 'string' && UUID.test(v))) return { ok: false, code: 'invalid_token' };
  return { ok: true, claims: result.claims as unknown as RefreshClaims };
}
