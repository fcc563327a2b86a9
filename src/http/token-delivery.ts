import { serialize, type SerializeOptions } from 'cookie';
import * as z from 'zod';
import { hostCookieName, type ResolvedCookieOptions } from '../cookie-options.js';
import { ForbiddenError, NotConfiguredError } from '../errors.js';
import type { Logger } from '../logger.js';
import { OAUTH_STATE_TTL_SECONDS } from '../oauth/state-store.js';
import type { ResolvedOptions } from '../options.js';
import { CSRF_HEADER, csrfToken, csrfTokenMatches, requestOrigin } from '../security/csrf.js';
import { singleCookie } from '../security/single-cookie.js';
import { seal, unseal } from '../tokens/encryption.js';
import { sealedAt } from '../security/sealed-places.js';
import { verifyRefreshToken } from '../tokens/refresh-token.js';
import { lazySchema, parseInput } from '../validation.js';
import { bodyObject } from './body.js';
import { sendJson } from './respond.js';
import type { Req, Res } from './types.js';

const transportSchema = lazySchema(() => z.object({ refresh_token_in: z.enum(['body', 'cookie']).optional() }));
const refreshSchema = lazySchema(() => z.object({ refresh_token: z.string().min(1).max(4096) }));

/** A refresh token as presented to `/token-refresh` or `/logout`, and where it came from. */
export interface PresentedRefreshToken {
  token: string;
  fromCookie: boolean;
}

/**
 * How the token-issuing endpoints hand out tokens: in the JSON body (bearer mode, always), or, with
 * the `cookies` option and a request that asks for it, the refresh token as an HttpOnly cookie and
 * a `csrf_token` in the body instead. The one place that reads and writes the refresh cookie and
 * enforces the CSRF checks; rotation and reuse detection stay in the session service.
 */
export interface TokenDelivery {
  /** Whether this request asked for cookie delivery (`refresh_token_in: 'cookie'`); checks its origin if so. */
  wantsCookie(req: Req): boolean;
  /**
   * The same for a top-level navigation (`GET /login/oauth/{provider}?refresh_token_in=cookie`): no
   * Origin to check there; the flow's binding cookie and state protect its callback.
   */
  navigationWantsCookie(values: string[]): boolean;
  /** Answers with tokens: `body.refresh_token` moves into the cookie when `toCookie`. */
  send<T extends { refresh_token: string }>(res: Res, status: number, body: T, toCookie: boolean): void;
  /** The fragment fields of an OAuth redirect carrying a login. */
  fragment(res: Res, login: { token: string; refresh_token: string }, toCookie: boolean): Record<string, string>;
  /** The refresh token of `/token-refresh` or `/logout`: the body's, else the cookie's after the CSRF checks. */
  presented(req: Req): PresentedRefreshToken;
  /** Removes the refresh cookie (logout). */
  clear(res: Res): void;
  /** At the start of an OAuth flow: remembers for the callback whether this browser asked for cookie delivery. */
  rememberForOAuth(res: Res, toCookie: boolean): void;
  /**
   * At the OAuth callback: whether its flow asked for cookie delivery (throws 400 `duplicate_cookie`
   * for a doubled reminder). Only reads: the caller clears it (`rememberForOAuth(res, false)`) once the state is used.
   */
  recallForOAuth(req: Req): boolean;
}

/** Adds `Set-Cookie` headers, keeping those already set (the OAuth binding cookie). */
export function appendSetCookie(res: Res, values: string[]): void {
  const existing = res.getHeader('Set-Cookie');
  const before = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('Set-Cookie', [...before, ...values]);
}

const notConfigured = () => new NotConfiguredError("refresh_token_in: 'cookie' needs the `cookies` option on the server");
const csrfFailed = (why: string) => new ForbiddenError('csrf_failed', `cross-site request refused: ${why}`);

type Options = Pick<ResolvedOptions, 'cookies' | 'basePath' | 'keys' | 'issuer' | 'audience' | 'now' | 'refreshTokenExpiry' | 'encryptionKey'>;

