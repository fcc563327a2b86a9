import * as z from 'zod';
import { ForbiddenError } from '../errors.js';
import type { EventOrigin } from '../security/audit.js';
import type { PasskeySignIn } from '../services/passkey-sign-in.js';
import type { PasskeyService } from '../services/passkeys.js';
import type { UserService } from '../services/users.js';
import { lazySchema, parseInput } from '../validation.js';
import { adminOnly, impersonationRefused } from './access-token-only.js';
import { bodyObject } from './body.js';
import { sendJson } from './respond.js';
import { targetUserResolver } from './target-user.js';
import type { TokenDelivery } from './token-delivery.js';
import { caller, type Handler, type Next, type Req, type Res, type Routes } from './types.js';
import { idParam } from './path-params.js';

// The browser's PublicKeyCredential as JSON (what `credential.toJSON()` gives): every binary field
// base64url. Checked for shape here; everything about its content is the verification's to judge.
const base64url = lazySchema(() =>
  z
    .string()
    .max(8192)
    .regex(/^[A-Za-z0-9_-]*$/, 'must be base64url'),
);
const credentialId = lazySchema(() => base64url().min(1).max(1366));
const extensions = lazySchema(() => z.record(z.string(), z.unknown()).optional().default({}));
const attachment = lazySchema(() => z.enum(['platform', 'cross-platform']).optional());

export const registrationResponseSchema = lazySchema(() =>
  z.object({
    id: credentialId(),
    rawId: credentialId(),
    type: z.literal('public-key'),
    response: z.object({
      clientDataJSON: base64url().min(1),
      attestationObject: base64url().min(1),
      transports: z.array(z.string().max(32)).max(16).optional(),
    }),
    authenticatorAttachment: attachment(),
    clientExtensionResults: extensions(),
  }),
);

export const assertionResponseSchema = lazySchema(() =>
  z.object({
    id: credentialId(),
    rawId: credentialId(),
    type: z.literal('public-key'),
    response: z.object({
      clientDataJSON: base64url().min(1),
      authenticatorData: base64url().min(1),
      signature: base64url().min(1),
      userHandle: base64url().max(128).optional(),
    }),
    authenticatorAttachment: attachment(),
    clientExtensionResults: extensions(),
  }),
);

const challengeId = lazySchema(() => z.uuid().meta({ description: 'the `challenge_id` of the options this response answers' }));
const passkeyName = lazySchema(() => z.string().trim().min(1).max(64));
const mfaId = lazySchema(() => z.string().min(1).max(128));

export const registerOptionsSchema = lazySchema(() =>
  z.object({
    password: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .meta({ description: "the account's password: needed unless this access token's sign-in began within the last 10 minutes" }),
  }),
);
export const registerSchema = lazySchema(() =>
  z.object({
    challenge_id: challengeId(),
    response: registrationResponseSchema(),
    name: passkeyName().optional().meta({ description: "a name for the user's list; default `Passkey`" }),
  }),
);
export const loginOptionsSchema = lazySchema(() =>
  z.object({
    username: z
      .string()
      .min(1)
      .max(320)
      .optional()
      .meta({ description: 'username or email: the options name its passkeys (absent: discoverable credentials)' }),
    mfa_id: mfaId().optional().meta({ description: 'a sign-in waiting for its second factor: the options name that user’s passkeys' }),
  }),
);
export const loginSchema = lazySchema(() =>
  z.object({
    challenge_id: challengeId(),
    response: assertionResponseSchema(),
    mfa_id: mfaId().optional().meta({ description: 'the passkey as the second factor of a sign-in begun with another method' }),
  }),
);
export const renameSchema = lazySchema(() => z.object({ name: passkeyName() }));

export interface PasskeyRouteDeps {
  passkeys: PasskeyService;
  passkeySignIn: PasskeySignIn;
  users: UserService;
  adminRole: string;
  authenticate: Handler;
  /** Lets a user whom `mfa.required` holds back through: a passkey is a second factor they may set up. */
  authenticateForSetup: Handler;
  origin: (req: Req) => EventOrigin;
  limit: { passkey: Handler; code: Handler };
  tokens: TokenDelivery;
  /** The login (`sid`) of the request's access token. */
  sessionOf: (req: Req) => string | undefined;
}

