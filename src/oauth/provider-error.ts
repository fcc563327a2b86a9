import { AuthError, OAuthError } from '../errors.js';

/** Network-level failures reaching the provider. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function networkCode(err: unknown): string | undefined {
  // fetch (openid-client) wraps the socket error as `cause`; passport-oauth2 reports it directly or as `oauthError`.
  for (let e = err as { code?: unknown; cause?: unknown; oauthError?: unknown } | undefined, depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string' && UNREACHABLE.has(e.code)) return e.code;
    e = (e.oauthError ?? e.cause) as typeof e;
  }
  return undefined;
}

/** The provider's HTTP status, where the error carries one (passport-oauth2's `oauthError`, a fetch `Response`). */
function httpStatus(err: unknown): number | undefined {
  // Not `err.status`: passport-oauth2's TokenError sets it to 500 for any error body.
  const e = err as { oauthError?: { statusCode?: unknown }; response?: { status?: unknown } } | undefined;
  const status = e?.oauthError?.statusCode ?? e?.response?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Maps whatever a strategy or openid-client reports into a clean error: 502 when the provider could
 * not be reached, timed out or failed (5xx), 400 `oauth_failed` for everything it refused.
 */
export function providerError(err: unknown, status = httpStatus(err)): AuthError {
  if (err instanceof AuthError) return err;
  if (networkCode(err) || (err as { name?: unknown })?.name === 'TimeoutError' || (status !== undefined && status >= 500)) {
    return new OAuthError('provider_unavailable', 'the OAuth provider could not be reached', { cause: err });
  }
  return new OAuthError('oauth_failed', 'the OAuth provider did not accept this login', { cause: err });
}
