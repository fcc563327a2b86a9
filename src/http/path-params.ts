import { NotFoundError } from '../errors.js';
import { canonicalId, isWrittenId, normalizeId } from '../id-shape.js';
import type { Req } from './types.js';

/** A path parameter as written (a name: a role, a provider, a connector); '' when absent. */
export function param(req: Req, name: string): string {
  return req.params?.[name] ?? '';
}

/**
 * A path parameter that names something by id (`{user}`, `{id}`, `{sessionId}`...), where the id
 * enters the library: the hyphenated form in either case becomes the canonical spelling (lower
 * case), so the database, every instance's caches and the audit see one id. The other spellings
 * PostgreSQL would read as that id (no hyphens, braces) name nothing: 404, as in every other id
 * path and guard (no slug or username is shaped like an id). Anything else (`me`, a slug, an
 * API-token id, which is case-sensitive) is returned as written.
 */
export function idParam(req: Req, name: string): string {
  const value = param(req, name);
  if (isWrittenId(value)) return normalizeId(value);
  if (canonicalId(value) !== undefined) throw new NotFoundError('not found');
  return value;
}
