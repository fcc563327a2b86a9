import * as z from 'zod';
import * as account from '../account-routes.js';
import * as apiTokens from '../api-token-routes.js';
import * as auth from '../auth-routes.js';
import * as groupRoutes from '../group-routes.js';
import * as mfa from '../mfa-routes.js';
import * as oauth from '../oauth-routes.js';
import * as passkeys from '../passkey-routes.js';
import { introspectSchema } from '../introspection-routes.js';
import { pageSchema } from '../../services/group-access.js';
import { addSchema, setRolesSchema } from '../../services/group-members.js';
import { inviteSchema } from '../../services/group-invitations.js';
import * as groups from '../../services/groups.js';
import { listSchema as eventListSchema } from '../../services/events.js';
import { optionsSchema as impersonationSchema } from '../../services/impersonation.js';
import { nameSchema as roleNameSchema } from '../../services/roles.js';
import * as userAdmin from '../../services/user-admin.js';
import { createSchema as createUserSchema } from '../../services/users.js';
import * as v from '../../validation.js';
import type { ResponseSchemas } from './responses.js';

/**
 * Who may call: `none` (public), `jwt` (an access JWT; an API token gets 403), `any` (an access JWT
 * or an API token), `admin` (`adminRole`, through an access JWT or an API token with scope `admin`).
 */
/** `jwt_optional`: no credential needed, but an access JWT sent along is checked and counts (`/confirm-email-change`). */
/** `client`: an introspection client (HTTP Basic from the `introspection` option, or a service key with the scope `introspect` minted by a site admin or trusted code). */
export type Access = 'none' | 'jwt' | 'jwt_optional' | 'any' | 'admin' | 'client';

/** One documented operation: the request schemas are the ones that validate it. */
export interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI path template, relative to `basePath`. */
  path: string;
  tag: string;
  summary: string;
  access: Access;
  /** A JSON body, and the component name it is published under. */
  body?: readonly [name: string, schema: z.ZodType];
  /** The JSON body may be left out (every field of it is optional). */
  bodyOptional?: boolean;
  /** An `application/x-www-form-urlencoded` body (the OAuth form_post callback). */
  form?: z.ZodObject;
  query?: z.ZodObject;
  /** Success statuses: a response schema, or `redirect` for a 302 with `Location`. */
  ok: Readonly<Record<number, z.ZodType | 'redirect'>>;
  /** Error statuses beyond those every operation of its kind may answer (see `errorStatuses`). */
  errors?: readonly number[];
  /** Behind one of the `rateLimit` buckets. */
  limited?: boolean;
}

const oauthErrors = [401, 403, 409, 502] as const;
const limited = true;

type Spec = Omit<Operation, 'method' | 'path' | 'tag' | 'summary' | 'access'> & { access?: Access };

/** One row of the table: `op('groups', 'get /groups/{id}', 'A group...', { access: 'jwt', ok: {...} })`; access defaults to `none`. */
function op(tag: string, route: `${Operation['method']} /${string}`, summary: string, spec: Spec): Operation {
  const [method, path] = route.split(' ') as [Operation['method'], string];
  return { method, path, tag, summary, access: 'none', ...spec };
}