/** Builds the token delivery of a router; without `cookies` it is bearer mode only. */
export function tokenDelivery(opts: Options, logger: Logger): TokenDelivery {
  const cookies = opts.cookies;
  if (cookies && !cookies.secure)
    logger.warn({ option: 'cookies.secure' }, 'express-authlib: cookies.secure is false; the refresh cookie is sent over plain http (development only)');
  const base = opts.basePath === '/' ? '' : opts.basePath;
  // Before `__Host-` names, the refresh cookie lived under these two paths; a sign-in removes them.
  const legacyPaths = [`${base}/token-refresh`, `${base}/logout`];
  // `__Host-` (with `secure`): host-only and `Path=/`, so no sibling host can plant or shadow it.
  const name = cookies ? hostCookieName(cookies.name, cookies.secure) : '';
  const reminderName = cookies ? hostCookieName(`${cookies.name}_oauth`, cookies.secure) : '';
  const attributes = (c: ResolvedCookieOptions): SerializeOptions => ({ httpOnly: true, secure: c.secure, sameSite: c.sameSite, path: '/' });
  const expired = { maxAge: 0, expires: new Date(0) };
  const legacyClears = (c: ResolvedCookieOptions) => legacyPaths.map((path) => serialize(c.name, '', { ...attributes(c), path, ...expired }));
  /**
   * The cookie holds the refresh token sealed (AES-256-GCM under `encryptionKey`), so its value is
   * no refresh token anywhere else: whoever obtains it cannot redeem it in a body, only a request
   * that carries it as this cookie can, and such a request passes the CSRF checks.
   */
  const refreshCookies = (c: ResolvedCookieOptions, refreshToken: string, maxAge: number) => [
    serialize(name, seal(opts.encryptionKey, refreshToken, sealedAt.refreshCookie()), { ...attributes(c), maxAge }),
    ...legacyClears(c),
  ];
  // Rides along with the provider's top-level redirect back, as the OAuth binding cookie does.
  const oauthReminder = (c: ResolvedCookieOptions, value: string, maxAge: number) =>
    serialize(reminderName, value, { httpOnly: true, secure: c.secure, sameSite: c.secure ? 'none' : 'lax', path: '/', maxAge });

  function checkOrigin(c: ResolvedCookieOptions, req: Req): void {
    const origin = requestOrigin(req);
    if (origin === undefined) throw csrfFailed('the request has no Origin or Referer');
    if (!c.allowedOrigins.includes(origin)) throw csrfFailed('the origin is not allowed');
  }

  function csrfOf(refreshToken: string): string {
    const verified = verifyRefreshToken(opts, refreshToken);
    // Just issued by us: it verifies.
    if (!verified.ok) throw new Error('express-authlib: a refresh token just issued does not verify');
    return csrfToken(opts.keys[0]!, verified.claims.fam);
  }

  return {
    wantsCookie(req) {
      const { refresh_token_in } = parseInput(transportSchema(), bodyObject(req));
      if (refresh_token_in !== 'cookie') return false;
      if (!cookies) throw notConfigured();
      // Setting a login's cookie from another site would be login CSRF: only allowed origins may ask.
      checkOrigin(cookies, req);
      return true;
    },

    navigationWantsCookie(values) {
      const input = values.length === 0 ? {} : { refresh_token_in: values.length === 1 ? values[0] : values };
      if (parseInput(transportSchema(), input).refresh_token_in !== 'cookie') return false;
      if (!cookies) throw notConfigured();
      return true;
    },

    send(res, status, body, toCookie) {
      if (!toCookie || !cookies) return sendJson(res, status, body, true);
      const { refresh_token, ...rest } = body;
      const verified = verifyRefreshToken(opts, refresh_token);
      const maxAge = verified.ok ? Math.max(0, verified.claims.exp - Math.floor(opts.now().getTime() / 1000)) : opts.refreshTokenExpiry;
      appendSetCookie(res, refreshCookies(cookies, refresh_token, maxAge));
      sendJson(res, status, { ...rest, csrf_token: csrfOf(refresh_token) }, true);
    },

    fragment(res, login, toCookie): Record<string, string> {
      if (!toCookie || !cookies) return { token: login.token, refresh_token: login.refresh_token };
      appendSetCookie(res, refreshCookies(cookies, login.refresh_token, opts.refreshTokenExpiry));
      return { token: login.token, csrf_token: csrfOf(login.refresh_token) };
    },

    presented(req) {
      const body = bodyObject(req);
      const fromCookie = cookies && body.refresh_token === undefined ? singleCookie(req.headers.cookie, name) : undefined;
      // A body token is bearer mode; a cookie's sealed value never opens a login from a body (it is no JWT).
      if (!cookies || fromCookie === undefined) return { token: parseInput(refreshSchema(), body).refresh_token, fromCookie: false };
      checkOrigin(cookies, req);
      const given = req.headers[CSRF_HEADER];
      if (typeof given !== 'string' || given === '') throw csrfFailed(`the ${CSRF_HEADER} header is missing`);
      // Not sealed by us (a cookie of an older version, or a planted one) is no token: the session service refuses it.
      const token = (fromCookie.length <= 8192 && unseal(opts.encryptionKey, fromCookie, sealedAt.refreshCookie())) || '';
      const verified = verifyRefreshToken(opts, token);
      // A cookie that does not verify changes nothing: the session service refuses it as it refuses a bad body token.
      if (verified.ok && !csrfTokenMatches(opts.keys, verified.claims.fam, given)) throw csrfFailed(`the ${CSRF_HEADER} header does not match`);
      return { token, fromCookie: true };
    },

    clear(res) {
      if (!cookies) return;
      appendSetCookie(res, [serialize(name, '', { ...attributes(cookies), ...expired }), ...legacyClears(cookies)]);
    },

    rememberForOAuth(res, toCookie) {
      if (!cookies) return;
      appendSetCookie(res, [toCookie ? oauthReminder(cookies, 'cookie', OAUTH_STATE_TTL_SECONDS) : oauthReminder(cookies, '', 0)]);
    },

    recallForOAuth(req) {
      return cookies !== undefined && singleCookie(req.headers.cookie, reminderName) === 'cookie';
    },
  };
}
