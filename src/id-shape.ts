/**
 * Whether a name could be read as an id (a user's or a group's): 32 hex digits, in either case,
 * once hyphens are dropped, which is every spelling PostgreSQL's uuid type accepts within the
 * alphabet of slugs and usernames (hyphenated or not, hyphens anywhere; braces are outside both
 * alphabets). Such names are refused, so that a reference (a path segment, a guard's `group`, a
 * CLI argument, a listing's `name (id)`) never names two accounts or two groups.
 */
export function isIdShaped(name: string): boolean {
  return /^[0-9a-f]{32}$/i.test(name.replaceAll('-', ''));
}

/** The id a name shaped like one spells, in the canonical form (lower case, hyphenated); undefined for any other name. */
export function canonicalId(name: string): string | undefined {
  const hex = name.replace(/^\{(.*)\}$/, '$1').replaceAll('-', '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) return undefined;
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** An id in the form paths and arguments write it: 8-4-4-4-12 hex digits with hyphens, in either case. */
const WRITTEN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** An id in its one canonical spelling (lower case), as PostgreSQL returns a uuid. */
const CANONICAL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether `value` is an id as paths and arguments write one (hyphenated, either case); other spellings name nothing. */
export function isWrittenId(value: unknown): value is string {
  return typeof value === 'string' && WRITTEN_ID.test(value);
}

/**
 * An id where it enters (a path segment, an argument of the programmatic API): the hyphenated
 * form in either case becomes the canonical spelling, so that every cache key, announced
 * revocation and audit row names the id as the database stores it; anything else is returned
 * unchanged (a slug, `me`, or something that names nothing).
 */
export function normalizeId<T>(value: T): T {
  return (isWrittenId(value) ? value.toLowerCase() : value) as T;
}

/**
 * The key under which in-memory state (cached users, revoked logins) knows an id: its canonical
 * spelling whatever spelling PostgreSQL would have read it in (case, braces, hyphens), so that no
 * spelling that reached the database can miss the state; anything else is its own key.
 */
export function idKey(value: string): string {
  return CANONICAL_ID.test(value) ? value : (canonicalId(value) ?? value);
}
