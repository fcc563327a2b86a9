import * as z from 'zod';
import { ForbiddenError, MfaRequiredError, type AuthError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { BrowserCookie } from '../oauth/browser-cookie.js';
import { addressKey, notAFailure } from '../security/rate-limit.js';
import type { IdentityService } from '../services/identities.js';
import { hasUnverifiedAddress } from '../services/address-ownership.js';
import type { OAuthService } from '../services/oauth.js';
import type { UserService } from '../services/users.js';
import { lazySchema, parseInput } from '../validation.js';
import type { EventOrigin } from '../security/audit.js';
import { accessTokenOnly } from './access-token-only.js';
import { bodyObject, formBody } from './body.js';
import { sendError, sendJson } from './respond.js';
import { targetUserResolver } from './target-user.js';
import type { TokenDelivery } from './token-delivery.js';
import { caller, type Handler, type Req, type Res, type Routes } from './types.js';
import { param } from './path-params.js';

export const beginSchema = lazySchema(() =>
  z.object({
    provider: z.string().min(1).max(64),
    redirect_to: z.string().max(4096).optional(),
    // The front end's one-time value for this flow, handed back in the redirect's fragment.
    client_state: z
      .string()
      .regex(/^[A-Za-z0-9_-]{16,128}$/, 'must be 16-128 letters, digits, - or _')
      .optional()
      .meta({ description: "the front end's one-time value for this flow, handed back as `client_state` in the redirect's fragment" }),
  }),
);
export const linkSchema = lazySchema(() => beginSchema().omit({ provider: true }));

export interface OAuthRouteDeps {
  oauth: OAuthService;
  identities: IdentityService;
  users: UserService;
  adminRole: string;
  authenticate: Handler;
  cookie: BrowserCookie;
  clientIp: (req: Req) => string;
  limit: { oauth: Handler; oauthCallback: Handler };
  logger: Logger;
  /** Whether email one-time codes work (a mailer exists), for `/auth-methods`. */
  otpEnabled: boolean;
  /** Whether passkeys work (the `webauthn` option), for `/auth-methods`. */
  passkeyEnabled: boolean;
  origin: (req: Req) => EventOrigin;
  tokens: TokenDelivery;
}

/** Sends the browser back to the app with `fields` in the fragment: never the query, never a Referer. */
function redirectWith(res: Res, target: string, fields: Record<string, string>): void {
  res.statusCode = 302;
  res.setHeader('Location', `${target}#${new URLSearchParams(fields).toString()}`);
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

/** The query of a request, every value kept (the flow refuses repeated `state` or `provider`). */
function queryOf(req: Req): URLSearchParams {
  return new URL(req.url ?? '/', 'http://localhost').searchParams;
}

/** A form body as parameters; only string values count (a host app's extended parser may nest). */
function formOf(req: Req): URLSearchParams {
  const params = new URLSearchParams();
  const body = req.body;
  if (body !== null && typeof body === 'object') {
    for (const [key, value] of Object.entries(body)) {
      for (const item of Array.isArray(value) ? value : [value]) if (typeof item === 'string') params.append(key, item);
    }
  }
  return params;
}

/** Begins a flow for this browser (reusing its binding cookie if it has one) and sets the cookie. */
async function beginFor(
  d: OAuthRouteDeps,
  req: Req,
  res: Res,
  input: { provider: string; redirectTo: string | undefined; clientState: string | undefined; linkUserId?: string; toCookie: boolean },
): Promise<string> {
  const { toCookie, ...flow } = input;
  const browser = d.cookie.read(req.headers.cookie) ?? d.cookie.fresh();
  const url = await d.oauth.begin({ ...flow, browser, clientKey: addressKey('oauth', d.clientIp(req)), headers: req.headers });
  res.setHeader('Set-Cookie', d.cookie.set(browser));
  // The callback signs in (a linking flow too): it remembers how its tokens are to be delivered.
  d.tokens.rememberForOAuth(res, toCookie);
  return url;
}

/** Callback outcomes that count as failures: not the user's own choices, nor the provider being down. */
const CALLBACK_FAILURES: ReadonlySet<string> = new Set(['invalid_state', 'oauth_failed', 'validation_error']);

/** The callback, by GET (the usual redirect) or by form POST; both answer alike. */
function callbackHandler(d: OAuthRouteDeps, paramsOf: (req: Req) => URLSearchParams): Handler {
  return async (req, res) => {
    // Both cookies are read (and a doubled one refused) before the state is used up.
    const browser = d.cookie.read(req.headers.cookie);
    const toCookie = d.tokens.recallForOAuth(req);
    const result = await d.oauth.complete({ params: paramsOf(req), browser, headers: req.headers, origin: d.origin(req) });
    // The state is used up: this browser's binding and its delivery reminder have done their work.
    res.setHeader('Set-Cookie', d.cookie.clear());
    if (toCookie) d.tokens.rememberForOAuth(res, false);
    // The front end's value goes back with the result, so it can tell a flow it began from one it did not.
    const clientState: Record<string, string> = result.clientState ? { client_state: result.clientState } : {};
    if (result.ok) {
      const { token, refresh_token, user } = result.login;
      if (result.redirectTo) redirectWith(res, result.redirectTo, { ...d.tokens.fragment(res, { token, refresh_token }, toCookie), ...clientState });
      else d.tokens.send(res, 200, { token, refresh_token, user }, toCookie);
      return;
    }
    const error: AuthError = result.error;
    // Only what a forger or a flood produces counts toward the callback limit.
    if (!CALLBACK_FAILURES.has(error.code)) notAFailure(req);
    // A second factor is due: the front end finishes with the mfa_id (POST /login/mfa).
    const mfa: Record<string, string> = error instanceof MfaRequiredError ? { mfa_id: error.mfaId, methods: error.methods.join(' ') } : {};
    if (result.redirectTo) redirectWith(res, result.redirectTo, { error: error.code, ...mfa, error_description: error.message, ...clientState });
    else sendError(res, error, d.logger);
  };
}

/**
 * The form-POST callback (`response_mode=form_post`): mounted before the router's JSON body parser,
 * since it is the one route whose body is a form.
 */
export function mountOAuthFormCallback(router: Routes, d: OAuthRouteDeps): void {
  router.post('/login/oauth2callback', d.limit.oauthCallback, formBody, callbackHandler(d, formOf));
}

/** OAuth login, explicit linking, the auth-methods listing, and linked identities. */
export function mountOAuthRoutes(router: Routes, d: OAuthRouteDeps): void {
  router.post('/login/oauth', d.limit.oauth, async (req, res) => {
    const { provider, redirect_to, client_state } = parseInput(beginSchema(), bodyObject(req));
    const toCookie = d.tokens.wantsCookie(req);
    sendJson(res, 200, { redirect_url: await beginFor(d, req, res, { provider, redirectTo: redirect_to, clientState: client_state, toCookie }) }, true);
  });

  // The same as a top-level navigation: `<a href=".../login/oauth/google?redirect_to=...">`.
  router.get('/login/oauth/:provider', d.limit.oauth, async (req, res) => {
    const query = queryOf(req);
    // A repeated parameter stays an array, which the schema refuses.
    const one = (key: string) => {
      const values = query.getAll(key);
      return values.length === 0 ? {} : { [key]: values.length === 1 ? values[0] : values };
    };
    const input = parseInput(beginSchema(), { provider: req.params?.provider, ...one('redirect_to'), ...one('client_state') });
    // A top-level navigation carries no body: `?refresh_token_in=cookie` asks for cookie delivery.
    const toCookie = d.tokens.navigationWantsCookie(query.getAll('refresh_token_in'));
    const url = await beginFor(d, req, res, { provider: input.provider, redirectTo: input.redirect_to, clientState: input.client_state, toCookie });
    res.statusCode = 302;
    res.setHeader('Location', url);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    res.end();
  });

  router.get('/login/oauth2callback', d.limit.oauthCallback, callbackHandler(d, queryOf));

  router.get('/auth-methods', (_req, res) => {
    sendJson(res, 200, {
      password: { enabled: true },
      oauth2: { providers: d.oauth.providerNames() },
      otp: { enabled: d.otpEnabled },
      // TOTP needs no configuration: any user can turn it on.
      mfa: { enabled: true },
      passkey: { enabled: d.passkeyEnabled },
    });
  });

  const targetUser = targetUserResolver(d.users, d.adminRole);

  router.get('/:user/identities', d.authenticate, accessTokenOnly, async (req, res) => {
    sendJson(res, 200, await d.identities.list(await targetUser(req)));
  });

  // Linking is done by the account's owner, in their own browser: an admin cannot sign in at a provider for someone else.
  router.post('/:user/identities/:provider', d.authenticate, accessTokenOnly, d.limit.oauth, async (req, res) => {
    const userId = await targetUser(req);
    if (userId !== caller(req).user.id) throw new ForbiddenError('forbidden', 'only the signed-in user can link a provider to their account');
    // Whoever registered an address they have not proven must not plant a way in (contract 5.3, "Ownership").
    if (hasUnverifiedAddress(caller(req).user)) throw new ForbiddenError('email_not_verified', 'verify your email address before linking a provider');
    const { redirect_to, client_state } = parseInput(linkSchema(), bodyObject(req));
    const toCookie = d.tokens.wantsCookie(req);
    const url = await beginFor(d, req, res, {
      provider: param(req, 'provider'),
      redirectTo: redirect_to,
      clientState: client_state,
      linkUserId: userId,
      toCookie,
    });
    sendJson(res, 200, { redirect_url: url }, true);
  });

  router.delete('/:user/identities/:provider', d.authenticate, accessTokenOnly, async (req, res) => {
    await d.identities.unlink(await targetUser(req), param(req, 'provider'), d.origin(req));
    sendJson(res, 200, { success: true });
  });
}
