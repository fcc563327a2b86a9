/**
 * Runtime and authentication failures. Every error the library reports to a client is an
 * `AuthError` with a stable snake_case `code` (the same string as the HTTP body's `code`) and an
 * HTTP `status`. Programmer misuse is a `TypeError` instead, thrown at construction.
 */
export class AuthError extends Error {
  /** Stable machine-readable code, e.g. `invalid_token`. */
  readonly code: string;
  /** HTTP status the error maps to. */
  readonly status: number;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** 400 `validation_error`: a field is missing or ill-typed; `fields` names each one. */
export class ValidationError extends AuthError {
  readonly fields: Record<string, string>;
  constructor(fields: Record<string, string>, message = 'request body is invalid') {
    super('validation_error', 400, message);
    this.fields = fields;
  }
}

/** 401: who the caller is could not be established (`unauthorized`, `invalid_credentials`, `invalid_token`, `token_expired`, `refresh_token_reused`). */
export class AuthenticationError extends AuthError {
  constructor(
    code: 'unauthorized' | 'invalid_credentials' | 'invalid_token' | 'token_expired' | 'refresh_token_reused',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, 401, message, options);
  }
}

/** 403: the caller is known but may not do this (`forbidden`, `account_disabled`). */
export class ForbiddenError extends AuthError {
  constructor(code: 'forbidden' | 'account_disabled' = 'forbidden', message = 'you do not have permission to do this') {
    super(code, 403, message);
  }
}

/** 404 `not_found`. */
export class NotFoundError extends AuthError {
  constructor(message = 'not found') {
    super('not_found', 404, message);
  }
}

/** 409 `conflict`: a unique value (username, email, role name) is taken. */
export class ConflictError extends AuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('conflict', 409, message, options);
  }
}

/** 429 `rate_limited`; `retryAfterSeconds` becomes the `Retry-After` header. */
export class RateLimitError extends AuthError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('rate_limited', 429, 'too many requests, try again later');
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** 503 `service_unavailable`: the database cannot be reached; nothing was changed. */
export class ServiceUnavailableError extends AuthError {
  constructor(message = 'the authentication service is temporarily unavailable', options?: { cause?: unknown }) {
    super('service_unavailable', 503, message, options);
  }
}

/** Request-shape errors raised before a handler runs (`unsupported_media_type`, `payload_too_large`). */
export class RequestError extends AuthError {}

/** Codes of the OAuth family, each with its HTTP status. */
const OAUTH_STATUS = {
  unknown_provider: 400,
  invalid_redirect: 400,
  invalid_state: 400,
  oauth_failed: 400,
  access_denied: 403,
  account_exists: 409,
  provider_unavailable: 502,
} as const;

export type OAuthErrorCode = keyof typeof OAUTH_STATUS;

/**
 * An OAuth flow failed: `unknown_provider`, `invalid_redirect`, `invalid_state`, `oauth_failed` (400),
 * `access_denied` (403), `account_exists` (409: sign in to the existing account and link from there),
 * `provider_unavailable` (502).
 */
export class OAuthError extends AuthError {
  declare readonly code: OAuthErrorCode;
  constructor(code: OAuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, OAUTH_STATUS[code], message, options);
  }
}
