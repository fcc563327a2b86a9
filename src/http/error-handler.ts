import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthError, InternalError } from '../errors.js';
import type { Logger } from '../logger.js';
import { translate } from './body.js';
import { sendError } from './respond.js';

/** Options of `auth.errorHandler()`. */
export interface ErrorHandlerOptions {
  /**
   * What becomes of an error that is not an `AuthError`: `'internal_error'` answers a bare 500
   * `internal_error` (the body says nothing more; the logger gets the error's name, code and
   * message), except a body the app's own `express.json()` (or another parser of the body-parser
   * family) refused, which is answered as the library's endpoints answer it (400, 413 or 415);
   * `'next'` hands it on with `next(err)` to the app's own error handler.
   * @default 'internal_error'
   */
  others?: 'internal_error' | 'next';
}

/** An error middleware: four parameters, which is how Express and Connect tell one apart. */
export type ErrorHandler = (err: unknown, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

const OTHERS = ['internal_error', 'next'] as const;

/** What the body-parser family (`express.json()` and its siblings) reports of a client's body. */
const PARSER_ERRORS = new Set(['entity.too.large', 'entity.parse.failed', 'encoding.unsupported', 'charset.unsupported']);

/**
 * The host app's own body parser refusing a body, e.g. `express.json()` before the library's routes
 * or the app's: the client's mistake (malformed JSON, too large, an unknown charset), answered as
 * the router answers its own (400, 413, 415), not as a 500 with an error in the log.
 */
function parserError(err: unknown): AuthError | undefined {
  const e = err as { type?: unknown; status?: unknown } | null | undefined;
  if (typeof e?.type !== 'string' || !PARSER_ERRORS.has(e.type)) return undefined;
  if (typeof e.status !== 'number' || e.status < 400 || e.status > 499) return undefined;
  return translate({ type: e.type });
}

/**
 * Renders an `AuthError` thrown in the app's own routes exactly as the library's endpoints do
 * (the same body and headers, through the same `sendError`), so a client sees one error format.
 */
export function createErrorHandler(logger: Logger, options: unknown): ErrorHandler {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options) || 'headers' in options))
    throw new TypeError("express-authlib: errorHandler takes an options object: app.use(auth.errorHandler()) or auth.errorHandler({ others: 'next' })");
  const given = (options ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given))
    if (key !== 'others') throw new TypeError(`express-authlib: errorHandler has no option ${JSON.stringify(key)}; it takes { others }`);
  const others = given.others ?? 'internal_error';
  if (!OTHERS.includes(others as (typeof OTHERS)[number]))
    throw new TypeError(
      `express-authlib: errorHandler's others is 'internal_error' or 'next'; got ${typeof others === 'string' ? JSON.stringify(others) : typeof others}`,
    );

  return function authErrorHandler(err, req, res, next) {
    // A response already under way cannot change its status: Express's own handler closes it.
    if (res.headersSent) return next(err);
    if (err instanceof AuthError) return sendError(res, err, logger);
    if (others === 'next') return next(err);
    const refused = parserError(err);
    if (refused) return sendError(res, refused, logger);
    // Name, code and message only: no stack, no body, no query string (which may carry a token).
    const e = err as { name?: unknown; message?: unknown; code?: unknown } | null | undefined;
    const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '';
    logger.error(
      {
        err: { name: typeof e?.name === 'string' ? e.name : typeof err, message: String(e?.message ?? err), code: e?.code },
        method: req.method,
        path: url.split('?')[0],
      },
      'express-authlib: unexpected error in a route',
    );
    sendError(res, new InternalError({ cause: err }), logger);
  };
}
