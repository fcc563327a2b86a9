/**
 * Runtime and authentication failures. Every error the library reports to a client is an
 * `AuthError` subclass with a stable snake_case `code` (the same string as the HTTP body's `code`)
 * and the HTTP `status` that code always maps to. Programmer misuse is a `TypeError` instead,
 * thrown at construction.
 */

/** Every code, with the HTTP status it always maps to. The error table (docs/reference/errors.md) is checked against it. */
export const AUTH_ERROR_STATUS = {
  validation_error: 400,
  unknown_provider: 400,
  invalid_redirect: 400,
  invalid_state: 400,
  oauth_failed: 400,
  invalid_code: 400,
  duplicate_cookie: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  invalid_token: 401,
  token_expired: 401,
  refresh_token_reused: 401,
  mfa_required: 401,
  forbidden: 403,
  account_disabled: 403,
  csrf_failed: 403,
  access_denied: 403,
  email_not_verified: 403,
  mfa_setup_required: 403,
  reauthentication_required: 403,
  not_found: 404,
  conflict: 409,
  account_exists: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  not_configured: 501,
  provider_unavailable: 502,
  service_unavailable: 503,
  database_error: 503,
  schema_outdated: 503,
  database_locked: 503,
} as const satisfies Record<string, number>;

/** A stable error code: the `code` of an AuthError and of every HTTP error body. */
export type AuthErrorCode = keyof typeof AUTH_ERROR_STATUS;

/** Every code, for iteration (docs, tests, clients). */
export const AUTH_ERROR_CODES = Object.freeze(Object.keys(AUTH_ERROR_STATUS) as AuthErrorCode[]);

type Options = { cause?: unknown };

/**
 * The two codes the contract also answers with another status, each in one situation only: a link
 * token (password reset, verification, email change) that is unknown, used or expired is 400
 * `invalid_token` (it was never a credential, so no Bearer challenge); an `mfa_id` that is dead
 * is 401 `invalid_code` (the sign-in must start over). Every other code has exactly one status.
 */
export const AUTH_ERROR_ALSO_STATUS: Readonly<Partial<Record<AuthErrorCode, readonly number[]>>> = Object.freeze({
  invalid_token: [400],
  invalid_code: [401],
});

/** Base of every error the library reports; construct one of the subclasses below. */
export abstract class AuthError extends Error {
  /** Stable machine-readable code, e.g. `invalid_token`. */
  readonly code: AuthErrorCode;
  /** HTTP status the error maps to. */
  readonly status: number;

  protected constructor(code: AuthErrorCode, message: string, options?: Options & { status?: number }) {
    // Checked at run time too: JavaScript callers get no compiler to catch a swapped or unknown argument.
    if (!Object.hasOwn(AUTH_ERROR_STATUS, code)) throw new TypeError(`express-authlib: ${String(code)} is not an error code`);
    if (typeof message !== 'string') throw new TypeError(`express-authlib: the message of a ${new.target.name} must be a string`);
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    const status = options?.status ?? AUTH_ERROR_STATUS[code];
    if (status !== AUTH_ERROR_STATUS[code] && !AUTH_ERROR_ALSO_STATUS[code]?.includes(status))
      throw new TypeError(`express-authlib: ${code} is never answered with ${status}`);
    this.status = status;
  }
}

/**
 * The `(code?, message?)` arguments of a family with several codes: a first argument that is one of
 * the family's codes is the code; a lone string that is not is the message (with the family's
 * default code), so `new ForbiddenError('not your note')` means what it says. Anything else (a
 * code of another family, a message beside an unknown code) is a TypeError naming the codes.
 */
function familyArgs<C extends AuthErrorCode>(
  family: string,
  codes: readonly C[],
  fallback: C | undefined,
  defaultMessage: string,
  args: readonly unknown[],
): [C, string] {
  const [first, second] = args;
  const isCode = (v: unknown): v is C => typeof v === 'string' && (codes as readonly string[]).includes(v);
  if (second !== undefined && typeof second !== 'string') throw new TypeError(`express-authlib: the message of a ${family} must be a string`);
  if (first === undefined && fallback) return [fallback, second ?? defaultMessage];
  if (isCode(first)) return [first, second ?? defaultMessage];
  if (typeof first === 'string' && second === undefined && fallback) return [fallback, first];
  throw new TypeError(`express-authlib: a ${family}'s code is one of ${codes.join(', ')}; got ${JSON.stringify(first) ?? String(first)}`);
}

