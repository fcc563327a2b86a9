import * as z from 'zod';
import { AUTH_ERROR_CODES } from '../../errors.js';

// The bodies the endpoints send, as zod schemas, so the document is generated like the request side.
// Closed objects (`additionalProperties: false`): a field that appears or leaks fails the response test.

function build() {
  const timestamp = z.string().meta({ format: 'date-time', description: 'ISO-8601 UTC' });
  const success = z.literal(true);

  /** The user object of the wire format. */
  const User = z.strictObject({
    id: z.string(),
    username: z.string(),
    email: z.string().nullable(),
    roles: z.array(z.string()),
    email_verified: z.boolean(),
    is_active: z.boolean(),
    created_at: timestamp,
    last_login: timestamp.nullable(),
    real_name: z.string().nullable(),
    profile: z.record(z.string(), z.unknown()),
  });

  /** Every error body: `fields` on `validation_error`, `mfa_id` and `methods` on `mfa_required`. */
  const ErrorBody = z.strictObject({
    error: z.string(),
    code: z.enum(AUTH_ERROR_CODES),
    status_code: z.int(),
    fields: z.record(z.string(), z.string()).optional(),
    mfa_id: z.string().optional(),
    methods: z.array(z.string()).optional(),
  });

  const Success = z.strictObject({ success });
  const TokenPair = z.strictObject({ token: z.string(), refresh_token: z.string() });
  const Login = z.strictObject({ token: z.string(), refresh_token: z.string(), user: User });
  const PasswordChanged = z.strictObject({ success, token: z.string(), refresh_token: z.string() });
  const UserEnvelope = z.strictObject({ user: User });
  /** `/register`: a login, or with `requireEmailVerification` only the user (no tokens before the address is verified). */
  const Registered = z.union([Login, UserEnvelope]);
  const SuccessWithUser = z.strictObject({ success, user: User });
  const RoleNames = z.array(z.string());
  const RedirectUrl = z.strictObject({ redirect_url: z.string() });
  const OtpRequested = z.strictObject({ otp_id: z.string() });

  const AuthMethods = z.strictObject({
    password: z.strictObject({ enabled: z.boolean() }),
    oauth2: z.strictObject({ providers: z.array(z.string()) }),
    otp: z.strictObject({ enabled: z.boolean() }),
    mfa: z.strictObject({ enabled: z.boolean() }),
    passkey: z.strictObject({ enabled: z.boolean() }),
  });

  const Identity = z.strictObject({
    provider: z.string(),
    provider_user_id: z.string(),
    email: z.string().nullable(),
    email_verified: z.boolean(),
    created_at: timestamp,
  });
  const IdentityList = z.array(Identity);

  const ApiToken = z.strictObject({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.string()),
    created_at: timestamp,
    expires_at: timestamp.nullable(),
    last_used_at: timestamp.nullable(),
  });
  const ApiTokenList = z.array(ApiToken);
  /** The only time the secret is shown. */
  const CreatedApiToken = ApiToken.omit({ last_used_at: true }).extend({ token: z.string() });

  const Integration = z.strictObject({
    connector: z.string(),
    source: z.enum(['manual', 'oauth']),
    identifier: z.string().nullable(),
    scopes: z.array(z.string()),
    created_at: timestamp,
    updated_at: timestamp,
  });
  const IntegrationList = z.array(Integration);

  const MfaStatus = z.strictObject({ totp: z.strictObject({ enabled: z.boolean() }), backup_codes: z.strictObject({ remaining: z.int() }) });
  const TotpSetup = z.strictObject({ secret: z.string(), otpauth_url: z.string() });
  const BackupCodes = z.strictObject({ backup_codes: z.array(z.string()) });

  /** A registered passkey: never its key material. */
  const Passkey = z.strictObject({
    id: z.string(),
    name: z.string(),
    created_at: timestamp,
    last_used_at: timestamp.nullable(),
    device_type: z.enum(['singleDevice', 'multiDevice']).meta({ description: '`multiDevice`: a passkey its provider syncs between devices' }),
    backed_up: z.boolean(),
  });
  const PasskeyList = z.array(Passkey);
  const PasskeyEnvelope = z.strictObject({ passkey: Passkey });
  const credentialDescriptor = z.looseObject({ id: z.string(), type: z.literal('public-key'), transports: z.array(z.string()).optional() });
  /** What `navigator.credentials.create()` needs, as JSON (`PublicKeyCredential.parseCreationOptionsFromJSON()` takes it as it is). */
  const PasskeyRegistrationOptions = z.strictObject({
    challenge_id: z.string().meta({ description: 'send it back with the response' }),
    options: z
      .looseObject({
        challenge: z.string(),
        rp: z.looseObject({ name: z.string(), id: z.string() }),
        user: z.looseObject({ id: z.string(), name: z.string(), displayName: z.string() }),
        pubKeyCredParams: z.array(z.looseObject({ type: z.literal('public-key'), alg: z.int() })),
        timeout: z.int(),
        excludeCredentials: z.array(credentialDescriptor),
        authenticatorSelection: z.looseObject({}),
        attestation: z.string(),
      })
      .meta({ description: 'PublicKeyCredentialCreationOptionsJSON: a discoverable credential, user verification required, the user’s passkeys excluded' }),
  });
  /** What `navigator.credentials.get()` needs, as JSON (`PublicKeyCredential.parseRequestOptionsFromJSON()` takes it as it is). */
  const PasskeySignInOptions = z.strictObject({
    challenge_id: z.string().meta({ description: 'send it back with the response' }),
    options: z
      .looseObject({
        challenge: z.string(),
        rpId: z.string(),
        timeout: z.int(),
        userVerification: z.literal('required'),
        allowCredentials: z.array(credentialDescriptor).optional(),
      })
      .meta({ description: 'PublicKeyCredentialRequestOptionsJSON: without `allowCredentials` the browser offers its discoverable passkeys for the site' }),
  });

  const UserPage = z.strictObject({ users: z.array(User), total: z.int(), limit: z.int(), offset: z.int() });
  const UserDetail = z.strictObject({ user: User, identities: IdentityList, mfa: z.strictObject({ totp: z.boolean() }) });
  const RoleInfo = z.strictObject({ name: z.string(), users: z.int() });
  const RoleInfoList = z.array(RoleInfo);
  const AuditEvent = z.strictObject({
    id: z.string(),
    type: z.string(),
    user_id: z.string().nullable(),
    actor_id: z.string().nullable(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    created_at: timestamp,
  });
  const EventList = z.strictObject({ events: z.array(AuditEvent) });
  const Impersonation = z.strictObject({ token: z.string(), user: User, expires_at: timestamp });

  const Group = z.strictObject({ id: z.string(), name: z.string(), slug: z.string(), description: z.string().nullable(), created_at: timestamp });
  const GroupList = z.strictObject({ groups: z.array(Group) });
  const GroupEnvelope = z.strictObject({ group: Group });
  const GroupDetail = z.strictObject({ group: Group, parents: z.array(Group), children: z.array(Group) });
  /** Another user as group responses show them to anyone but a site admin. */
  const GroupUser = z.strictObject({ id: z.string(), username: z.string(), real_name: z.string().nullable() });
  /** `user`: the full user for a site admin, `{id, username, real_name}` for anyone else. */
  const GroupMember = z.strictObject({ user: z.union([User, GroupUser]), roles: z.array(z.string()), is_admin: z.boolean() });
  const InvitationList = z.array(
    z.strictObject({ id: z.string(), group: Group, roles: z.array(z.string()), invited_by: GroupUser, created_at: timestamp, expires_at: timestamp }),
  );
  const InvitationAccepted = z.strictObject({ group: Group, roles: z.array(z.string()) });
  const MemberPage = z.strictObject({ members: z.array(GroupMember), total: z.int() });
  /** `via`: the group that gives the membership (the group itself for a direct one). */
  const UserGroupList = z.array(z.strictObject({ group: Group, roles: z.array(z.string()), is_admin: z.boolean(), via: Group }));

  /** The OpenAPI document itself, as far as a schema says anything useful about it. */
  const OpenApiDocument = z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) });

  /** A login as listed by `GET /{user}/sessions`. */
  const Session = z.strictObject({
    id: z.string(),
    created_at: timestamp,
    last_used_at: timestamp.meta({ description: 'the sign-in, or the latest refresh' }),
    ip: z.string().nullable(),
    device: z.string().nullable().meta({ description: 'a short summary such as "Chrome on macOS", never the User-Agent' }),
    current: z.boolean().meta({ description: 'the login the request came with' }),
  });
  const SessionList = z.array(Session);

  /** A public key of `signingKeys` (RFC 7517). */
  const PublicJwk = z.strictObject({
    kty: z.enum(['OKP', 'EC']),
    crv: z.enum(['Ed25519', 'P-256']),
    x: z.string(),
    y: z.string().optional(),
    kid: z.string(),
    alg: z.enum(['EdDSA', 'ES256']),
    use: z.literal('sig'),
  });
  const Jwks = z.strictObject({ keys: z.array(PublicJwk) });

  /** RFC 7662 2.2: an active token's details, or only `active: false`, whatever the reason. */
  const Introspection = z.union([
    z.strictObject({ active: z.literal(false) }),
    z.strictObject({
      active: z.literal(true),
      sub: z.string().optional(),
      username: z.string().optional(),
      scope: z.string(),
      roles: z.array(z.string()),
      exp: z.int().optional(),
      iat: z.int(),
      iss: z.string(),
      aud: z.string(),
      token_type: z.enum(['access_token', 'api_token', 'service_key']),
      act: z.strictObject({ sub: z.string() }).optional(),
      group: z.strictObject({ id: z.string(), slug: z.string() }).optional(),
    }),
  ]);

  return {
    User,
    ErrorBody,
    Success,
    TokenPair,
    Login,
    PasswordChanged,
    UserEnvelope,
    Registered,
    SuccessWithUser,
    RoleNames,
    RedirectUrl,
    OtpRequested,
    AuthMethods,
    Identity,
    IdentityList,
    ApiToken,
    ApiTokenList,
    CreatedApiToken,
    Integration,
    IntegrationList,
    MfaStatus,
    TotpSetup,
    BackupCodes,
    Passkey,
    PasskeyList,
    PasskeyEnvelope,
    PasskeyRegistrationOptions,
    PasskeySignInOptions,
    UserPage,
    UserDetail,
    RoleInfo,
    RoleInfoList,
    AuditEvent,
    EventList,
    Impersonation,
    Group,
    GroupList,
    GroupEnvelope,
    GroupDetail,
    GroupUser,
    GroupMember,
    InvitationList,
    InvitationAccepted,
    MemberPage,
    UserGroupList,
    OpenApiDocument,
    Session,
    SessionList,
    PublicJwk,
    Jwks,
    Introspection,
  };
}

/** The response schemas by component name. */
export type ResponseSchemas = ReturnType<typeof build>;

/**
 * Built for each document, not at import and not kept: they serve only the OpenAPI document, which
 * `GET /openapi.json` keeps as its serialized text. With the table of operations (built the same
 * way) they are 340 zod schemas, 0.54 MB of live heap; V8 marks the live heap again on each major
 * collection, at a cost to every request the app serves, so nothing keeps them once the document is
 * built.
 */
export function responseSchemas(): ResponseSchemas {
  return build();
}
