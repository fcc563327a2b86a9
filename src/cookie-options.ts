import { misuse, plainObject } from './option-checks.js';
import { isAbsoluteHttpUrl } from './oauth/redirects.js';

// The `cookies` option (cookie mode for browser front ends): its shape, defaults and resolver.

/** The `cookies` option: refresh tokens in an HttpOnly cookie, with CSRF protection. */
export interface CookieOptions {
  /** Name of the refresh cookie. @default 'authlib_refresh' */
  name?: string;
  /** `SameSite` attribute; `'none'` needs `secure`. @default 'strict' */
  sameSite?: 'strict' | 'lax' | 'none';
  /** `Secure` attribute; `false` only for http://localhost development (a warning is logged). @default true */
  secure?: boolean;
  /** `Domain` attribute, to share the cookie with subdomains. @default none (host-only) */
  domain?: string;
  /** Exact origins (`https://app.example.com`) whose requests may use or receive the cookie. @default the origin of `publicUrl` */
  allowedOrigins?: string[];
}

/** `cookies` after resolution. */
export interface ResolvedCookieOptions {
  readonly name: string;
  readonly sameSite: 'strict' | 'lax' | 'none';
  readonly secure: boolean;
  readonly domain: string | undefined;
  readonly allowedOrigins: readonly string[];
}

export const DEFAULT_COOKIE_NAME = 'authlib_refresh';
export const DEFAULT_COOKIE_SAME_SITE = 'strict';
export const DEFAULT_COOKIE_SECURE = true;

const COOKIE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const DOMAIN = /^\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** An origin as browsers send it in `Origin`: scheme, host and port only, no path or trailing slash. */
function isOrigin(value: unknown): value is string {
  return typeof value === 'string' && isAbsoluteHttpUrl(value) && new URL(value).origin === value;
}

export function cookiesOf(value: unknown, publicUrl: unknown): ResolvedCookieOptions | undefined {
  if (value === undefined) return undefined;
  const o = plainObject(value, 'cookies', '{ name?, sameSite?, secure?, domain?, allowedOrigins? }');
  for (const key of Object.keys(o)) {
    if (!['name', 'sameSite', 'secure', 'domain', 'allowedOrigins'].includes(key))
      throw misuse(`cookies.${key}`, 'is not known: use name, sameSite, secure, domain or allowedOrigins');
  }
  const name = o.name ?? DEFAULT_COOKIE_NAME;
  // Letters, digits, _ and -; no `__Host-` (it forbids the Path the cookie needs) or `__Secure-` prefix games.
  if (typeof name !== 'string' || !COOKIE_NAME.test(name) || name.startsWith('__'))
    throw misuse('cookies.name', "must be 1-64 letters, digits, '_' or '-', not starting with '__'");
  const sameSite = o.sameSite ?? DEFAULT_COOKIE_SAME_SITE;
  if (sameSite !== 'strict' && sameSite !== 'lax' && sameSite !== 'none') throw misuse('cookies.sameSite', "must be 'strict', 'lax' or 'none'");
  const secure = o.secure ?? DEFAULT_COOKIE_SECURE;
  if (typeof secure !== 'boolean') throw misuse('cookies.secure', 'must be true or false');
  if (sameSite === 'none' && !secure) throw misuse('cookies.sameSite', "'none' needs `cookies.secure: true` (browsers drop such a cookie otherwise)");
  const domain = o.domain;
  if (domain !== undefined && (typeof domain !== 'string' || !DOMAIN.test(domain))) throw misuse('cookies.domain', "must be a host name such as 'example.com'");
  let allowedOrigins = o.allowedOrigins;
  if (allowedOrigins === undefined) {
    if (typeof publicUrl !== 'string' || !isAbsoluteHttpUrl(publicUrl))
      throw misuse('cookies.allowedOrigins', "is required when `publicUrl` is not set: the origins of your front end, e.g. ['https://app.example.com']");
    allowedOrigins = [new URL(publicUrl).origin];
  }
  if (!Array.isArray(allowedOrigins) || allowedOrigins.length === 0 || !allowedOrigins.every(isOrigin))
    throw misuse('cookies.allowedOrigins', "must be a non-empty array of origins without a path, e.g. ['https://app.example.com']");
  return Object.freeze({ name, sameSite, secure, domain, allowedOrigins: Object.freeze([...allowedOrigins]) });
}
