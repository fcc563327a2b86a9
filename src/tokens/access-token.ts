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
 *
 * An impersonation token also carries the admin's standing when it was issued: `imp` (the admin's
 * id), `imp_ver` (the admin's token version) and, when the admin acted through a login of theirs,
 * `imp_sid` (that login), or when the admin acted through an API token, `imp_tid` (that token).
 * Whatever ends the admin's tokens (logout-all, a password change, a role change, disabling) moves
 * the version on for good, so the impersonation ends with them and cannot come back. It carries the
 * admin as `act: { sub }` too (RFC 8693 4.1), the claim other verifiers know, so that they can tell
 * it from the user's own token.
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
  imp_ver?: number;
  imp_sid?: string;
  imp_tid?: string;
  act?: { sub: string };
}

/** The admin behind an impersonation token, as it was when the token was issued. */
export interface Impersonator {
  id: string;
  version: number;
  /** The admin's login the impersonation was started from, if it was started from one. */
  sessionId?: string | undefined;
  /** The admin's API token (scope `admin`) it was started with, if it was. */
  apiTokenId?: string | undefined;
}

type Options = Pick<ResolvedOptions, 'keys' | 'signingKeys' | 'hs256IssuedBy' | 'issuer' | 'audience' | 'now' | 'tokenExpiry'>;

/**
 * Signs an access token for `userId` (with the first of `signingKeys` when there are any, else
 * HS256 with `jwtSecret`); `lifetime` overrides `tokenExpiry` (impersonation uses a shorter one).
 */
export function signAccessToken(
  opts: Options,
  subject: { userId: string; roles: readonly string[]; version: number; sessionId?: string; impersonator?: Impersonator },
  lifetime = opts.tokenExpiry,
): string {
  const iat = Math.floor(opts.now().getTime() / 1000);
  return signJwt(
    opts,
    ACCESS_TOKEN_TYPE,
    {
      sub: subject.userId,
      roles: [...subject.roles],
      ver: subject.version,
      ...(subject.sessionId ? { sid: subject.sessionId } : {}),
      jti: randomUUID(),
      iat,
      exp: iat + lifetime,
      ...(subject.impersonator
        ? {
            imp: subject.impersonator.id,
            act: { sub: subject.impersonator.id },
            imp_ver: subject.impersonator.version,
            ...(subject.impersonator.sessionId ? { imp_sid: subject.impersonator.sessionId } : {}),
            ...(subject.impersonator.apiTokenId ? { imp_tid: subject.impersonator.apiTokenId } : {}),
          }
        : {}),
    },
    true,
  );
}

/**
 * Verifies signature, type and claims of an access token: signed by one of `signingKeys`, or HS256
 * by a `jwtSecret` (the default, and during a move to signing keys: only a token issued before the
 * instance started, see `hs256IssuedBy`). Revocation is checked elsewhere.
 */
export function verifyAccessToken(opts: Options, token: string): JwtResult<AccessClaims> {
  const result = verifyJwt(opts, token, ACCESS_TOKEN_TYPE, Math.max(opts.tokenExpiry, MAX_IMPERSONATION_SECONDS), true);
  if (!result.ok) return result;
  const { roles, ver, imp, imp_ver, imp_sid, imp_tid, act, sid, exp, iat } = result.claims;
  // Only an impersonation token may outlive `tokenExpiry`.
  if (imp === undefined && exp - iat > opts.tokenExpiry) return { ok: false, code: 'invalid_token' };
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string') || !Number.isInteger(ver)) {
    return { ok: false, code: 'invalid_token' };
  }
  if ((imp !== undefined && typeof imp !== 'string') || (sid !== undefined && typeof sid !== 'string')) {
    return { ok: false, code: 'invalid_token' };
  }
  // An impersonation token names the admin's standing it was issued under, or it is not accepted
  // (one issued before the binding existed cannot be ended by the admin, so it ends now).
  const optionalText = (value: unknown) => value === undefined || typeof value === 'string';
  // `act` names the same admin as `imp`; one issued before `act` was added has none (it lives an hour at most).
  const actor = act === undefined || (act !== null && typeof act === 'object' && !Array.isArray(act) && (act as { sub?: unknown }).sub === imp);
  const bound = imp !== undefined && Number.isInteger(imp_ver) && optionalText(imp_sid) && optionalText(imp_tid) && actor;
  const unbound = imp === undefined && imp_ver === undefined && imp_sid === undefined && imp_tid === undefined && act === undefined;
  if (!bound && !unbound) return { ok: false, code: 'invalid_token' };
  return { ok: true, claims: result.claims as unknown as AccessClaims };
}
