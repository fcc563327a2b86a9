import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Timestamps are written as Date and read back as Date by both drivers. */
type Timestamp = ColumnType<Date, Date | undefined, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
/** jsonb goes in as a JSON string and comes back parsed. */
type Json<T> = ColumnType<T, string, string>;

export interface UsersTable {
  id: Generated<string>;
  username: string;
  username_key: string;
  email: string | null;
  email_key: string | null;
  password_hash: string | null;
  real_name: string | null;
  profile: Json<Record<string, unknown>>;
  email_verified: Generated<boolean>;
  is_active: Generated<boolean>;
  token_version: Generated<number>;
  /** Whoever holds the credentials has proven the address (sql/0014_address_ownership.sql). */
  owner_proven: Generated<boolean>;
  /** Bumped by the database whenever the address or password changes; links, codes and mfa_ids carry it. */
  credential_version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_login: NullableTimestamp;
}

export interface RolesTable {
  name: string;
  created_at: Timestamp;
}

export interface UserRolesTable {
  user_id: string;
  role: string;
}

export interface RefreshTokensTable {
  id: string;
  family_id: string;
  user_id: string;
  token_hash: string;
  parent_id: string | null;
  created_at: Timestamp;
  expires_at: Date;
  used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

/** One login (sql/0016_sessions.sql): its id is the refresh-token family. */
export interface SessionsTable {
  id: string;
  user_id: string;
  created_at: Timestamp;
  last_used_at: Timestamp;
  ip: string | null;
  /** A short summary of the User-Agent ("Chrome on macOS"), never the header itself. */
  device: string | null;
  /** The passkey that opened the login, first or second factor (sql/0019); its removal ends the login. */
  passkey_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ApiTokensTable {
  id: string;
  /** The owner of a user's token; null for a service key. */
  user_id: string | null;
  /** The owner of a service key (a token that acts for a group); null for a user's token. */
  group_id: ColumnType<string | null, string | null | undefined, string | null>;
  name: string;
  token_hash: string;
  scopes: Json<string[]>;
  created_at: Timestamp;
  expires_at: Date | null;
  last_used_at: NullableTimestamp;
  /** Who minted a service key: it is revoked when they stop administering its group; null for a user's token or trusted code's key. */
  created_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface RateLimitsTable {
  key: string;
  hits: number;
  reset_at: Date;
}

export interface OAuthAccountsTable {
  provider: string;
  provider_user_id: string;
  user_id: string;
  email: string | null;
  /** What the provider said of `email`; an unverified provider email never reaches users.email. */
  email_verified: Generated<boolean>;
  access_token_enc: string | null;
  refresh_token_enc: string | null;
  scopes: Json<string[]>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface OAuthStatesTable {
  state_hash: string;
  provider: string;
  verifier_enc: string | null;
  redirect_to: string | null;
  /** SHA-256 of the cookie of the browser that began the flow. */
  browser_hash: string;
  /** The signed-in user who began a linking flow; null for a sign-in. */
  link_user_id: string | null;
  /** That user's token version when the flow began: the flow ends with the user's logins (0012). */
  link_user_version: number | null;
  /** AES-256-GCM of the JSON the strategy needs back (PKCE verifier, nonce, its session). */
  flow_enc: string | null;
  /** Rate-limit key of the address that began the flow. */
  client_key: string;
  /** The front end's value for the flow (`client_state`), handed back in the redirect's fragment. */
  client_state: string | null;
  created_at: Timestamp;
  expires_at: Date;
}

export interface AuthEventsTable {
  id: Generated<string>;
  type: string;
  user_id: string | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  data: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

export interface LoginFailuresTable {
  key: string;
  failures: number;
  last_failure_at: Date;
}

/** What a one-time token is for (the two `passkey_*` ones are WebAuthn challenges). */
export type OneTimePurpose = 'password_reset' | 'verification' | 'email_change' | 'otp' | 'mfa' | 'passkey_register' | 'passkey_login';

/** Link tokens, email codes and pending second factors: single use, expiring, hashed. */
export interface OneTimeTokensTable {
  id: string;
  /** Null only for a passkey sign-in challenge, issued before anyone is known (sql/0017_passkeys.sql). */
  user_id: string | null;
  purpose: OneTimePurpose;
  token_hash: string;
  email: string | null;
  data: Json<Record<string, unknown>>;
  attempts: Generated<number>;
  /** The user's credential_version when issued: the token dies when the address or password changes. */
  credential_version: number;
  created_at: Timestamp;
  expires_at: Date;
  used_at: NullableTimestamp;
}

/** Failed second factors and email codes of one account, across all its challenges. */
export interface SecondFactorFailuresTable {
  user_id: string;
  failures: number;
  last_failure_at: Date;
  notified_at: NullableTimestamp;
}

export interface MfaTotpTable {
  user_id: string;
  /** AES-256-GCM of the base32 secret. */
  secret_enc: string;
  confirmed_at: NullableTimestamp;
  /** Time step of the last accepted code (replay protection); bigint comes back as a string. */
  last_step: ColumnType<string | null, number | null | undefined, number | null>;
  created_at: Timestamp;
}

export interface MfaBackupCodesTable {
  id: Generated<string>;
  user_id: string;
  code_hash: string;
  used_at: NullableTimestamp;
  created_at: Timestamp;
}

/** A registered WebAuthn credential (passkey): public material only. */
export interface PasskeysTable {
  id: Generated<string>;
  user_id: string;
  /** base64url credential id; unique across users. */
  credential_id: string;
  /** base64url COSE public key. */
  public_key: string;
  /** bigint: comes back as a string from node-postgres, a number from PGlite. */
  counter: ColumnType<string | number, number | undefined, number>;
  transports: ColumnType<string[], string[] | undefined, string[]>;
  name: string;
  device_type: string;
  backed_up: boolean;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
}

/** A credential a user keeps for another service, entered through the app (`auth.integrations.set`). */
export interface IntegrationsTable {
  user_id: string;
  connector: string;
  identifier: string | null;
  /** AES-256-GCM of the secret, with `integration:<user_id>:<connector>` as associated data. */
  secret_enc: string;
  /** text[]: both drivers take and give a string array. */
  scopes: string[];
  meta: Json<Record<string, unknown>>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** One revocation, as instances that poll instead of LISTENing read it. */
export interface RevocationLogTable {
  id: Generated<string>;
  event: unknown;
  created_at: Generated<Date>;
}

export interface GroupsTable {
  id: Generated<string>;
  name: string;
  slug: string;
  description: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** One edge of the group hierarchy. */
export interface GroupParentsTable {
  parent_id: string;
  child_id: string;
}

/** A direct membership; `roles` are the member's roles inside the group. */
export interface GroupMembersTable {
  group_id: string;
  user_id: string;
  roles: ColumnType<string[], string[] | undefined, string[]>;
  created_at: Timestamp;
}

/** A pending invitation into a group: to an account (`user_id`) or to an address (`email_key`). */
export interface GroupInvitationsTable {
  id: Generated<string>;
  group_id: string;
  user_id: string | null;
  email_key: string | null;
  email: string | null;
  roles: ColumnType<string[], string[] | undefined, string[]>;
  invited_by: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

/** Every table of the library, as Kysely sees them (inside `dbSchema`). */
export interface Database {
  one_time_tokens: OneTimeTokensTable;
  mfa_totp: MfaTotpTable;
  mfa_backup_codes: MfaBackupCodesTable;
  auth_events: AuthEventsTable;
  revocation_log: RevocationLogTable;
  login_failures: LoginFailuresTable;
  second_factor_failures: SecondFactorFailuresTable;
  oauth_accounts: OAuthAccountsTable;
  oauth_states: OAuthStatesTable;
  users: UsersTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  refresh_tokens: RefreshTokensTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  integrations: IntegrationsTable;
  rate_limits: RateLimitsTable;
  groups: GroupsTable;
  group_parents: GroupParentsTable;
  group_members: GroupMembersTable;
  group_invitations: GroupInvitationsTable;
  passkeys: PasskeysTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type RefreshTokenRow = Selectable<RefreshTokensTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;
export type OAuthAccountRow = Selectable<OAuthAccountsTable>;
export type OAuthStateRow = Selectable<OAuthStatesTable>;
export type OneTimeTokenRow = Selectable<OneTimeTokensTable>;
/** A one-time token that belongs to a user: every purpose but a passkey sign-in challenge. */
export type UserOneTimeTokenRow = OneTimeTokenRow & { user_id: string };
export type PasskeyRow = Selectable<PasskeysTable>;
export type IntegrationRow = Selectable<IntegrationsTable>;
export type GroupRow = Selectable<GroupsTable>;
export type GroupMemberRow = Selectable<GroupMembersTable>;
export type GroupInvitationRow = Selectable<GroupInvitationsTable>;
