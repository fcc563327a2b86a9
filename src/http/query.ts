import { ValidationError } from '../errors.js';
import type { Req } from './types.js';

/**
 * The named query parameters of a request, each a string or undefined; a parameter given twice is
 * a validation error rather than a silent pick of one.
 */
export function queryParams<K extends string>(req: Req, names: readonly K[]): Partial<Record<K, string>> {
  const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const out: Partial<Record<K, string>> = {};
  for (const name of names) {
    const all = params.getAll(name);
    if (all.length > 1) throw new ValidationError({ [name]: 'must be given once' });
    if (all.length === 1) out[name] = all[0];
  }
  return out;
}

/** A query value as a whole number (its range is the service's to check); undefined stays undefined. */
export function wholeNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,10}$/.test(value)) throw new ValidationError({ [name]: 'must be a whole number' });
  return Number(value);
}
