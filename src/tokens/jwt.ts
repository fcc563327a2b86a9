import jwt from 'jsonwebtoken';
import type { ResolvedOptions, SigningKey } from '../options.js';

/** Why a JWT was not accepted; maps 1:1 onto the HTTP error codes. */
export type JwtFailure = 'invalid_token' | 'token_expired';

export type JwtResult<T> = { ok: true; claims: T } | { ok: false; code: JwtFailure; cause?: unknown };

/** Clock skew tolerated for `iat` in the future (another instance's clock may run ahead). */
export const CLOCK_SKEW_SECONDS = 30;

type Options = Pick<ResolvedOptions, 'keys' | 'issuer' | 'audience' | 'now'>;

const fail = (code: JwtFailure = 'invalid_token', cause?: unknown): { ok: false; code: JwtFailure; cause?: unknown } => ({ ok: false, code, cause });

function parseHeader(token: string): Record<string, unknown> | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    return header !== null && typeof header === 'object' && !Array.isArray(header) ? (header as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function keyFor(keys: readonly SigningKey[], kid: unknown): SigningKey | undefined {
  if (kid === undefined) return keys.length === 1 ? keys[0] : undefined;
  return typeof kid === 'string' ? keys.find((k) => k.kid === kid) : undefined;
}

/** Signs `claims` (which must include iat and exp) as HS256 with the first key and the given `typ`. */
export function signJwt(opts: Options, typ: string, claims: Record<string, unknown>): string {
  const signer = opts.keys[0]!;
  return jwt.sign({ ...claims, iss: opts.issuer, aud: opts.audience }, signer.key, {
    algorithm: 'HS256',
    header: { alg: 'HS256', typ, kid: signer.kid },
  });
}

/**
 * Verifies an HS256 JWT of the given `typ`: pinned algorithm, known key, issuer, audience,
 * required `exp`/`iat`/`sub`/`jti`, `iat` not in the future and a lifetime no longer than `maxLifetime`.
 */
export function verifyJwt(
  opts: Options,
  token: string,
  typ: string,
  maxLifetime: number,
): JwtResult<jwt.JwtPayload & { sub: string; jti: string; exp: number; iat: number }> {
  const header = parseHeader(token);
  if (!header || header.typ !== typ || header.alg !== 'HS256') return fail();
  const signer = keyFor(opts.keys, header.kid);
  if (!signer) return fail();
  const nowSeconds = Math.floor(opts.now().getTime() / 1000);
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, signer.key, {
      algorithms: ['HS256'],
      issuer: opts.issuer,
      audience: opts.audience,
      clockTimestamp: nowSeconds,
    });
  } catch (err) {
    return fail(err instanceof jwt.TokenExpiredError ? 'token_expired' : 'invalid_token', err);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return fail();
  const { sub, jti, exp, iat } = payload;
  if (typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number' || typeof iat !== 'number') return fail();
  if (iat > nowSeconds + CLOCK_SKEW_SECONDS || exp - iat > maxLifetime) return fail();
  return { ok: true, claims: payload as jwt.JwtPayload & { sub: string; jti: string; exp: number; iat: number } };
}
