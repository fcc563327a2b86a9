import type { IncomingMessage, ServerResponse } from 'node:http';
import type BodyParser from 'body-parser';
import type TypeIs from 'type-is';
import { RequestError, ValidationError } from '../errors.js';
import { lazyRequire } from '../lazy-require.js';

/** Largest accepted request body. */
export const MAX_BODY_BYTES = 16 * 1024;

type Req = IncomingMessage & { body?: unknown; _body?: boolean };
type Next = (err?: unknown) => void;

// Loaded with the first request that has a body: with mime-db (which type-is reads) and
// iconv-lite they were a third of the library's import, which the CLI and an app's first line pay.
const bodyParser = lazyRequire<typeof BodyParser>('body-parser');
const typeis = lazyRequire<typeof TypeIs>('type-is');
let jsonParser: ReturnType<typeof BodyParser.json> | undefined;
let formParser: ReturnType<typeof BodyParser.urlencoded> | undefined;
const parseJson = () => (jsonParser ??= bodyParser().json({ limit: MAX_BODY_BYTES, strict: false, type: () => true }));
const parseForm = () => (formParser ??= bodyParser().urlencoded({ limit: MAX_BODY_BYTES, extended: false, type: () => true, parameterLimit: 100 }));

/** Whether the request has a body, by its headers; `Content-Length: 0` is what fetch() and most clients send for a POST without one. */
function hasBody(req: Req): boolean {
  return typeis().hasBody(req) && req.headers['content-length'] !== '0';
}

/** What a body parser's error (the router's own, or one of the host app's body-parser family) means to a client. */
export function translate(err: { type?: string; status?: number }): RequestError | ValidationError {
  switch (err.type) {
    case 'entity.too.large':
      return tooLarge();
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new RequestError('unsupported_media_type', 'request body must be UTF-8 JSON');
    default:
      return notJson();
  }
}

const tooLarge = () => new RequestError('payload_too_large', `request body must be at most ${MAX_BODY_BYTES} bytes`);
const notJson = () => new ValidationError({ body: 'is not valid JSON' }, 'request body is not valid JSON');
const withNul = () => new ValidationError({ body: 'must not contain NUL characters' }, 'request body must not contain NUL characters');

/**
 * Parses JSON bodies for the router: a body must be `application/json` (415) and at most 16 KiB
 * (413), and holds no NUL. A body the host app's own parser read first is held to the same rules
 * (see hostParsed). A request without a body gets `{}`.
 */
export function jsonBody(req: Req, res: ServerResponse, next: Next): void {
  if (!hasBody(req)) {
    req.body ??= {};
    return next();
  }
  // Checked even when the host app parsed the body already: a form post must not reach /login.
  if (!typeis()(req, ['application/json', 'application/*+json'])) {
    return next(new RequestError('unsupported_media_type', 'request body must be application/json'));
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return next(tooLarge());
  // The host app's own parser got there first (Express 4 marks `_body`; a consumed stream says the same).
  if (req._body === true || req.readableEnded) return next(hostParsed(req));
  parseJson()(req, res, (err?: unknown) => {
    if (err) return next(translate(err));
    next(containsNul(req.body) ? withNul() : undefined);
  });
}

/**
 * A body the host app's parser read before the router, held to the router's rules: a host parser
 * with a larger limit (`express.json()` takes 100 KB) must not lift the router's 16 KiB, nor one
 * that skips the NUL check let a NUL reach the database. Raw bytes (`express.raw()`, kept for a
 * webhook's signature, say) and text (`express.text()`) are parsed here as the router would. A
 * parsed object is measured as JSON again: never longer than what was sent (its whitespace gone),
 * so what is over the limit here was over it on the wire. Replaces `req.body` with the parsed body.
 */
function hostParsed(req: Req): RequestError | ValidationError | undefined {
  const body = req.body;
  if (body === undefined || body === null) {
    req.body = {};
    return undefined;
  }
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) return tooLarge();
    const text = typeof body === 'string' ? body : body.toString('utf8');
    try {
      req.body = text.trim() === '' ? {} : (JSON.parse(text) as unknown);
    } catch {
      return notJson();
    }
  } else {
    let json: string | undefined;
    try {
      json = JSON.stringify(body);
    } catch {
      // A BigInt or a cycle: not anything JSON could have sent.
      return notJson();
    }
    if (json === undefined) return notJson();
    if (Buffer.byteLength(json) > MAX_BODY_BYTES) return tooLarge();
  }
  return containsNul(req.body) ? withNul() : undefined;
}

/**
 * PostgreSQL text cannot hold U+0000, so such input is refused here rather than failing in the
 * database. Iterative: a body may nest thousands of levels deep.
 */
function containsNul(body: unknown): boolean {
  const pending: unknown[] = [body];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return true;
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (key.includes('\u0000')) return true;
        pending.push(item);
      }
    }
  }
  return false;
}

/** The parsed body as an object; a JSON array, string or number is a validation error. */
export function bodyObject(req: Req): Record<string, unknown> {
  const body = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError({ body: 'must be a JSON object' }, 'request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/**
 * Parses `application/x-www-form-urlencoded` bodies, for the one route that takes them: the OAuth
 * callback that a provider answers with a form POST (`response_mode=form_post`). Anything else is 415.
 */
export function formBody(req: Req, res: ServerResponse, next: Next): void {
  if (!hasBody(req)) {
    req.body ??= {};
    return next();
  }
  if (!typeis()(req, ['application/x-www-form-urlencoded'])) {
    return next(new RequestError('unsupported_media_type', 'the OAuth callback takes application/x-www-form-urlencoded'));
  }
  if (req._body === true || req.readableEnded) {
    req.body ??= {};
    return next();
  }
  parseForm()(req, res, (err?: unknown) => (err ? next(translate(err)) : next()));
}

/**
 * For `POST /introspect` (RFC 7662 2.1): a form body, as the RFC has it, or JSON; anything else is 415.
 */
export function jsonOrFormBody(req: Req, res: ServerResponse, next: Next): void {
  if (hasBody(req) && typeis()(req, ['application/x-www-form-urlencoded'])) return formBody(req, res, next);
  jsonBody(req, res, next);
}
