import * as z from 'zod';
import { AUTH_ERROR_CODES } from '../../errors.js';

// The bodies the endpoints send, as zod schemas, so the document is generated like the request side.
// Closed objects (`additionalProperties: false`): a field that appears or leaks fails the response test.

const timestamp = z.string().meta({ format: 'date-time', description: 'ISO-8601 UTC' });
const success = z.literal(true);

/** The user object of the wire format. */
export const User = z.strictObject({
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
export const ErrorBody = z.strictObject({
  error: z.string(),
  code: z.enum(AUTH_ERROR_CODES),
  status_code: z.int(),
  fields: z.record(z.string(), z.string()).optional(),
  mfa_id: z.string().optional(),
  methods: z.array(z.string()).optional(),
});

export const Success = z.strictObject({ success });
export const TokenPair = z.strictObject({ token: z.string(), refresh_token: z.string() });
export const Login = z.strictObject({ token: z.string(), refresh_token: z.string(), user: User });
export const PasswordChanged = z.strictObject({ success, token: z.string(), refresh_token: z.string() });
export const UserEnvelope = z.strictObject({ user: User });
/** `/register`: a login, or with `requireEmailVerification` only the user (no tokens before the address is verified). */
export const Registered = z.union([Login, UserEnvelope]);
export const SuccessWithUser = z.strictObject({ success, user: User });
export const RoleNames = z.array(z.string());
export const RedirectUrl = z.strictObject({ redirect_url: z.string() });
export const OtpRequested = z.strictObject({ otp_id: z.string() });

export const AuthMethods = z.strictObject({
  password: z.strictObject({ enabled: z.boolean() }),
  oauth2: z.strictObject({ providers: z.array(z.string()) }),
  otp: z.strictObject({ enabled: z.boolean() }),
  mfa: z.strictObject({ enabled: z.boolean() }),
  passkey: z.strictObject({ enabled: z.boolean() }),
});

export const Identity = z.strictObject({
  provider: z.string(),
  provider_user_id: z.string(),
  email: z.string().nullable(),
  email_verified: z.boolean(),
  created_at: timestamp,
});
export const IdentityList = z.array(Identity);

export const ApiToken = z.strictObject({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  created_at: timestamp,
  expires_at: timestamp.nullable(),
  last_used_at: timestamp.nullable(),
});
export const ApiTokenList = z.array(ApiToken);
/** The only time the secret is shown. */
export const CreatedApiToken = ApiToken.omit({ last_used_at: true }).extend({ token: z.string() });

export const Integration = z.strictObject({
  connector: z.string(),
  source: z.enum(['manual', 'oauth']),
  identifier: z.string().nullable(),
  scopes: z.array(z.string()),
  created_at: timestamp,
  updated_at: timestamp,
});
export const IntegrationList = z.array(Integration);

export const MfaStatus = z.strictObject({ totp: z.strictObject({ enabled: z.boolean() }), backup_codes: z.strictObject({ remaining: z.int() }) });
export const TotpSetup = z.strictObject({ secret: z.string(), otpauth_url: z.string() });
export const BackupCodes = z.strictObject({ backup_codes: z.array(z.string()) });

/** A registered passkey: never its key material. */
export const Passkey = z.strictObject({
  id: z.string(),
  name: z.string(),
  created_at: timestamp,
  last_used_at: timestamp.nullable(),
  device_type: z.enum(['singleDevice', 'multiDevice']).meta({ description: '`multiDevice`: a passkey its provider syncs between devices' }),
  backed_up: z.boolean(),
});
export const PasskeyList = z.array(Passkey);
export const PasskeyEnvelope = z.strictObject({ passkey: Passkey });
const credentialDescriptor = z.looseObject({ id: z.string(), type: z.literal('public-key'), transports: z.array(z.string()).optional() });
/** What `navigator.credentials.create()` needs, as JSON (`PublicKeyCredential.parseCreationOptionsFromJSON()` takes it as it is). */
export const PasskeyRegistrationOptions = z.strictObject({
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
export const PasskeySignInOptions = z.strictObject({
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

export const UserPage = z.strictObject({ users: z.array(User), total: z.int(), limit: z.int(), offset: z.int() });
export const UserDetail = z.strictObject({ user: User, identities: IdentityList, mfa: z.strictObject({ totp: z.boolean() }) });
export const RoleInfo = z.strictObject({ name: z.string(), users: z.int() });
export const RoleInfoList = z.array(RoleInfo);
export const AuditEvent = z.strictObject({
  id: z.string(),
  type: z.string(),
  user_id: z.string().nullable(),
  actor_id: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
  created_at: timestamp,
});
export const EventList = z.strictObject({ events: z.array(AuditEvent) });
export const Impersonation = z.strictObject({ token: z.string(), user: User, expires_at: timestamp });

export const Group = z.strictObject({ id: z.string(), name: z.string(), slug: z.string(), description: z.string().nullable(), created_at: timestamp });
export const GroupList = z.strictObject({ groups: z.array(Group) });
export const GroupEnvelope = z.strictObject({ group: Group });
export const GroupDetail = z.strictObject({ group: Group, parents: z.array(Group), children: z.array(Group) });
/** Another user as group responses show them to anyone but a site admin. */
export const GroupUser = z.strictObject({ id: z.string(), username: z.string(), real_name: z.string().nullable() });
/** `user`: the full user for a site admin, `{id, username, real_name}` for anyone else. */
export const GroupMember = z.strictObject({ user: z.union([User, GroupUser]), roles: z.array(z.string()), is_admin: z.boolean() });
export const InvitationList = z.array(
  z.strictObject({ id: z.string(), group: Group, roles: z.array(z.string()), invited_by: GroupUser, created_at: timestamp, expires_at: timestamp }),
);
export const InvitationAccepted = z.strictObject({ group: Group, roles: z.array(z.string()) });
export const MemberPage = z.strictObject({ members: z.array(GroupMember), total: z.int() });
/** `via`: the group that gives the membership (the group itself for a direct one). */
export const UserGroupList = z.array(z.strictObject({ group: Group, roles: z.array(z.string()), is_admin: z.boolean(), via: Group }));

/** The OpenAPI document itself, as far as a schema says anything useful about it. */
export const OpenApiDocument = z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) });

/** A login as listed by `GET /{user}/sessions`. */
export const Session = z.strictObject({
  id: z.string(),
  created_at: timestamp,
  last_used_at: timestamp.meta({ description: 'the sign-in, or the latest refresh' }),
  ip: z.string().nullable(),
  device: z.string().nullable().meta({ description: 'a short summary such as "Chrome on macOS", never the User-Agent' }),
  current: z.boolean().meta({ description: 'the login the request came with' }),
});
export const SessionList = z.array(Session);

/** A public key of `signingKeys` (RFC 7517). */
export const PublicJwk = z.strictObject({
  kty: z.enum(['OKP', 'EC']),
  crv: z.enum(['Ed25519', 'P-256']),
  x: z.string(),
  y: z.string().optional(),
  kid: z.string(),
  alg: z.enum(['EdDSA', 'ES256']),
  use: z.literal('sig'),
});
export const Jwks = z.strictObject({ keys: z.array(PublicJwk) });

/** RFC 7662 2.2: an active token's details, or only `active: false`, whatever the reason. */
export const Introspection = z.union([
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
