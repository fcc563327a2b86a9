import { randomBytes } from 'node:crypto';
import { parse, serialize, type SerializeOptions } from 'cookie';
import { OAUTH_STATE_TTL_SECONDS } from './state-store.js';

const VALUE = /^[A-Za-z0-9_-]{43}$/;

/** The cookie that binds an OAuth flow to the browser that began it. */
export interface BrowserCookie {
  readonly name: string;
  /** The cookie's value in a request's `Cookie` header, if it is one of ours. */
  read(cookieHeader: string | string[] | undefined): string | undefined;
  /** A value for a browser that has none: 256 random bits. */
  fresh(): string;
  /** The `Set-Cookie` header that stores `value`, and the one that removes it. */
  set(value: string): string;
  clear(): string;
}

/**
 * HttpOnly, scoped to `basePath`, 10 minutes. Over https it is `Secure; SameSite=None` (with the
 * `__Secure-` prefix): a provider that answers with a cross-site form POST (`response_mode=form_post`,
 * Apple) only gets a cookie sent back that way, and so does a front end on another site calling with
 * `credentials: 'include'`. The cookie grants nothing by itself; it only has to match the state.
 * Over plain http (development) browsers refuse `SameSite=None` without `Secure`, so it is `Lax`,
 * which still rides along with the provider's top-level GET redirect back.
 */
export function browserCookie(publicUrl: string, basePath: string): BrowserCookie {
  const secure = new URL(publicUrl).protocol === 'https:';
  const name = secure ? '__Secure-authlib_oauth' : 'authlib_oauth';
  const attributes: SerializeOptions = { httpOnly: true, secure, sameSite: secure ? 'none' : 'lax', path: basePath };
  return {
    name,
    read(header) {
      const text = Array.isArray(header) ? header.join('; ') : header;
      if (!text) return undefined;
      const value = parse(text)[name];
      return value !== undefined && VALUE.test(value) ? value : undefined;
    },
    fresh: () => randomBytes(32).toString('base64url'),
    set: (value) => serialize(name, value, { ...attributes, maxAge: OAUTH_STATE_TTL_SECONDS }),
    clear: () => serialize(name, '', { ...attributes, maxAge: 0, expires: new Date(0) }),
  };
}
