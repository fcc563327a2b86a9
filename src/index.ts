import './express-augmentation.js';

export { AuthManager } from './auth-manager.js';
export type {
  ApiTokens,
  Events,
  GuardContext,
  GuardOptions,
  GuardResult,
  Integrations,
  Middleware,
  MountTarget,
  Passkeys,
  RateLimits,
  RequireAuth,
  Roles,
  Sessions,
  Users,
} from './auth-manager.js';
export type { LimitResetResult, LimitResetTarget } from './services/limit-resets.js';
export type { Session } from './services/user-sessions.js';
export type { ActiveToken, IntrospectionResult } from './services/introspection.js';
export type { Jwks } from './tokens/jwks.js';
export type { PublicJwk, SigningAlgorithm, SigningKeyInput } from './tokens/signing-keys.js';
export { generateSigningKey } from './tokens/signing-keys.js';
export type { IntrospectionClient, IntrospectionOptions } from './security/introspection-clients.js';
export type { ListUsersInput, UpdateUserInput, UserDetail, UserPage } from './services/user-admin.js';
export type { RoleInfo } from './services/roles.js';
export type { GroupCallOptions, GroupPageOptions, Groups } from './groups-api.js';
export type { Group, GroupUser } from './services/group-access.js';
export type { Invitation, InviteInput } from './services/group-invitations.js';
export type { CreateGroupInput, GroupDetail, UpdateGroupInput } from './services/groups.js';
export type { AddMemberInput, GroupMember, Membership, UserGroup } from './services/group-members.js';
export type { AuditEvent, ListEventsInput } from './services/events.js';
export type { Impersonation } from './services/impersonation.js';
export type { Identity, LinkedAccount } from './services/identities.js';
export type { Passkey } from './services/passkeys.js';
/** How recent a sign-in must be to add a passkey without the password (600 s). */
export { REAUTHENTICATION_WINDOW_SECONDS } from './services/passkeys.js';
export type { Integration, IntegrationInfo, IntegrationInput, LinkedIntegration, ManualIntegration } from './services/integrations.js';
export type { OAuthErrorCode } from './errors.js';
export type { AuthManagerOptions, DatabaseHandle, JwtSecret, OAuthProviderConfig } from './options.js';
export {
  DEFAULT_ADMIN_ROLE,
  DEFAULT_AUDIENCE,
  DEFAULT_BASE_PATH,
  DEFAULT_BCRYPT_ROUNDS,
  DEFAULT_DB_SCHEMA,
  DEFAULT_ISSUER,
  DEFAULT_REFRESH_TOKEN_EXPIRY,
  DEFAULT_ROLES,
  DEFAULT_TOKEN_EXPIRY,
} from './options.js';
export {
  AUTH_ERROR_CODES,
  AUTH_ERROR_ALSO_STATUS,
  AUTH_ERROR_STATUS,
  AuthError,
  AuthenticationError,
  ConflictError,
  UnprovenCredentialsError,
  DatabaseLockedError,
  ForbiddenError,
  InternalError,
  NotFoundError,
  InvalidCodeError,
  InvalidLinkError,
  MfaRequiredError,
  NotConfiguredError,
  OAuthError,
  RateLimitError,
  RequestError,
  ServiceUnavailableError,
  ValidationError,
} from './errors.js';
export type { AuthErrorCode, AuthenticationErrorCode, ForbiddenErrorCode, RequestErrorCode } from './errors.js';
export type { ErrorHandler, ErrorHandlerOptions } from './http/error-handler.js';
export type { User } from './public-user.js';
export type { AuthContext } from './services/authenticator.js';
export type { CreateUserInput } from './services/users.js';
export type { ApiTokenInfo, CreatedApiToken } from './services/api-tokens.js';
export type { TokenPair } from './services/sessions.js';
export type { OpenApiDocument } from './http/openapi/document.js';
export type { GroupOfRequest, GuardedRequest, RequireAuthOptions } from './require-auth.js';
export type { RateLimitOptions, LimitRule } from './security/rate-limit.js';
export type { LockHolder, RateLimitName } from './errors.js';
export { DEFAULT_RATE_LIMITS } from './security/rate-limit.js';
export type { PasswordHasher } from './passwords/hasher.js';
export type { Logger } from './logger.js';
export type { AuthEvent, AuthEventType } from './security/audit.js';
export type { EmailLinks, Mailer, MailKind, MailMessage } from './mail/mailer.js';
export type { MailContent, MailTemplateData, MailTemplates } from './mail/templates.js';
export { DEFAULT_MAIL_TEMPLATES } from './mail/templates.js';
export type { CookieOptions, MfaOptions, OtpOptions, PasswordPolicyOptions, WebAuthnOptions } from './options.js';
export { generateSecret } from './tokens/secrets.js';
export type { GroupMembership, GroupRef } from './security/group-memberships.js';
