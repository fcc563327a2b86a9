import * as z from 'zod';
import { ForbiddenError } from '../errors.js';
import type { EventOrigin } from '../security/audit.js';
import type { AccountLifecycleService } from '../services/account-lifecycle.js';
import type { OtpService } from '../services/otp.js';
import * as v from '../validation.js';
import { accessTokenOnly } from './access-token-only.js';
import { bodyObject } from './body.js';
import { parseMailRequest, parsedMailRequest } from './mail-target.js';
import { sendJson } from './respond.js';
import type { TokenDelivery } from './token-delivery.js';
import { caller, type Handler, type Req, type Routes } from './types.js';

export const emailSchema = v.lazySchema(() => z.object({ email: v.email() }));
const linkToken = v.lazySchema(() => z.string().min(1).max(256));
export const resetSchema = v.lazySchema(() => z.object({ token: linkToken(), password: v.password() }));
export const tokenSchema = v.lazySchema(() => z.object({ token: linkToken() }));
export const verificationSchema = v.lazySchema(() => z.object({ token: linkToken(), password: z.string().min(1).max(1024).optional() }));
export const emailChangeSchema = v.lazySchema(() => z.object({ new_email: v.email() }));
export const confirmEmailChangeSchema = v.lazySchema(() =>
  z.object({
    token: linkToken(),
    password: z.string().min(1).max(1024).optional().meta({
      description:
        "the account's password (401 `invalid_credentials` when wrong). A password-less account sends none and confirms with its own access JWT (`Authorization: Bearer`) instead: 401 `unauthorized` without one, 403 `forbidden` with another user's, an API token, a service key or an impersonation token",
    }),
  }),
);
export const otpLoginSchema = v.lazySchema(() =>
  z.object({ otp_id: z.string().min(1).max(64), code: z.string().min(1).max(32), mfa_id: z.string().min(1).max(128).optional() }),
);

export interface AccountRouteDeps {
  lifecycle: AccountLifecycleService;
  otp: OtpService;
  authenticate: Handler;
  /** `authenticate` when the request carries a credential, else nothing (`/confirm-email-change`). */
  authenticateIfPresent: Handler;
  origin: (req: Req) => EventOrigin;
  /** `mail` per address, `mailTarget` per target email, `code` failed codes, `login` failed passwords. */
  limit: { mail: Handler; mailTarget: Handler; code: Handler };
  tokens: TokenDelivery;
}

/** The account lifecycle by mail (contract 5.3): reset, verification, email change, email OTP login. */
export function mountAccountRoutes(router: Routes, d: AccountRouteDeps): void {
  // Per address, then the body parsed once, then per target address: the one the route mails.
  const mailLimits = (schema: typeof emailSchema) => [d.limit.mail, parseMailRequest(schema, 'email'), d.limit.mailTarget];

  // 202 whether or not the address is known: the mail (if any) is sent after the answer.
  router.post('/request-password-reset', ...mailLimits(emailSchema), async (req, res) => {
    const { email } = parsedMailRequest(emailSchema, req);
    await d.lifecycle.requestPasswordReset(email, d.origin(req));
    sendJson(res, 202, { success: true });
  });

  router.post('/confirm-password-reset', d.limit.code, async (req, res) => {
    const { token, password } = v.parseInput(resetSchema(), bodyObject(req));
    await d.lifecycle.confirmPasswordReset(token, password, d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.post('/request-verification', ...mailLimits(emailSchema), async (req, res) => {
    const { email } = parsedMailRequest(emailSchema, req);
    await d.lifecycle.requestVerification(email, d.origin(req));
    sendJson(res, 202, { success: true });
  });

  // A wrong password here is a password guess: the login limiter counts it.
  router.post('/confirm-verification', d.limit.code, async (req, res) => {
    const { token, password } = v.parseInput(verificationSchema(), bodyObject(req));
    sendJson(res, 200, { success: true, user: await d.lifecycle.confirmVerification(token, password, d.origin(req)) });
  });

  router.post(
    '/request-email-change',
    d.authenticate,
    accessTokenOnly,
    d.limit.mail,
    parseMailRequest(emailChangeSchema, 'new_email'),
    d.limit.mailTarget,
    async (req, res) => {
      const auth = caller(req);
      if (auth.impersonator_id) throw new ForbiddenError('forbidden', 'an impersonation token cannot change the email');
      const { new_email } = parsedMailRequest(emailChangeSchema, req);
      await d.lifecycle.requestEmailChange(auth.user.id, new_email, d.origin(req));
      sendJson(res, 202, { success: true });
    },
  );

  // A wrong password here is a password guess: the login limiter counts it. A password-less
  // account proves its holder with its own access JWT instead: an API token, a service key or an
  // impersonation token is no such proof (and another user's JWT is refused by the service).
  router.post('/confirm-email-change', d.authenticateIfPresent, async (req, res) => {
    const { token, password } = v.parseInput(confirmEmailChangeSchema(), bodyObject(req));
    const auth = req.auth;
    if (auth && (auth.method !== 'jwt' || auth.impersonator_id !== undefined))
      throw new ForbiddenError('forbidden', "an email change is confirmed with the password or the account's own access token");
    const proof = { password, holderId: auth?.user.id };
    sendJson(res, 200, { success: true, user: await d.lifecycle.confirmEmailChange(token, proof, d.origin(req)) });
  });

  router.post('/request-otp', ...mailLimits(emailSchema), async (req, res) => {
    const { email } = parsedMailRequest(emailSchema, req);
    sendJson(res, 202, await d.otp.request(email, d.origin(req)));
  });

  router.post('/login/otp', d.limit.code, async (req, res) => {
    const { otp_id, code, mfa_id } = v.parseInput(otpLoginSchema(), bodyObject(req));
    const toCookie = d.tokens.wantsCookie(req);
    d.tokens.send(res, 200, await d.otp.login(otp_id, code, mfa_id, d.origin(req)), toCookie);
  });
}
