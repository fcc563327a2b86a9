import { z } from 'zod';
import type { AuthError } from '../errors.js';
import type { OAuthService } from '../services/oauth.js';
import type { UserService } from '../services/users.js';
import { parseInput } from '../validation.js';
import { accessTokenOnly } from './access-token-only.js';
import { bodyObject } from './body.js';
import { sendError, sendJson } from './respond.js';
import { targetUserResolver } from './target-user.js';
import type { Handler, Req, Res, Routes } from './types.js';
import type { EventOrigin } from '../security/audit.js';
import type { Logger } from '../logger.js';

const beginSchema = z.object({
  provider: z.string().min(1).max(64),
  redirect_to: z.string().max(4096).optional(),
});

export interface OAuthRouteDeps {
  oauth: OAuthService;
  users: UserService;
  adminRole: string;
  authenticate: Handler;
  logger: Logger;
  origin: (req: Req) => EventOrigin;
}

/** Sends the browser back to the app with `fields` in the fragment: never the query, never a Referer. */
function redirectWith(res: Res, target: string, fields: Record<string, string>): void {
  res.statusCode = 302;
  res.setHeader('Location', `${target}#${new URLSearchParams(fields).toString()}`);
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

/** The query of a request as single strings (repeated parameters are refused, not merged). */
function queryOf(url: string | undefined): Record<string, string | undefined> {
  const params = new URL(url ?? '/', 'http://localhost').searchParams;
  const out: Record<string, string | undefined> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    out[key] = values.length === 1 ? values[0] : undefined;
  }
  return out;
}

/** OAuth login, the auth-methods listing, and linked identities. */
export function mountOAuthRoutes(router: Routes, d: OAuthRouteDeps): void {
  router.post('/login/oauth', async (req, res) => {
    const { provider, redirect_to } = parseInput(beginSchema, bodyObject(req));
    sendJson(res, 200, { redirect_url: await d.oauth.begin(provider, redirect_to) }, true);
  });

  router.get('/login/oauth2callback', async (req, res) => {
    const result = await d.oauth.complete(queryOf(req.url), d.origin(req));
    if (result.ok) {
      const { token, refresh_token, user } = result.login;
      if (result.redirectTo) redirectWith(res, result.redirectTo, { token, refresh_token });
      else sendJson(res, 200, { token, refresh_token, user }, true);
      return;
    }
    const error: AuthError = result.error;
    if (result.redirectTo) redirectWith(res, result.redirectTo, { error: error.code, error_description: error.message });
    else sendError(res, error, d.logger);
  });

  router.get('/auth-methods', (_req, res) => {
    sendJson(res, 200, {
      password: { enabled: true },
      oauth2: { providers: d.oauth.providerNames() },
      otp: { enabled: false },
      mfa: { enabled: false },
    });
  });

  const targetUser = targetUserResolver(d.users, d.adminRole);

  router.get('/:user/identities', d.authenticate, accessTokenOnly, async (req, res) => {
    sendJson(res, 200, await d.oauth.identities(await targetUser(req)));
  });

  router.delete('/:user/identities/:provider', d.authenticate, accessTokenOnly, async (req, res) => {
    await d.oauth.unlink(await targetUser(req), req.params?.provider ?? '', d.origin(req));
    sendJson(res, 200, { success: true });
  });
}
