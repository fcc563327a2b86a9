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
