import { isIPv4, isIPv6 } from 'node:net';
import { ipKeyGenerator } from 'express-rate-limit';
import { identityKey } from '../identity-key.js';
import { sha256 } from '../tokens/secrets.js';

/**
 * The forms a client address takes in counter keys: as the socket gave it (the per-account delay
 * keys), as the route limiters count it (an IPv6 address by its /56 network, see `addressKey`), and
 * an IPv4 address also as the IPv4-mapped IPv6 address a dual-stack socket reports.
 */
export function addressParts(ip: string): string[] {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  const v4 = isIPv4(ip) ? ip : mapped;
  if (v4 !== undefined) return [v4, `::ffff:${v4}`];
  if (!isIPv6(ip)) throw new TypeError(`express-authlib: '${ip}' is not an IPv4 or IPv6 address`);
  // The compressed lower-case form, as a socket reports it.
  const canonical = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  return [...new Set([canonical, ipKeyGenerator(canonical)])];
}

/**
 * What a counter key may carry of an account: its id (per-account keys), its folded username and
 * email as a name typed at login (`n:<name>`, attempts not known by id), and their SHA-256 (keys
 * that must not hold an address, such as `mailTarget`). A name only with its `n:` tag: a user
 * called `password` must not name the key `login:password|a:<address>`.
 */
export function accountParts(user: { id: string; username: string; email: string | null }): string[] {
  const names = [user.username, ...(user.email ? [user.email] : [])].map(identityKey);
  return [...new Set([user.id, ...names.map((name) => `n:${name}`), ...names.map(sha256)])];
}

/** Characters that continue an address, id or name: a part followed or preceded by one is only a piece of something longer. */
const CONTINUES = /[\w.@+\-/]/;
/**
 * The tags before a value (`login:`, `u:`, `code:a:`), at the key's start or after a `|`. A tag is a
 * word with a letter past `f`, or a single letter: never a group of an IPv6 address as stored
 * (`abcd:` is one; the single letters stand for a::/16 to f::/16, which no client comes from).
 */
const TAGS = /(?:^|\|)(?:(?:[A-Za-z_]*[g-zG-Z_][A-Za-z_]*|[A-Za-z]):)+$/;

/**
 * Whether a counter key names one of `parts` as a whole value. Keys are built as `limiter:value`
 * (`login:203.0.113.7`, `mailTarget:<sha256>`, `code:u:<user id>`), `u:<user id>|<address>`, and
 * compositions of these with `:` and `|` (`login:<address>|u:<user id>`); a part counts wherever it
 * stands between such separators, so keys that combine an address and an account are named by
 * either. `10.0.0.1` does not name `login:10.0.0.12`, nor `2001:db8::1` `login:2001:db8::12`.
 */
export function keyNamesAny(key: string, parts: readonly string[]): boolean {
  return parts.some((part) => {
    const hasColon = part.includes(':');
    for (let i = key.indexOf(part); i >= 0; i = key.indexOf(part, i + 1)) {
      const before = key[i - 1];
      const after = key[i + part.length];
      // A `:` beside an IPv6 part may be a piece of a longer address; before it, only a tag's `:` separates.
      const left = before === undefined || (before === ':' ? !hasColon || TAGS.test(key.slice(0, i)) : !CONTINUES.test(before));
      const right = after === undefined || (after === ':' ? !hasColon : !CONTINUES.test(after));
      // `login` in `login:203.0.113.7` is the limiter's name, not a user called login.
      const isTag = after === ':' && (before === undefined || before === '|') && /^[A-Za-z_]+$/.test(part);
      if (left && right && !isTag) return true;
    }
    return false;
  });
}
