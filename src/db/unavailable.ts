import { ServiceUnavailableError, ValidationError } from '../errors.js';

// Socket-level failures and the PostgreSQL error classes that mean "the server is not serving":
// 08 connection exception, 57P01-57P03 shutdown / cannot connect now, 53300 too many connections.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN']);
const SQLSTATE = /^(08|57P0[123]|53300)/;
// The last is Kysely's own, for a query begun after close() released the pool under it.
const MESSAGES =
  /Query read timeout|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|connect ECONNREFUSED|PGlite is closed|driver has already been destroyed/i;

/** Whether `err` means the database cannot be reached (as opposed to a bad query or a constraint). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATE.test(code))) return true;
  if (err instanceof AggregateError) return err.errors.some(isDatabaseUnavailable);
  return MESSAGES.test(err.message);
}

/** Turns an unreachable-database error into a 503 AuthError; anything else passes through untouched. */
export function asServiceUnavailable(err: unknown): unknown {
  return isDatabaseUnavailable(err) ? new ServiceUnavailableError(undefined, { cause: err }) : err;
}

/**
 * What a database error says of the data it failed on: PGlite's statement and its parameters
 * (`query`, `params`, `queryOptions`), and PostgreSQL's `detail` ("Failing row contains (...)"),
 * `where` and `internalQuery`, which quote the row. A failed write's row holds what the library
 * stores (a password hash, a token's hash, sealed secrets), and an error reaches the app's code and
 * its logs.
 */
const STATEMENT_FIELDS = ['query', 'params', 'queryOptions', 'detail', 'where', 'internalQuery'];

/** `err`, and each error in its `cause` chain, without what it says of the data (STATEMENT_FIELDS). */
export function withoutStatement(err: unknown): unknown {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    for (const key of STATEMENT_FIELDS) if (key in e) delete (e as Record<string, unknown>)[key];
  }
  return err;
}

/**
 * A value PostgreSQL refuses as data (SQLSTATE class 22: U+0000 in text, a lone surrogate, a
 * malformed uuid, a number out of range) is the caller's fault, a 400, whether it came over HTTP or
 * through the programmatic API. The database's own error stays out of it: it names the statement,
 * and PGlite's carries the statement's text and parameters.
 */
export function asInvalidValue(err: unknown): unknown {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (err instanceof Error && typeof code === 'string' && code.startsWith('22')) {
    return new ValidationError({ body: 'holds a value the database cannot store' }, 'request holds an invalid value');
  }
  return err;
}

/** PostgreSQL unique_violation: the database's verdict in a race. */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === '23505';
}

/** A row names a parent that is gone: e.g. a role deleted while it was being granted. */
export function isForeignKeyViolation(err: unknown): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === '23503';
}

/**
 * What went wrong, in words: an Error's message. PGlite's file system throws plain objects (an
 * errno and a code, no message), which `String` would print as "[object Object]".
 */
export function describeThrown(err: unknown): string {
  if (err instanceof Error) return err.message;
  const { message, code, errno } = (typeof err === 'object' && err !== null ? err : {}) as { message?: unknown; code?: unknown; errno?: unknown };
  if (typeof message === 'string' && message) return message;
  if (typeof code === 'string' || typeof code === 'number') return `error ${String(code)}`;
  if (typeof errno === 'number') return `file system error ${errno}`;
  return String(err);
}

/** One line saying which database could not be reached and why, never its password. */
export function describeConnectionFailure(conn: { kind: 'postgres' | 'pglite'; target: string } | undefined, err: unknown): string {
  const where = conn?.target ?? 'the configured database';
  const first = err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err;
  if (conn?.kind === 'pglite') return `cannot open PGlite at ${where}: ${describeThrown(first)}`;
  const code = (first as { code?: unknown } | undefined)?.code;
  const reason =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND'
        ? 'host not found'
        : code === 'ETIMEDOUT'
          ? 'connection timed out'
          : describeThrown(first);
  return `cannot connect to PostgreSQL at ${where}: ${reason}`;
}
