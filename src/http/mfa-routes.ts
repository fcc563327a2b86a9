import * as z from 'zod';
import { ForbiddenError } from '../errors.js';
import type { EventOrigin } from '../security/audit.js';
import type { MfaService } from '../services/mfa.js';
import type { PasskeySignIn } from '../services/passkey-sign-in.js';
import { lazySchema, parseInput } from '../validation.js';
import { accessTokenOnly } from './access-token-only.js';
import { assertionResponseSchema } from './passkey-routes.js';
import { bodyObject } from './body.js';
import { sendJson } from './respond.js';
import type { TokenDelivery } from './token-delivery.js';
import { caller, type Handler, type Next, type Req, type Res, type Routes } from './types.js';

const password = lazySchema(() => z.string().min(1).max(1024));
const code = lazySchema(() => z.string().trim().min(1).max(32));
export const setupSchema = lazySchema(() => z.object({ password: password().optional() }));
export const confirmSchema = lazySchema(() => z.object({ code: code() }));
export const proofSchema = lazySchema(() => z.object({ password: password().optional(), code: code() }));
const mfaId = lazySchema(() => z.string().min(1).max(128));
export const loginSchema = lazySchema(() =>
  z.discriminatedUnion('method', [
    z.object({ mfa_id: mfaId(), method: z.enum(['totp', 'backup_code']), code: code() }),
    z.object({
      mfa_id: mfaId(),
      method: z.literal('passkey'),
      // Options come from POST /login/passkey/options {mfa_id}; the response names its challenge in its client data.
      response: assertionResponseSchema(),
      challenge_id: z.uuid().optional().meta({ description: 'the `challenge_id` of the passkey options (optional: the response carries its challenge)' }),
    }),
  ]),
);

export interface MfaRouteDeps {
  mfa: MfaService;
  passkeySignIn: PasskeySignIn;
  /** Lets a user whom `mfa.required` holds back (mfa_setup_required) through: these routes are how they set it up. */
  authenticateForSetup: Handler;
  origin: (req: Req) => EventOrigin;
  limit: { code: Handler };
  tokens: TokenDelivery;
}

/** An impersonation token must not manage the impersonated user's second factor. */
function notImpersonating(req: Req, _res: Res, next: Next): void {
  if (caller(req).impersonator_id) return next(new ForbiddenError('forbidden', 'an impersonation token cannot manage MFA'));
  next();
}

/** Multi-factor authentication (contract 5.4): TOTP, backup codes, and the second step of a sign-in. */
export function mountMfaRoutes(router: Routes, d: MfaRouteDeps): void {
  const signedIn = [d.authenticateForSetup, accessTokenOnly, notImpersonating];

  router.post('/login/mfa', d.limit.code, async (req, res) => {
    const input = parseInput(loginSchema(), bodyObject(req));
    const toCookie = d.tokens.wantsCookie(req);
    const login =
      input.method === 'passkey'
        ? await d.passkeySignIn.secondFactor(input.mfa_id, { challengeId: input.challenge_id, response: input.response }, d.origin(req))
        : await d.mfa.loginSecondFactor(input.mfa_id, input.method, input.code, d.origin(req));
    d.tokens.send(res, 200, login, toCookie);
  });

  router.get('/mfa', ...signedIn, async (req, res) => {
    sendJson(res, 200, await d.mfa.status(caller(req).user.id));
  });

  // A wrong password here is a password guess: the login limiter counts it.
  router.post('/mfa/totp/setup', ...signedIn, async (req, res) => {
    const input = parseInput(setupSchema(), bodyObject(req));
    sendJson(res, 200, await d.mfa.setup(caller(req).user.id, input.password, d.origin(req)), true);
  });

  router.post('/mfa/totp/confirm', ...signedIn, d.limit.code, async (req, res) => {
    const input = parseInput(confirmSchema(), bodyObject(req));
    sendJson(res, 200, await d.mfa.confirm(caller(req).user.id, input.code, d.origin(req)), true);
  });

  router.post('/mfa/totp/disable', ...signedIn, d.limit.code, async (req, res) => {
    const input = parseInput(proofSchema(), bodyObject(req));
    await d.mfa.disable(caller(req).user.id, input.password, input.code, d.origin(req));
    sendJson(res, 200, { success: true });
  });

  router.post('/mfa/backup-codes', ...signedIn, d.limit.code, async (req, res) => {
    const input = parseInput(proofSchema(), bodyObject(req));
    sendJson(res, 200, await d.mfa.regenerateBackupCodes(caller(req).user.id, input.password, input.code, d.origin(req)), true);
  });
}
