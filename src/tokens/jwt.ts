import type * as JsonWebToken from 'jsonwebtoken';
import type { ResolvedOptions, SigningKey } from '../options.js';
import { payloadOf, signatureMatches, signWithKey } from './jws.js';
import type { AsymmetricKey } from './signing-keys.js';
import { lazyRequire } from '../lazy-require.js';

// Loaded with the first HS256 token signed or checked: with its dependencies (semver alone is 47
// modules) it was a sixth of the library's import, which the CLI, which signs nothing, paid too.
const jsonwebtoken = lazyRequire<typeof JsonWebToken>('jsonwebtoken');

/** Why a JWT was not accepted; maps 1:1 onto the HTTP error codes. */
export type JwtFailure = 'invalid_token' | 'token_expired';

export type JwtResult<T> = { ok: true; claims: T } | { ok: false; code: JwtFailure; cause?: unknown };

/** Clock skew tolerated for `iat` in the future (another instance's clock may run ahead). */
export const CLOCK_SKEW_SECONDS = 30;

/** `signingKeys` and `hs256IssuedBy` are left out by the callers that only ever use `jwtSecret` (refresh tokens). */
type Options = Pick<ResolvedOptions, 'keys' | 'issuer' | 'audience' | 'now'> & Partial<Pick<ResolvedOptions, 'signingKeys' | 'hs256IssuedBy'>>;

type Claims = JsonWebToken.JwtPayload & { sub: string; jti: string; exp: number; iat: number };

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

/** A key that may verify a token: an HS256 secret, or a signing key; each pins its one algorithm. */
type VerifyKey = { alg: 'HS256'; hmac: SigningKey } | { alg: AsymmetricKey['alg']; asymmetric: AsymmetricKey };

/**
 * The key a header names. Without a `kid` only a deployment with a single key can tell which one,
 * as before signing keys existed; a `kid` names exactly one key, whose algorithm must be the header's.
 */
function keyFor(opts: Options, kid: unknown, withSigningKeys: boolean): VerifyKey | undefined {
  const signing = withSigningKeys ? (opts.signingKeys ?? []) : [];
  if (kid === undefined) return opts.keys.length === 1 && signing.length === 0 ? { alg: 'HS256', hmac: opts.keys[0]! } : undefined;
  if (typeof kid !== 'string') return undefined;
  const hmac = opts.keys.find((k) => k.kid === kid);
  if (hmac) return { alg: 'HS256', hmac };
  const asymmetric = signing.find((k) => k.kid === kid);
  return asymmetric && { alg: asymmetric.alg, asymmetric };
}

/**
 * Signs `claims` (which must include iat and exp) with the given `typ`: with the first of
 * `signingKeys` when `withSigningKey` and there are any (access tokens), else HS256 with the first
 * `jwtSecret` (refresh tokens always: they stay opaque to other services).
 */
export function signJwt(opts: Options, typ: string, claims: Record<string, unknown>, withSigningKey = false): string {
  const payload = { ...claims, iss: opts.issuer, aud: opts.audience };
  const asymmetric = withSigningKey ? opts.signingKeys?.[0] : undefined;
  if (asymmetric) return signWithKey(asymmetric, typ, payload);
  const signer = opts.keys[0]!;
  return jsonwebtoken().sign(payload, signer.key, { algorithm: 'HS256', header: { alg: 'HS256', typ, kid: signer.kid } });
}

/**
 * Verifies a JWT of the given `typ`: the algorithm pinned by its key's `kid`, issuer, audience,
 * required `exp`/`iat`/`sub`/`jti`, `iat` not in the future and a lifetime no longer than
 * `maxLifetime`. `withSigningKeys` lets the keys of `signingKeys` verify too (access tokens only),
 * and takes an HS256 token only if it was issued by `hs256IssuedBy` (the move to signing keys).
 */
export function verifyJwt(opts: Options, token: string, typ: string, maxLifetime: number, withSigningKeys = false): JwtResult<Claims> {
  const header = parseHeader(token);
  if (!header || header.typ !== typ) return fail();
  const key = keyFor(opts, header.kid, withSigningKeys);
  // Algorithm confusion: a kid's algorithm is fixed, whatever the header claims.
  if (!key || header.alg !== key.alg) return fail();
  const nowSeconds = Math.floor(opts.now().getTime() / 1000);
  let payload: string | JsonWebToken.JwtPayload;
  if ('hmac' in key) {
    try {
      payload = jsonwebtoken().verify(token, key.hmac.key, { algorithms: ['HS256'], issuer: opts.issuer, audience: opts.audience, clockTimestamp: nowSeconds });
    } catch (err) {
      return fail(err instanceof jsonwebtoken().TokenExpiredError ? 'token_expired' : 'invalid_token', err);
    }
  } else {
    // What jws.ts does not look at is refused: no extension we would ignore (RFC 7515 4.1.11).
    if (header.crit !== undefined || !signatureMatches(key.asymmetric, token)) return fail();
    const checked = registeredClaims(opts, payloadOf(token), nowSeconds);
    if (!checked.ok) return checked;
    payload = checked.claims;
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return fail();
  const { sub, jti, exp, iat } = payload;
  if (typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number' || typeof iat !== 'number') return fail();
  if (iat > nowSeconds + CLOCK_SKEW_SECONDS || exp - iat > maxLifetime) return fail();
  // Once access tokens are signed with keys, whoever still holds the secret could mint HS256 ones
  // that never stop verifying: only those issued before the move are taken, so it ends by itself.
  if (withSigningKeys && 'hmac' in key && iat > (opts.hs256IssuedBy ?? Number.POSITIVE_INFINITY) + CLOCK_SKEW_SECONDS) return fail();
  return { ok: true, claims: payload as Claims };
}

/** The registered-claim checks jsonwebtoken makes of HS256 tokens, made alike for signed ones: nbf, exp, aud, iss. */
function registeredClaims(opts: Options, payload: Record<string, unknown> | undefined, now: number): JwtResult<JsonWebToken.JwtPayload> {
  if (!payload) return fail();
  const { nbf, exp, aud, iss } = payload;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now)) return fail();
  if (exp !== undefined && typeof exp !== 'number') return fail();
  if (typeof exp === 'number' && now >= exp) return fail('token_expired');
  if (!(Array.isArray(aud) ? aud : [aud]).includes(opts.audience) || iss !== opts.issuer) return fail();
  return { ok: true, claims: payload };
}
