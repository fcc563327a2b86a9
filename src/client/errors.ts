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

/** Builds the error of a failed response from its body (a body that is not the error shape still gives a usable error). */
export async function errorFrom(res: Response): Promise<AuthClientError> {
  const body = (await res.json().catch(() => undefined)) as Partial<ErrorBody> | undefined;
  if (body && typeof body.code === 'string' && typeof body.error === 'string') {
    return new AuthClientError(body.code, res.status, body.error, body as ErrorBody);
  }
  return new AuthClientError('invalid_response', res.status, `unexpected response ${res.status}`);
}
