import { misuse, plainObject } from './option-checks.js';
import { isAbsoluteHttpUrl } from './oauth/redirects.js';

// The `cookies` option (cookie mode for browser front ends): its shape, defaults and resolver.

/** The `cookies` option: refresh tokens in an HttpOnly cookie, with CSRF protection. */
export interface CookieOptions {
  /** Name of the refresh cookie; with `secure` it is sent as `__Host-<name>`. @default 'authlib_refresh' */
  name?: string;
  /** `SameSite` attribute; `'none'` needs `secure`. @default 'strict' */
  sameSite?: 'strict' | 'lax' | 'none';
  /** `Secure` attribute; `false` only for http://localhost development (a warning is logged). @default true */
  secure?: boolean;
  /**
   * Refused (a TypeError at construction): a `Domain` cookie is sent to every host under that
   * domain, any of which could receive and redeem the refresh token. The cookie is host-only.
   */
  domain?: never;
  /** Exact origins (`https://app.example.com`) whose requests may use or receive the cookie. @default the origin of `publicUrl` */
  allowedOrigins?: string[];
}

/** `cookies` after resolution. */
export interface ResolvedCookieOptions {
  readonly name: string;
  readonly sameSite: 'strict' | 'lax' | 'none';
  readonly secure: boolean;
  readonly allowedOrigins: readonly string[];
}

export const DEFAULT_COOKIE_NAME = 'authlib_refresh';
export const DEFAULT_COOKIE_SAME_SITE = 'strict';
export const DEFAULT_COOKIE_SECURE = true;

const COOKIE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The name a cookie of ours is sent under: `__Host-<name>` when it is `Secure`. Browsers accept a
 * `__Host-` cookie only from a secure origin, with `Secure`, `Path=/` and no `Domain`, so no other
 * host (a sibling subdomain) can set, overwrite or shadow it. Over plain http the prefix cannot
 * be used and the bare name is (development only).
 */
export function hostCookieName(name: string, secure: boolean): string {
  return secure ? `__Host-${name}` : name;
}

/** An origin as browsers send it in `Origin`: scheme, host and port only, no path or trailing slash. */
function isOrigin(value: unknown): value is string {
  return typeof value === 'string' && isAbsoluteHttpUrl(value) && new URL(value).origin === value;
}

export function cookiesOf(value: unknown, publicUrl: unknown): ResolvedCookieOptions | undefined {
  if (value === undefined) return undefined;
  const o = plainObject(value, 'cookies', '{ name?, sameSite?, secure?, allowedOrigins? }');
  for (const key of Object.keys(o)) {
    if (!['name', 'sameSite', 'secure', 'domain', 'allowedOrigins'].includes(key))
      throw misuse(`cookies.${key}`, 'is not known: use name, sameSite, secure or allowedOrigins');
  }
  const name = o.name ?? DEFAULT_COOKIE_NAME;
  // Letters, digits, _ and -; the `__Host-` prefix is added by the library (with `secure`), never chosen.
  if (typeof name !== 'string' || !COOKIE_NAME.test(name) || name.startsWith('__'))
    throw misuse('cookies.name', "must be 1-64 letters, digits, '_' or '-', not starting with '__'");
  const sameSite = o.sameSite ?? DEFAULT_COOKIE_SAME_SITE;
  if (sameSite !== 'strict' && sameSite !== 'lax' && sameSite !== 'none') throw misuse('cookies.sameSite', "must be 'strict', 'lax' or 'none'");
  const secure = o.secure ?? DEFAULT_COOKIE_SECURE;
  if (typeof secure !== 'boolean') throw misuse('cookies.secure', 'must be true or false');
  if (sameSite === 'none' && !secure) throw misuse('cookies.sameSite', "'none' needs `cookies.secure: true` (browsers drop such a cookie otherwise)");
  if (o.domain !== undefined)
    throw misuse(
      'cookies.domain',
      "is refused: a Domain cookie is sent to every host under that domain, and any of them (a compromised or hostile subdomain) could receive the refresh token and redeem it, or plant its own. The refresh cookie is host-only (`__Host-`) on the API's host; call the API on that host from every front end (cookies.allowedOrigins lists them)",
    );
  let allowedOrigins = o.allowedOrigins;
  if (allowedOrigins === undefined) {
    if (typeof publicUrl !== 'string' || !isAbsoluteHttpUrl(publicUrl))
      throw misuse('cookies.allowedOrigins', "is required when `publicUrl` is not set: the origins of your front end, e.g. ['https://app.example.com']");
    allowedOrigins = [new URL(publicUrl).origin];
  }
  if (!Array.isArray(allowedOrigins) || allowedOrigins.length === 0 || !allowedOrigins.every(isOrigin))
    throw misuse('cookies.allowedOrigins', "must be a non-empty array of origins without a path, e.g. ['https://app.example.com']");
  return Object.freeze({ name, sameSite, secure, allowedOrigins: Object.freeze([...allowedOrigins]) });
}