const REQUEST_ERROR_CODES = ['payload_too_large', 'unsupported_media_type', 'duplicate_cookie'] as const satisfies readonly AuthErrorCode[];
/** Codes of `RequestError`. */
export type RequestErrorCode = (typeof REQUEST_ERROR_CODES)[number];
const AUTHENTICATION_ERROR_CODES = [
  'unauthorized',
  'invalid_credentials',
  'invalid_token',
  'token_expired',
  'refresh_token_reused',
] as const satisfies readonly AuthErrorCode[];
/** Codes of `AuthenticationError`. */
export type AuthenticationErrorCode = (typeof AUTHENTICATION_ERROR_CODES)[number];
const FORBIDDEN_ERROR_CODES = [
  'forbidden',
  'account_disabled',
  'email_not_verified',
  'mfa_setup_required',
  'reauthentication_required',
  'csrf_failed',
] as const satisfies readonly AuthErrorCode[];
/** Codes of `ForbiddenError`. */
export type ForbiddenErrorCode = (typeof FORBIDDEN_ERROR_CODES)[number];

/** 400 `validation_error`: a field is missing or ill-typed; `fields` names each one. */
export class ValidationError extends AuthError {
  readonly fields: Record<string, string>;
  constructor(fields: Record<string, string>, message = 'request body is invalid') {
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
      throw new TypeError("express-authlib: a ValidationError takes the fields first: new ValidationError({ title: 'is required' }, message?)");
    super('validation_error', message);
    this.fields = fields;
  }
}

/**
 * 413 / 415: the request body cannot be read at all; 400 `duplicate_cookie`: it carries one of the
 * library's cookies twice (one of them planted by another host), so which one is genuine is unknown.
 */
export class RequestError extends AuthError {
  constructor(code: RequestErrorCode, message?: string);
  constructor(...args: unknown[]) {
    super(...familyArgs('RequestError', REQUEST_ERROR_CODES, undefined, 'the request cannot be read', args));
  }
}

/** 401: who the caller is could not be established. */
export class AuthenticationError extends AuthError {
  /** `new AuthenticationError('sign in first')`: 401 `unauthorized` with that message. */
  constructor(message?: string);
  constructor(code: AuthenticationErrorCode, message?: string, options?: Options);
  constructor(...args: unknown[]) {
    super(...familyArgs('AuthenticationError', AUTHENTICATION_ERROR_CODES, 'unauthorized', 'authentication is required', args), args[2] as Options | undefined);
  }
}

/**
 * 403: the caller is known but may not do this: lacks a role or scope, is disabled, has not
 * verified the email (`requireEmailVerification`), must set up a second factor first, must prove
 * again that they hold the account (`reauthentication_required`: a fresh sign-in or the password),
 * or sent a cookie-authenticated request that failed the CSRF checks (`csrf_failed`).
 */
export class ForbiddenError extends AuthError {
  /** `new ForbiddenError('not your note')`: 403 `forbidden` with that message. */
  constructor(message?: string);
  constructor(code: ForbiddenErrorCode, message?: string);
  constructor(...args: unknown[]) {
    super(...familyArgs('ForbiddenError', FORBIDDEN_ERROR_CODES, 'forbidden', 'you do not have permission to do this', args));
  }
}

/**
 * 401 `mfa_required`: the first factor was right, a second is needed. The body adds `mfa_id` (send
 * it with the second factor) and `methods` (the second factors this user can use).
 */
export class MfaRequiredError extends AuthError {
  readonly mfaId: string;
  readonly methods: string[];
  constructor(mfaId: string, methods: string[]) {
    super('mfa_required', 'a second factor is required to sign in');
    this.mfaId = mfaId;
    this.methods = methods;
  }
}

/**
 * 400 `invalid_code`: a wrong, expired or used one-time code (email OTP, TOTP, backup code), or a
 * dead `otp_id`; 401 for a dead `mfa_id` (`{ signInOver: true }`), after which the sign-in starts over.
 */
export class InvalidCodeError extends AuthError {
  constructor(message = 'the code is invalid or has expired', options?: { signInOver?: boolean }) {
    super('invalid_code', message, options?.signInOver ? { status: 401 } : undefined);
  }
}

/** 400 `invalid_token` for a link token (reset, verification, email change) that is unknown, used, expired or replaced. */
export class InvalidLinkError extends AuthError {
  constructor() {
    super('invalid_token', 'the link is invalid, used, expired or replaced by a newer one', { status: 400 });
  }
}

/** 501 `not_configured`: the endpoint needs something the app did not configure (a `mailer`). */
export class NotConfiguredError extends AuthError {
  constructor(message: string) {
    super('not_configured', message);
  }
}

/** 404 `not_found`. */
export class NotFoundError extends AuthError {
  constructor(message = 'not found') {
    super('not_found', message);
  }
}

