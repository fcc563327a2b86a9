import type { AuthErrorCode } from '../errors.js';

/** The error body of every failed request (contract section 3), with what some codes add. */
export interface ErrorBody {
  error: string;
  code: AuthErrorCode | (string & {});
  status_code: number;
  /** `validation_error`: the bad fields and why. */
  fields?: Record<string, string>;
  /** `mfa_required`: finish the sign-in with a second factor and this id. */
  mfa_id?: string;
  methods?: string[];
}

/**
 * A request the server refused, or that could not be made: `code` is the server's stable code
 * (the same strings as the library's `AuthError`), `status` the HTTP status (0 when the request
 * never got an answer: `network_error`), `body` the error body as received.
 */
export class AuthClientError extends Error {
  readonly code: AuthErrorCode | 'network_error' | 'invalid_response' | (string & {});
  readonly status: number;
  readonly body: ErrorBody | undefined;

  constructor(code: string, status: number, message: string, body?: ErrorBody, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthClientError';
    this.code = code;
    this.status = status;
    this.body = body;
  }
}

/** Every code the server may answer with: spelled out here so the browser bundle carries no server code; the type keeps it complete. */
const SERVER_CODES: Record<AuthErrorCode, 1> = {
  validation_error: 1,
  unknown_provider: 1,
  invalid_redirect: 1,
  invalid_state: 1,
  oauth_failed: 1,
  invalid_code: 1,
  duplicate_cookie: 1,
  unauthorized: 1,
  invalid_credentials: 1,
  invalid_token: 1,
  token_expired: 1,
  refresh_token_reused: 1,
  mfa_required: 1,
  forbidden: 1,
  account_disabled: 1,
  csrf_failed: 1,
  access_denied: 1,
  email_not_verified: 1,
  mfa_setup_required: 1,
  reauthentication_required: 1,
  not_found: 1,
  conflict: 1,
  account_exists: 1,
  payload_too_large: 1,
  unsupported_media_type: 1,
  rate_limited: 1,
  internal_error: 1,
  not_configured: 1,
  provider_unavailable: 1,
  service_unavailable: 1,
  database_error: 1,
  schema_outdated: 1,
  database_locked: 1,
};

/** `code` if the server has such a code, else null (text from a URL is anyone's). */
export function serverCode(code: string): AuthErrorCode | null {
  return Object.prototype.hasOwnProperty.call(SERVER_CODES, code) ? (code as AuthErrorCode) : null;
}

/** Builds the error of a failed response from its body (a body that is not the error shape still gives a usable error). */
export async function errorFrom(res: Response): Promise<AuthClientError> {
  const body = (await res.json().catch(() => undefined)) as Partial<ErrorBody> | undefined;
  if (body && typeof body.code === 'string' && typeof body.error === 'string') {
    return new AuthClientError(body.code, res.status, body.error, body as ErrorBody);
  }
  return new AuthClientError('invalid_response', res.status, `unexpected response ${res.status}`);
}
