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

/** Which limit refused a request: a `rateLimit` limiter, or `account` (the per-account login delay). */
export type RateLimitName = 'login' | 'register' | 'refresh' | 'token' | 'account';

const RATE_LIMITED: Record<RateLimitName, string> = {
  login: 'too many failed logins from this address',
  register: 'too many registrations from this address',
  refresh: 'too many token refreshes from this address',
  token: 'too many invalid tokens from this address',
  account: 'too many failed logins of this account from this address',
};

/**
 * 429 `rate_limited`; `retryAfterSeconds` becomes the `Retry-After` header. The message names the
 * limit and its rule, so whoever hits it (often a developer or a host app's test suite) knows which
 * `rateLimit` option to relax; `limit` says the same to code.
 */
export class RateLimitError extends AuthError {
  readonly retryAfterSeconds: number;
  readonly limit: RateLimitName;
  constructor(retryAfterSeconds: number, limit: RateLimitName, rule?: { limit: number; windowSeconds: number }) {
    const policy = rule ? `: ${rule.limit} per ${rule.windowSeconds} s` : '';
    super('rate_limited', 429, `${RATE_LIMITED[limit]} (rate limit "${limit}"${policy}); try again in ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
    this.limit = limit;
  }
}

/** 503 `service_unavailable`: the database cannot be reached; nothing was changed. */
export class ServiceUnavailableError extends AuthError {
  constructor(message = 'the authentication service is temporarily unavailable', options?: { cause?: unknown }) {
    super('service_unavailable', 503, message, options);
  }
}

/** Who holds an embedded database's lock: written into the lock file by the process that opened it. */
export interface LockHolder {
  pid: number;
  host: string;
  /** When the holding process started (ISO-8601). */
  started_at: string;
}

/**
 * 503 `database_locked`: an on-disk PGlite database is already open in another process (or another
 * AuthManager of this one). PGlite has one writer; a second would silently lose writes.
 */
export class DatabaseLockedError extends AuthError {
  readonly holder: LockHolder;
  constructor(message: string, holder: LockHolder) {
    super('database_locked', 503, message);
    this.holder = holder;
  }
}

/** Request-shape errors raised before a handler runs (`unsupported_media_type`, `payload_too_large`). */
export class RequestError extends AuthError {}