/**
 * Passkeys are managed with the account's own access token: not an API token or service key (a
 * leaked narrow token must not plant or remove a way in), and not an impersonation token (an admin
 * acting as the user must not enrol a key of their own on the account, nor see its list).
 */
function ownAccessToken(req: Req, _res: Res, next: Next): void {
  const auth = caller(req);
  if (auth.method !== 'jwt') return next(new ForbiddenError('forbidden', 'passkeys need an access token, not an API token or service key'));
  if (auth.impersonator_id !== undefined) return next(impersonationRefused());
  next();
}

/** Passkeys (contract 5.7): registration, sign-in (first or second factor) and management. */
export function mountPasskeyRoutes(router: Routes, d: PasskeyRouteDeps): void {
  // Before anything else (authentication included): without the option every passkey route is 501.
  const configured: Handler = (_req, _res, next) => {
    d.passkeys.config();
    next();
  };
  const own = [configured, d.authenticate, ownAccessToken];
  const targetUser = targetUserResolver(d.users, d.adminRole);

  // Only for a fresh sign-in or with the password (403 reauthentication_required): a wrong password here is a password guess, counted as one.
  router.post('/passkeys/register/options', configured, d.authenticateForSetup, ownAccessToken, d.limit.passkey, async (req, res) => {
    const { password } = parseInput(registerOptionsSchema(), bodyObject(req));
    sendJson(res, 200, await d.passkeys.registrationOptions(caller(req).user.id, { sessionId: d.sessionOf(req), password }, d.origin(req)), true);
  });

  router.post('/passkeys/register', configured, d.authenticateForSetup, ownAccessToken, async (req, res) => {
    const input = parseInput(registerSchema(), bodyObject(req));
    const passkey = await d.passkeys.register(
      caller(req).user.id,
      { challengeId: input.challenge_id, response: input.response, name: input.name },
      d.origin(req),
    );
    sendJson(res, 201, { passkey });
  });

  router.post('/login/passkey/options', configured, d.limit.passkey, async (req, res) => {
    const input = parseInput(loginOptionsSchema(), bodyObject(req));
    sendJson(res, 200, await d.passkeySignIn.options({ username: input.username, mfaId: input.mfa_id }), true);
  });

  router.post('/login/passkey', configured, d.limit.code, async (req, res) => {
    const input = parseInput(loginSchema(), bodyObject(req));
    const toCookie = d.tokens.wantsCookie(req);
    const login = await d.passkeySignIn.login({ challengeId: input.challenge_id, response: input.response, mfaId: input.mfa_id }, d.origin(req));
    d.tokens.send(res, 200, login, toCookie);
  });

  router.get('/:user/passkeys', ...own, async (req, res) => {
    sendJson(res, 200, await d.passkeys.list(await targetUser(req)));
  });

  router.patch('/:user/passkeys/:passkeyId', ...own, async (req, res) => {
    const { name } = parseInput(renameSchema(), bodyObject(req));
    sendJson(res, 200, { passkey: await d.passkeys.rename(await targetUser(req), idParam(req, 'passkeyId'), name, d.origin(req)) });
  });

  router.delete('/:user/passkeys/:passkeyId', ...own, async (req, res) => {
    await d.passkeys.remove(await targetUser(req), idParam(req, 'passkeyId'), d.origin(req));
    sendJson(res, 200, { success: true });
  });

  // The same for a site admin, beside the other `/admin/users/{id}` routes (an admin's API token with scope `admin` too).
  const admin = [configured, d.authenticate, adminOnly(d.adminRole)];
  const existing = async (req: Req) => {
    const id = idParam(req, 'id');
    await d.passkeys.userMustExist(id);
    return id;
  };

  router.get('/admin/users/:id/passkeys', ...admin, async (req, res) => {
    sendJson(res, 200, await d.passkeys.list(await existing(req)));
  });

  router.patch('/admin/users/:id/passkeys/:passkeyId', ...admin, async (req, res) => {
    const { name } = parseInput(renameSchema(), bodyObject(req));
    sendJson(res, 200, { passkey: await d.passkeys.rename(await existing(req), idParam(req, 'passkeyId'), name, d.origin(req)) });
  });

  router.delete('/admin/users/:id/passkeys/:passkeyId', ...admin, async (req, res) => {
    await d.passkeys.remove(await existing(req), idParam(req, 'passkeyId'), d.origin(req));
    sendJson(res, 200, { success: true });
  });
}
