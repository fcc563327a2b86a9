import { randomBytes } from 'node:crypto';
import { serialize, type SerializeOptions } from 'cookie';
import { hostCookieName } from '../cookie-options.js';
import { singleCookie } from '../security/single-cookie.js';
import { OAUTH_STATE_TTL_SECONDS } from './state-store.js';

const VALUE = /^[A-Za-z0-9_-]{43}$/;

/** The cookie that binds an OAuth flow to the browser that began it. */
export interface BrowserCookie {
  readonly name: string;
  /**
   * The cookie's value in a request's `Cookie` header, if it is one of ours. Throws 400
   * `duplicate_cookie` when the header carries the name twice (one of them planted).
   */
  read(cookieHeader: string | string[] | undefined): string | undefined;
  /** A value for a browser that has none: 256 random bits. */
  fresh(): string;
  /** The `Set-Cookie` header that stores `value`, and the one that removes it. */
  set(value: string): string;
  clear(): string;
}

/**
 * HttpOnly, `Path=/`, host-only, 10 minutes. Over https it is `__Host-authlib_oauth`, `Secure;
 * SameSite=None`: the prefix makes browsers refuse the cookie from any other host, so a sibling
 * subdomain cannot toss in its own value (login CSRF, or linking the victim's provider account to
 * the attacker's user). `SameSite=None` because a provider that answers with a cross-site form POST
 * (`response_mode=form_post`, Apple) only gets a cookie sent back that way, and so does a front end
 * on another site calling with `credentials: 'include'`; the cookie grants nothing by itself, it only
 * has to match the state. Over plain http (development) there is no prefix and no `Secure`, and
 * browsers refuse `SameSite=None` without `Secure`, so it is `Lax`, which still rides along with the
 * provider's top-level GET redirect back.
 */
export function browserCookie(publicUrl: string): BrowserCookie {
  const secure = new URL(publicUrl).protocol === 'https:';
  const name = hostCookieName('authlib_oauth', secure);
  const attributes: SerializeOptions = { httpOnly: true, secure, sameSite: secure ? 'none' : 'lax', path: '/' };
  return {
    name,
    read(header) {
      const value = singleCookie(header, name);
      return value !== undefined && VALUE.test(value) ? value : undefined;
    },
    fresh: () => randomBytes(32).toString('base64url'),
    set: (value) => serialize(name, value, { ...attributes, maxAge: OAUTH_STATE_TTL_SECONDS }),
    clear: () => serialize(name, '', { ...attributes, maxAge: 0, expires: new Date(0) }),
  };
}
