import { RequestError } from '../errors.js';

/**
 * The value of the cookie `name` in a request's `Cookie` header, or undefined when it has none.
 * A header that carries the name twice is refused (400 `duplicate_cookie`), never resolved by
 * order: browsers send a longer `Path` first and a cookie another host of the site planted
 * (`Domain=`) next to ours, so "the first one" is whichever the attacker chose. A nameless cookie
 * whose value looks like `name=...` is indistinguishable on the wire and counts as one more.
 */
export function singleCookie(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text) return undefined;
  let found: string | undefined;
  let count = 0;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    count += 1;
    found = unquote(part.slice(eq + 1).trim());
  }
  if (count > 1) throw new RequestError('duplicate_cookie', `the request carries the cookie ${name} more than once; clear this site's cookies in the browser`);
  return found === '' ? undefined : found;
}

function unquote(value: string): string {
  const bare = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  try {
    return decodeURIComponent(bare);
  } catch {
    return bare;
  }
}