/** 409 `conflict`: a unique value (username, email, role name) is taken, or the change would break an invariant. */
export class ConflictError extends AuthError {
  constructor(message: string, options?: Options) {
    super('conflict', message, options);
  }
}

/** How the message of `UnprovenCredentialsError` words each kind of credential. */
const CREDENTIAL_WORDS: Record<string, string> = { password: 'a password', identities: 'linked identities', passkeys: 'passkeys' };

/**
 * 409 `conflict` from `auth.users.verifyEmail`: the account's holder never proved its address, and
 * ways in that whoever registered it set up are still there (`holds`: `password`, `identities`,
 * `passkeys`). Vouching for the address would hand the owner's later provider sign-in to whoever
 * holds them (contract 5.3, "Ownership"); a password reset sent to the address ends them instead.
 */
export class UnprovenCredentialsError extends ConflictError {
  /** The credentials in words, e.g. `a password and linked identities`. */
  readonly described: string;

  constructor(
    readonly username: string,
    readonly holds: string[],
  ) {
    const described = holds.map((h) => CREDENTIAL_WORDS[h] ?? h).join(' and ');
    super(
      `the holder of ${username}'s address never proved it, and the account has ${described} that may be someone else's: ` +
        'send a password reset to the address instead (it ends them), or keep them (keepCredentials) to vouch for whoever holds them',
    );
    this.described = described;
  }
}

/**
 * Which limit refused a request: a `rateLimit` limiter, `account` (the per-account login delay), or
 * `secondFactor` (the per-account limit on wrong second factors and email codes).
 */
export type RateLimitName =
  | 'login'
  | 'register'
  | 'refresh'
  | 'token'
  | 'oauth'
  | 'oauthCallback'
  | 'mail'
  | 'mailTarget'
  | 'code'
  | 'passkey'
  | 'account'
  | 'secondFactor'
  | 'invitation'
  | 'invitationMail';

const RATE_LIMITED: Record<RateLimitName, string> = {
  login: 'too many failed logins from this address',
  register: 'too many registrations from this address',
  refresh: 'too many token refreshes from this address',
  token: 'too many invalid tokens from this address',
  oauth: 'too many sign-in flows begun from this address',
  oauthCallback: 'too many failed sign-in callbacks from this address',
  mail: 'too many mail requests from this address',
  mailTarget: 'too many mail requests for this email address',
  code: 'too many wrong codes from this address',
  passkey: 'too many passkey ceremonies begun from this address',
  account: 'too many failed logins of this account',
  secondFactor: 'too many wrong codes for this account',
  invitation: 'too many group invitations sent by this account',
  // Never answered (over this limit the mail is just not sent); named for completeness.
  invitationMail: 'too many invitation mails to this address',
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
    super('rate_limited', `${RATE_LIMITED[limit]} (rate limit "${limit}"${policy}); try again in ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
    this.limit = limit;
  }
}

const OAUTH_ERROR_CODES = [
  'unknown_provider',
  'invalid_redirect',
  'invalid_state',
  'oauth_failed',
  'access_denied',
  'account_exists',
  'provider_unavailable',
] as const satisfies readonly AuthErrorCode[];
/** Codes of the OAuth family. */
export type OAuthErrorCode = (typeof OAUTH_ERROR_CODES)[number];

/**
 * An OAuth flow failed: at the start (unknown provider, redirect), at the callback (state), at the
 * provider, or because the identity's email belongs to an account not yet verified (`account_exists`:
 * sign in to that account and link from there).
 */
export class OAuthError extends AuthError {
  declare readonly code: OAuthErrorCode;
  /** `new OAuthError('the provider said no')`: 400 `oauth_failed` with that message. */
  constructor(message?: string);
  constructor(code: OAuthErrorCode, message?: string, options?: Options);
  constructor(...args: unknown[]) {
    super(...familyArgs('OAuthError', OAUTH_ERROR_CODES, 'oauth_failed', 'the sign-in with the provider failed', args), args[2] as Options | undefined);
  }
}

/**
 * 503: the database cannot be reached (`service_unavailable`, nothing was changed), its schema is
 * behind (`schema_outdated`), or setting it up failed (`database_error`).
 */
export class ServiceUnavailableError extends AuthError {
  constructor(
    message = 'the authentication service is temporarily unavailable',
    options?: Options & { code?: 'service_unavailable' | 'database_error' | 'schema_outdated' },
  ) {
    super(options?.code ?? 'service_unavailable', message, options);
  }
}

/** 500 `internal_error`: a bug or an unexpected failure; the body says nothing more. */
export class InternalError extends AuthError {
  constructor(options?: Options) {
    super('internal_error', 'internal error', options);
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
    super('database_locked', message);
    this.holder = holder;
  }
}
