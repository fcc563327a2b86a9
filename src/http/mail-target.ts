import type * as z from 'zod';
import * as v from '../validation.js';
import { bodyObject } from './body.js';
import type { Handler, Req } from './types.js';

/** Each mail request's body as its route parsed it, and the address the mail goes to. */
const parsedMailRequests = new WeakMap<object, { body: unknown; target: string }>();

/**
 * Parses a mail request's body once, before the per-target limit, and remembers the address the
 * route will mail (`field` of the parsed body): the limit counts exactly that value, so a second
 * field with another address cannot steer it (`{new_email: victim, email: 'decoy'}`).
 */
export function parseMailRequest<S extends z.ZodObject<z.ZodRawShape>>(schema: () => S, field: keyof z.output<S> & string): Handler {
  return (req, _res, next) => {
    const body = v.parseInput(schema(), bodyObject(req)) as Record<string, unknown>;
    parsedMailRequests.set(req, { body, target: String(body[field]) });
    next();
  };
}

/** The body `parseMailRequest` parsed for this request. */
export function parsedMailRequest<S extends z.ZodType>(_schema: () => S, req: Req): z.output<S> {
  const parsed = parsedMailRequests.get(req);
  if (!parsed) throw new Error('express-authlib: mail route reached without parseMailRequest');
  return parsed.body as z.output<S>;
}

/** The address a mail request goes to, as its route parsed it; undefined before parsing. */
export function mailTargetOf(req: object): string | undefined {
  return parsedMailRequests.get(req)?.target;
}