function build(r: ResponseSchemas): readonly Operation[] {
  /** What the OAuth callback reads, from the query (GET) or the form body (form_post). */
  const oauthCallbackParams = z.object({
    code: z.string().optional().meta({ description: "the provider's authorization code" }),
    state: z.string(),
    provider: z.string().optional(),
    error: z.string().optional().meta({ description: 'set by a provider that refused' }),
  });
  const oauthBeginQuery = oauth.beginSchema().pick({ redirect_to: true, client_state: true });
  const adminUpdateSchema = userAdmin.updateSchema().extend({ password: v.password().optional() });
  const roleSchema = z.object({ name: roleNameSchema() });

  return [
    // Sessions (contract 5.1, 5.2)
    op('sessions', 'post /register', 'Create an account and sign in (with requireEmailVerification: no tokens until verified)', {
      body: ['RegisterRequest', auth.registerSchema()],
      ok: { 201: r.Registered },
      errors: [403, 409],
      limited,
    }),
    op('sessions', 'post /login', 'Sign in with a username or email and a password', {
      body: ['LoginRequest', auth.loginSchema()],
      ok: { 200: r.Login },
      errors: [401, 403],
      limited,
    }),
    op('sessions', 'post /token-refresh', 'Rotate a refresh token for a new pair', {
      body: ['RefreshRequest', auth.refreshSchema()],
      ok: { 200: r.TokenPair },
      errors: [401, 403],
      limited,
    }),
    op('sessions', 'post /logout', "End the refresh token's login", { body: ['RefreshRequest', auth.refreshSchema()], ok: { 200: r.Success }, errors: [401] }),
    op('sessions', 'post /logout-all', 'End every login of the caller', { access: 'jwt', ok: { 200: r.Success } }),
    op('sessions', 'post /change-password', 'Change the password; other logins end', {
      access: 'jwt',
      body: ['ChangePasswordRequest', auth.changePasswordSchema()],
      ok: { 200: r.PasswordChanged },
      limited,
    }),
    op('sessions', 'get /login/profile', 'The signed-in user', { access: 'any', ok: { 200: r.UserEnvelope } }),
    op('sessions', 'get /{user}/sessions', "A user's logins that are still going, most recently used first", {
      access: 'jwt',
      ok: { 200: r.SessionList },
      errors: [404],
    }),
    op('sessions', 'delete /{user}/sessions/{session_id}', 'End one login: its refresh and access tokens stop working on every instance', {
      access: 'jwt',
      ok: { 200: r.Success },
      errors: [404],
    }),
    op('sessions', 'get /roles', 'The role names that exist', { ok: { 200: r.RoleNames } }),
    op('sessions', 'get /auth-methods', 'The sign-in methods this server offers', { ok: { 200: r.AuthMethods } }),

    // OAuth
    op('oauth', 'post /login/oauth', 'Begin an OAuth sign-in; answers the URL to send the browser to', {
      body: ['OAuthBeginRequest', oauth.beginSchema()],
      ok: { 200: r.RedirectUrl },
      limited,
    }),
    op('oauth', 'get /login/oauth/{provider}', 'Begin an OAuth sign-in by navigation: 302 to the provider', {
      query: oauthBeginQuery,
      ok: { 302: 'redirect' },
      limited,
    }),
    op('oauth', 'get /login/oauth2callback', "The provider's redirect back: tokens, or 302 to the app with them in the fragment", {
      query: oauthCallbackParams,
      ok: { 200: r.Login, 302: 'redirect' },
      errors: oauthErrors,
      limited,
    }),
    op('oauth', 'post /login/oauth2callback', 'The same callback by form POST (response_mode=form_post)', {
      form: oauthCallbackParams,
      ok: { 200: r.Login, 302: 'redirect' },
      errors: oauthErrors,
      limited,
    }),
    op('oauth', 'post /{user}/identities/{provider}', 'Begin linking a provider account to the signed-in user', {
      access: 'jwt',
      body: ['OAuthLinkRequest', oauth.linkSchema()],
      ok: { 200: r.RedirectUrl },
      errors: [403, 404],
      limited,
    }),
    op('oauth', 'get /{user}/identities', "A user's linked provider accounts", { access: 'jwt', ok: { 200: r.IdentityList }, errors: [404] }),
    op('oauth', 'delete /{user}/identities/{provider}', 'Unlink a provider account (not the last way to sign in)', {
      access: 'jwt',
      ok: { 200: r.Success },
      errors: [404, 409],
    }),

    // API tokens and integrations
    op('api-tokens', 'post /{user}/api-tokens', 'Create an API token (its secret is shown only here)', {
      access: 'jwt',
      body: ['ApiTokenRequest', apiTokens.createSchema()],
      ok: { 201: r.CreatedApiToken },
      errors: [404],
    }),
    op('api-tokens', 'get /{user}/api-tokens', "A user's API tokens", { access: 'jwt', ok: { 200: r.ApiTokenList }, errors: [404] }),
    op('api-tokens', 'delete /{user}/api-tokens/{token_id}', 'Revoke an API token', { access: 'jwt', ok: { 200: r.Success }, errors: [404] }),
    op('integrations', 'get /{user}/integrations', "A user's integrations, never a secret", { access: 'jwt', ok: { 200: r.IntegrationList }, errors: [404] }),
    op('integrations', 'delete /{user}/integrations/{connector}', 'Delete an integration', { access: 'jwt', ok: { 200: r.Success }, errors: [404, 409] }),

    // Account lifecycle by mail (contract 5.3)
    op('account', 'post /request-password-reset', 'Mail a password-reset link (202 whether or not the address is known)', {
      body: ['EmailRequest', account.emailSchema()],
      ok: { 202: r.Success },
      errors: [501],
      limited,
    }),
    op('account', 'post /confirm-password-reset', 'Set a new password with a reset token', {
      body: ['PasswordResetRequest', account.resetSchema()],
      ok: { 200: r.Success },
      limited,
    }),
    op('account', 'post /request-verification', 'Mail a verification link', {
      body: ['EmailRequest', account.emailSchema()],
      ok: { 202: r.Success },
      errors: [501],
      limited,
    }),
    op('account', 'post /confirm-verification', 'Verify the email with a link token (with the password: the holder proves the address)', {
      body: ['VerificationRequest', account.verificationSchema()],
      ok: { 200: r.SuccessWithUser },
      errors: [401],
      limited,
    }),
    op('account', 'post /request-email-change', 'Mail a confirmation link to a new address', {
      access: 'jwt',
      body: ['EmailChangeRequest', account.emailChangeSchema()],
      ok: { 202: r.Success },
      errors: [409, 501],
      limited,
    }),
    op('account', 'post /confirm-email-change', 'Move the account to the new address', {
      access: 'jwt_optional',
      body: ['ConfirmEmailChangeRequest', account.confirmEmailChangeSchema()],
      ok: { 200: r.SuccessWithUser },
      errors: [401, 403, 409],
      limited,
    }),
    op('account', 'post /request-otp', 'Mail a one-time sign-in code', {
      body: ['EmailRequest', account.emailSchema()],
      ok: { 202: r.OtpRequested },
      errors: [501],
      limited,
    }),
    op('account', 'post /login/otp', 'Sign in with a mailed code', {
      body: ['OtpLoginRequest', account.otpLoginSchema()],
      ok: { 200: r.Login },
      errors: [401, 403],
      limited,
    }),

    // Multi-factor authentication (contract 5.4)
    op('mfa', 'post /login/mfa', 'The second factor of a sign-in', {
      body: ['MfaLoginRequest', mfa.loginSchema()],
      ok: { 200: r.Login },
      errors: [401, 403, 501],
      limited,
    }),
    op('mfa', 'get /mfa', "The caller's second factors", { access: 'jwt', ok: { 200: r.MfaStatus } }),
    op('mfa', 'post /mfa/totp/setup', 'Start TOTP setup (pending until confirmed)', {
      access: 'jwt',
      body: ['TotpSetupRequest', mfa.setupSchema()],
      ok: { 200: r.TotpSetup },
      errors: [403, 409],
      limited,
    }),
    op('mfa', 'post /mfa/totp/confirm', 'Confirm TOTP; answers the backup codes once', {
      access: 'jwt',
      body: ['TotpConfirmRequest', mfa.confirmSchema()],
      ok: { 200: r.BackupCodes },
      errors: [409],
      limited,
    }),
    op('mfa', 'post /mfa/totp/disable', 'Turn TOTP off', {
      access: 'jwt',
      body: ['MfaProofRequest', mfa.proofSchema()],
      ok: { 200: r.Success },
      errors: [409],
      limited,
    }),
    op('mfa', 'post /mfa/backup-codes', 'A fresh set of backup codes', {
      access: 'jwt',
      body: ['MfaProofRequest', mfa.proofSchema()],
      ok: { 200: r.BackupCodes },
      errors: [409],
      limited,
    }),

    // Passkeys (contract 5.7); every one answers 501 without the `webauthn` option
    op(
      'passkeys',
      'post /passkeys/register/options',
      "Options for a new passkey of the caller (a verified, owner-proven address): the access token's sign-in began within 10 minutes, or the body carries the account's password; otherwise 403 reauthentication_required",
      {
        access: 'jwt',
        body: ['PasskeyRegisterOptionsRequest', passkeys.registerOptionsSchema()],
        bodyOptional: true,
        ok: { 200: r.PasskeyRegistrationOptions },
        errors: [404, 501],
        limited,
      },
    ),
    op('passkeys', 'post /passkeys/register', "Register the browser's new passkey (400 when not accepted)", {
      access: 'jwt',
      body: ['PasskeyRegisterRequest', passkeys.registerSchema()],
      ok: { 201: r.PasskeyEnvelope },
      errors: [404, 409, 501],
    }),
    op('passkeys', 'post /login/passkey/options', "Options for a passkey sign-in: an account's passkeys, or (no username) the browser's discoverable ones", {
      body: ['PasskeySignInOptionsRequest', passkeys.loginOptionsSchema()],
      ok: { 200: r.PasskeySignInOptions },
      errors: [401, 501],
      limited,
    }),
    op('passkeys', 'post /login/passkey', 'Sign in with a passkey (two factors on its own), or finish an mfa_id with it', {
      body: ['PasskeyLoginRequest', passkeys.loginSchema()],
      ok: { 200: r.Login },
      errors: [401, 403, 501],
      limited,
    }),
    op('passkeys', 'get /{user}/passkeys', "A user's passkeys", { access: 'jwt', ok: { 200: r.PasskeyList }, errors: [404, 501] }),
    op('passkeys', 'patch /{user}/passkeys/{passkey_id}', 'Rename a passkey', {
      access: 'jwt',
      body: ['PasskeyRenameRequest', passkeys.renameSchema()],
      ok: { 200: r.PasskeyEnvelope },
      errors: [404, 501],
    }),
    op('passkeys', 'delete /{user}/passkeys/{passkey_id}', 'Remove a passkey (not the last way to sign in)', {
      access: 'jwt',
      ok: { 200: r.Success },
      errors: [404, 409, 501],
    }),

    // Administration (contract 5.5)
    op('admin', 'get /admin/users', 'Users, newest first', { access: 'admin', query: userAdmin.listSchema(), ok: { 200: r.UserPage } }),
    op('admin', 'post /admin/users', 'Create a user', {
      access: 'admin',
      // The route requires an email (contract 5.5), which auth.users.create does not.
      body: ['AdminCreateUserRequest', createUserSchema().extend({ email: v.email() })],
      ok: { 201: r.UserEnvelope },
      errors: [409],
    }),
    op('admin', 'get /admin/users/{id}', 'A user with identities and second factors', { access: 'admin', ok: { 200: r.UserDetail }, errors: [404] }),
    op('admin', 'patch /admin/users/{id}', 'Change a user', {
      access: 'admin',
      body: ['AdminUpdateUserRequest', adminUpdateSchema],
      ok: { 200: r.UserEnvelope },
      errors: [404, 409],
    }),
    op('admin', 'delete /admin/users/{id}', 'Delete a user', { access: 'admin', ok: { 200: r.Success }, errors: [404, 409] }),
    op('admin', 'post /admin/users/{id}/logout-all', 'End every login of a user', { access: 'admin', ok: { 200: r.Success }, errors: [404] }),
    op('admin', 'get /admin/users/{id}/passkeys', "A user's passkeys", { access: 'admin', ok: { 200: r.PasskeyList }, errors: [404, 501] }),
    op('admin', 'patch /admin/users/{id}/passkeys/{passkey_id}', "Rename a user's passkey", {
      access: 'admin',
      body: ['PasskeyRenameRequest', passkeys.renameSchema()],
      ok: { 200: r.PasskeyEnvelope },
      errors: [404, 501],
    }),
    op('admin', 'delete /admin/users/{id}/passkeys/{passkey_id}', "Remove a user's passkey (not their last way to sign in)", {
      access: 'admin',
      ok: { 200: r.Success },
      errors: [404, 409, 501],
    }),
    op('admin', 'get /admin/users/{id}/sessions', "A user's logins that are still going", { access: 'admin', ok: { 200: r.SessionList }, errors: [404] }),
    op('admin', 'delete /admin/users/{id}/sessions/{session_id}', 'End one login of a user on every instance', {
      access: 'admin',
      ok: { 200: r.Success },
      errors: [404],
    }),
    op('admin', 'get /admin/roles', 'Roles and how many users hold each', { access: 'admin', ok: { 200: r.RoleInfoList } }),
    op('admin', 'post /admin/roles', 'Create a role', { access: 'admin', body: ['RoleRequest', roleSchema], ok: { 201: r.RoleInfo }, errors: [409] }),
    op('admin', 'delete /admin/roles/{name}', 'Delete a role nobody holds', { access: 'admin', ok: { 200: r.Success }, errors: [404, 409] }),
    op('admin', 'get /admin/events', 'The audit trail, newest first', { access: 'admin', query: eventListSchema(), ok: { 200: r.EventList } }),
    op('admin', 'post /{user}/impersonate', "An access token acting as the user (no refresh token), ending with the admin's login", {
      access: 'admin',
      body: ['ImpersonateRequest', impersonationSchema()],
      ok: { 200: r.Impersonation },
      errors: [404],
    }),

    // Groups (contract 5.6)
    op('groups', 'get /groups', 'Groups the caller belongs to (all, for a site admin)', { access: 'jwt', query: pageSchema(), ok: { 200: r.GroupList } }),
    op('groups', 'post /groups', 'Create a group; the creator administers it', {
      access: 'jwt',
      body: ['GroupCreateRequest', groups.createSchema()],
      ok: { 201: r.GroupEnvelope },
      errors: [409],
    }),
    op('groups', 'get /groups/{id}', 'A group with its parents and children', { access: 'jwt', ok: { 200: r.GroupDetail }, errors: [404] }),
    op('groups', 'patch /groups/{id}', 'Change a group', {
      access: 'jwt',
      body: ['GroupUpdateRequest', groups.updateSchema()],
      ok: { 200: r.GroupEnvelope },
      errors: [404, 409],
    }),
    op(
      'groups',
      'delete /groups/{id}',
      'Delete a group (children are detached; 403 if one would leave the subtree of a group the caller does not administer)',
      {
        access: 'jwt',
        ok: { 200: r.Success },
        errors: [404],
      },
    ),
    op('groups', 'get /groups/{id}/members', 'Direct members of a group', { access: 'jwt', query: pageSchema(), ok: { 200: r.MemberPage }, errors: [404] }),
    op('groups', 'post /groups/{id}/members', 'Add a member without asking them (site admins; group admins invite)', {
      access: 'jwt',
      body: ['MemberAddRequest', addSchema()],
      ok: { 201: r.GroupMember },
      errors: [403, 404, 409],
    }),
    op('groups', 'post /groups/{id}/invitations', 'Invite an account or an address (202 whether or not the account exists)', {
      access: 'jwt',
      body: ['InvitationRequest', inviteSchema()],
      ok: { 202: r.Success },
      errors: [403, 404],
      limited,
    }),
    op('groups', 'get /{user}/invitations', "The caller's pending invitations", { access: 'jwt', ok: { 200: r.InvitationList }, errors: [404] }),
    op('groups', 'post /{user}/invitations/{invitation_id}/accept', 'Accept an invitation: join the group with its roles', {
      access: 'jwt',
      ok: { 200: r.InvitationAccepted },
      errors: [404, 409],
    }),
    op('groups', 'post /{user}/invitations/{invitation_id}/decline', 'Decline an invitation', { access: 'jwt', ok: { 200: r.Success }, errors: [404] }),
    op('groups', 'patch /groups/{id}/members/{user_id}', "Replace a member's roles", {
      access: 'jwt',
      body: ['MemberRolesRequest', setRolesSchema()],
      ok: { 200: r.GroupMember },
      errors: [404, 409],
    }),
    op('groups', 'delete /groups/{id}/members/{user_id}', 'Remove a member, or leave', { access: 'jwt', ok: { 200: r.Success }, errors: [404, 409] }),
    op('groups', 'post /groups/{id}/children', 'Attach a child group', {
      access: 'jwt',
      body: ['GroupChildRequest', groupRoutes.childSchema()],
      ok: { 201: r.Success },
      errors: [404, 409],
    }),
    op('groups', 'delete /groups/{id}/children/{child_id}', 'Detach a child group (the caller administers every group it leaves the subtree of)', {
      access: 'jwt',
      ok: { 200: r.Success },
      errors: [404],
    }),
    op(
      'groups',
      'post /groups/{id}/api-tokens',
      'Create a service key acting for the group (its scopes are its roles there; no `*`; the scope `introspect` is a site-level right: 403 unless the caller is a site admin)',
      {
        access: 'jwt',
        body: ['ServiceKeyRequest', groupRoutes.serviceKeySchema()],
        ok: { 201: r.CreatedApiToken },
        errors: [404],
      },
    ),
    op('groups', 'get /groups/{id}/api-tokens', "A group's service keys", { access: 'jwt', ok: { 200: r.ApiTokenList }, errors: [404] }),
    op('groups', 'delete /groups/{id}/api-tokens/{token_id}', 'Revoke a service key', { access: 'jwt', ok: { 200: r.Success }, errors: [404] }),
    op('groups', 'get /{user}/groups', "A user's groups, direct and inherited", { access: 'jwt', ok: { 200: r.UserGroupList }, errors: [404] }),

    // This document (mounted when `openapi: true`)
    op('meta', 'get /openapi.json', 'This OpenAPI document', { ok: { 200: r.OpenApiDocument } }),

    // Signing keys and introspection (contract 5.8)
    op('tokens', 'get /.well-known/jwks.json', 'The public keys of `signingKeys` (cacheable; 404 without signing keys)', {
      ok: { 200: r.Jwks },
      errors: [404],
    }),
    op('tokens', 'post /introspect', 'RFC 7662 introspection: whether a token is active now, on any instance, and what it stands for', {
      access: 'client',
      body: ['IntrospectionRequest', introspectSchema()],
      form: introspectSchema(),
      ok: { 200: r.Introspection },
    }),
  ];
}

/**
 * Every route `auth.router` mounts, in the order of the README's endpoint table, for the response
 * schemas `r` (the document refers to them by identity). Built for each document, as the response
 * schemas are (see `responseSchemas`): only the document reads it.
 */
export function operations(r: ResponseSchemas): readonly Operation[] {
  return build(r);
}
