import type { ServerResponse } from 'node:http';
import { AuthError, InternalError, MfaRequiredError, RateLimitError, ValidationError } from '../errors.js';
import { asInvalidValue, asServiceUnavailable } from '../db/unavailable.js';
import type { Logger } from '../logger.js';

// Plain Node response APIs only: the router and requireAuth must work under Connect and both Express majors.

/** Writes a JSON body. `noStore` marks responses that carry a token or secret. */
export function sendJson(res: ServerResponse, status: number, body: unknown, noStore = false): void {
  const payload = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(payload));
  if (noStore) {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
  }
  res.end(payload);
}

/**
 * Input the checks upstream let through but that cannot be processed is still the client's fault:
 * a path parameter that is not valid percent-encoding (the router's 400), or a value PostgreSQL
 * refuses as data (asInvalidValue; the database gate maps those already, this catches any other way in).
 */
function asClientError(err: unknown): unknown {
  if (err instanceof AuthError) return err;
  const e = err as { status?: unknown };
  if (e?.status === 400) return new ValidationError({ path: 'is not valid' }, 'request path is not valid');
  return asInvalidValue(err);
}

/** The one error body: `{error, code, status_code}` (+ `fields` for validation errors). Unknown errors become a bare 500. */
export function sendError(res: ServerResponse, error: unknown, logger: Logger): void {
  const known = asClientError(asServiceUnavailable(error));
  if (res.headersSent) {
    res.end();
    return;
  }
  if (!(known instanceof AuthError)) {
    const e = known as { message?: unknown; code?: unknown };
    logger.error({ err: { message: String(e?.message ?? known), code: e?.code } }, 'express-authlib: unexpected error');
  }
  const err = known instanceof AuthError ? known : new InternalError({ cause: known });
  if (err.status === 401) {
    const sentToken = err.code === 'invalid_token' || err.code === 'token_expired';
    res.setHeader('WWW-Authenticate', sentToken ? 'Bearer error="invalid_token"' : 'Bearer');
  }
  if (err instanceof RateLimitError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  if (err.status >= 500 && err.code !== 'internal_error') logger.warn({ code: err.code, err: { message: err.message } }, 'express-authlib: request failed');
  const body: Record<string, unknown> = { error: err.message, code: err.code, status_code: err.status };
  if (err instanceof ValidationError) body.fields = err.fields;
  // The one error whose body carries more: what the client needs to finish the sign-in.
  if (err instanceof MfaRequiredError) {
    body.mfa_id = err.mfaId;
    body.methods = err.methods;
    res.setHeader('Cache-Control', 'no-store');
  }
  sendJson(res, err.status, body);
}
