import { createSecretKey, createHash, type KeyObject } from 'node:crypto';
import {
  DEFAULT_EMAIL_LINKS,
  DEFAULT_MAIL_TEMPLATES_OPTION,
  DEFAULT_OTP,
  DEFAULT_PASSWORD_POLICY,
  emailLinksOf,
  mailerOf,
  mailTemplatesOf,
  mfaOf,
  otpOf,
  passwordPolicyOf,
  type MfaOptions,
  type OtpOptions,
  type PasswordPolicyOptions,
} from './account-options.js';
import { cookiesOf, type CookieOptions } from './cookie-options.js';
import type { DatabaseHandle } from './db/database-handle.js';
import { silentLogger, stderrLogger, type Logger } from './logger.js';
import type { EmailLinks, Mailer } from './mail/mailer.js';
import type { MailTemplates } from './mail/templates.js';
import { checkOAuthConfig, type OAuthProviderConfig } from './oauth/oauth-config.js';
import { absoluteUrl, bool, misuse, optionalDsn, optionalFunction, positiveInt, roleList, str } from './option-checks.js';
import { isAbsoluteHttpUrl } from './oauth/redirects.js';
import { BcryptHasher, type PasswordHasher } from './passwords/hasher.js';
import type { RateLimitOptions } from './security/rate-limit.js';
import { permissionsOf } from './security/permissions.js';
import { roleImplicationsOf } from './security/role-implications.js';
import type { AuthEvent } from './security/audit.js';
import { webauthnOf, type WebAuthnOptions } from './webauthn-options.js';
import { introspectionOf, type IntrospectionClient, type IntrospectionOptions } from './security/introspection-clients.js';
import { signingKeysOf, type SigningKeyInput } from './tokens/signing-keys.js';

export { DEFAULT_EMAIL_LINKS, DEFAULT_MAIL_TEMPLATES_OPTION, DEFAULT_OTP, DEFAULT_PASSWORD_POLICY };
export type { CookieOptions, MfaOptions, OAuthProviderConfig, OtpOptions, PasswordPolicyOptions };
export type { DatabaseHandle, WebAuthnOptions };
export type { IntrospectionClient, IntrospectionOptions, SigningKeyInput };

/** A JWT signing secret: a string or Buffer of at least 32 bytes. */
export type JwtSecret = string | Buffer;

/** Options of `new AuthManager(app, options)`. Every field documents its default. */
export interface AuthManagerOptions {
  /** `postgres://`, `postgresql://`, `pglite://<dir>` or `pglite://memory`. Required unless `db` is given. */
  dbDsn?: string;
  /** Your own Kysely instance, pg.Pool or PGlite instance instead of `dbDsn`; the library never closes it. */
  db?: DatabaseHandle;
  /**
   * A direct PostgreSQL DSN for the one connection that LISTENs for revocations, for deployments
   * behind a transaction-pooling proxy (where LISTEN does not work). @default the `dbDsn` connection
   */
  listenDsn?: string;
  /** PostgreSQL schema holding every table. @default 'authlib' */
  dbSchema?: string;
  /** Apply pending migrations during `ready`. @default true */
  autoMigrate?: boolean;
  /** HS256 key(s) of >= 32 bytes; with an array the first signs and all verify. Required. */
  jwtSecret: JwtSecret | JwtSecret[];
  /**
   * Ed25519 (EdDSA) or P-256 (ES256) private keys that sign access tokens instead of `jwtSecret`,
   * so other services verify them with the public keys (`GET {basePath}/.well-known/jwks.json`)
   * and never hold a secret that mints tokens. PEM, JWK or KeyObject; a list rotates: the first
   * signs, every one verifies (public keys may follow the first), picked by `kid`, each pinned to
   * its algorithm. HS256 access tokens of a `jwtSecret` still verify until they expire; refresh
   * tokens stay HS256. @default none: HS256 with `jwtSecret`
   */
  signingKeys?: SigningKeyInput | SigningKeyInput[];
  /**
   * With `signingKeys`: whether HS256 access tokens of a `jwtSecret` issued before this instance
   * started (a clock skew of 30 s allowed) still verify until they expire: the move from HS256,
   * which so ends by itself one token lifetime after the start (`tokenExpiry`, or 3600 s for an
   * impersonation token). An HS256 token issued later is refused, whoever holds the secret.
   * `false` ends the move at once. `false` without `signingKeys` is a TypeError. @default true
   */
  acceptLegacyHs256?: boolean;
  /**
   * Also serve the JWKS at the root, `GET /.well-known/jwks.json` (needs `signingKeys` and an app
   * passed to the constructor; without an app, serve `auth.jwks()` yourself). @default false
   */
  jwksAtRoot?: boolean;
  /**
   * Who may call `POST {basePath}/introspect` (RFC 7662) with HTTP Basic credentials, besides
   * service keys with the scope `introspect`. @default { clients: [] }
   */
  introspection?: IntrospectionOptions;
  /**
   * Mail the account's address when someone signs in from a device (browser and system) the
   * account has not signed in from before (needs `mailer`). @default false
   */
  newDeviceNotice?: boolean;
  /** `iss` claim put in and required on every JWT. @default 'express-authlib' */
  issuer?: string;
  /** `aud` claim put in and required on every JWT. @default 'express-authlib' */
  audience?: string;
  /** Access-token lifetime in seconds. @default 3600 */
  tokenExpiry?: number;
  /** Refresh-token lifetime in seconds, absolute per login. @default 2592000 (30 days) */
  refreshTokenExpiry?: number;
  /** Seconds during which the immediately previous refresh token may be presented again. @default 0 */
  refreshGraceSeconds?: number;
  /** OAuth providers by name. @default {} */
  oauthConfig?: Record<string, OAuthProviderConfig>;
  /** Where `auth.router` is mounted when an app is passed. @default '/api/v1/users' */
  basePath?: string;
  /** External base URL of the app; required when `oauthConfig` names a provider. */
  publicUrl?: string;
  /** First OAuth login of an unknown identity creates a user. @default true */
  oauthAutoCreate?: boolean;
  /** 32-byte key for provider tokens at rest. @default derived from the first jwtSecret */
  encryptionKey?: string | Buffer;
  /** Front-end URL the OAuth callback redirects to, tokens in the fragment. */
  oauthRedirect?: string;
  /** Exact origins/URLs a client may ask to return to after OAuth. @default [] */
  allowedRedirects?: string[];
  /**
   * Cookie mode for browser front ends: a request that asks for it (`refresh_token_in: 'cookie'`)
   * gets its refresh token as an HttpOnly cookie, and `/token-refresh` and `/logout` take it from
   * there, behind an Origin allow-list and a CSRF token. @default off (bearer mode only)
   */
  cookies?: CookieOptions;
  /** Roles that exist. @default ['admin', 'user'] */
  roles?: string[];
  /** Roles of a newly registered user. @default ['user'] */
  defaultRoles?: string[];
  /** Role that may manage other users and their tokens. @default 'admin' */
  adminRole?: string;
  /**
   * Roles that bring others with them, transitively: `{ admin: ['editor'], editor: ['user'] }`
   * gives an admin `editor` and `user` too. `req.auth.roles` holds the effective roles; the user
   * object keeps the held ones, and only a held `adminRole` opens the admin endpoints. A cycle is
   * a TypeError. @default {}
   */
  roleImplications?: Record<string, string[]>;
  /**
   * Operations and the roles that grant them, for `requireAuth({ permission })` and
   * `auth.guard(token, { operation })`: `{ 'reports:read': ['editor'] }`. An API token must also
   * carry the operation (or `*`) among its scopes. @default {}
   */
  permissions?: Record<string, string[]>;
  /** Whether `POST /register` is open to the public. @default true */
  allowRegistration?: boolean;
  /**
   * Whether the router serves its OpenAPI 3.1 document at `GET {basePath}/openapi.json` (public,
   * cacheable). `auth.openapi()` returns it either way. @default false
   */
  openapi?: boolean;
  /** Who may create groups (`POST /groups`): any signed-in user, or only holders of `adminRole`. @default 'anyone' */
  groupCreation?: 'anyone' | 'admin';
  /** bcrypt cost. @default 12 */
  bcryptRounds?: number;
  /**
   * Whether `X-Forwarded-For` is believed: false, true, a hop count, or proxy addresses/subnets.
   * @default the host Express app's `trust proxy` setting, read per request; `false` outside Express
   */
  trustProxy?: boolean | number | string | string[];
  /** Rate limits for login/register/refresh, kept in the database; `false` turns them off. @default on */
  rateLimit?: false | RateLimitOptions;
  /**
   * Account mail (reset, verification, email change, OTP): `{ send(message) }`, or an `smtp://` /
   * `smtps://` URL (`?from=` sets the sender). Without one the `/request-*` endpoints answer 501. @default none
   */
  mailer?: Mailer | string;
  /** URL templates containing `{token}` that turn mailed tokens into links. @default {} (the mail carries the token) */
  emailLinks?: EmailLinks;
  /** Per mail kind, `(data) => ({subject, text, html})` replacing the plain default. @default {} */
  mailTemplates?: MailTemplates;
  /**
   * The app's name in mails (`data.appName`), apart from `issuer`, so renaming the app in mails does
   * not change the JWT `iss` (which would end every token). @default the `issuer`
   */
  appName?: string;
  /** `/login` refuses an account whose email is not verified (403 `email_not_verified`). @default false */
  requireEmailVerification?: boolean;
  /** Lifetime of a password-reset link, seconds. @default 1800 */
  resetTokenExpiry?: number;
  /** Lifetime of an email-verification link, seconds. @default 86400 */
  verificationTokenExpiry?: number;
  /** Lifetime of an email-change link, seconds. @default 3600 */
  emailChangeTokenExpiry?: number;
  /** Email one-time codes. @default { length: 6, expiresIn: 300, maxAttempts: 5 } */
  otp?: OtpOptions;
  /** TOTP label and who must use a second factor. @default { issuer: <issuer>, required: undefined } */
  mfa?: MfaOptions;
  /** Password rules for register, change and reset. @default { minLength: 8, maxLength: 1024, rejectCommon: true } */
  passwordPolicy?: PasswordPolicyOptions;
  /**
   * Passkeys (WebAuthn): `{ rpId, rpName, origins? }`, `origins` defaulting to the origin of
   * `publicUrl`. Without it the passkey endpoints answer 501 `not_configured`. @default off
   */
  webauthn?: WebAuthnOptions;
  /**
   * pino-compatible logger; never receives a password, token or secret. `false` silences everything.
   * @default info, warnings and errors (migrations starting, ready with its time, a failed start-up, a lost database) as one line each on stderr; debug is silent
   */
  logger?: Logger | false;
  /** Password hasher. @default bcrypt in a worker pool */
  hasher?: PasswordHasher;
  /** Called with every audit event after it is recorded (events never carry secrets). @default none */
  onEvent?: (event: AuthEvent) => void | Promise<void>;
  /** Injected clock. @default () => new Date() */
  now?: () => Date;
}

export const DEFAULT_DB_SCHEMA = 'authlib';
export const DEFAULT_AUTO_MIGRATE = true;
export const DEFAULT_ISSUER = 'express-authlib';
export const DEFAULT_AUDIENCE = 'express-authlib';
export const DEFAULT_TOKEN_EXPIRY = 3600;
export const DEFAULT_REFRESH_TOKEN_EXPIRY = 2_592_000;
export const DEFAULT_REFRESH_GRACE_SECONDS = 0;
export const DEFAULT_BASE_PATH = '/api/v1/users';
export const DEFAULT_OAUTH_AUTO_CREATE = true;
export const DEFAULT_ROLES = ['admin', 'user'] as const;
export const DEFAULT_DEFAULT_ROLES = ['user'] as const;
export const DEFAULT_ADMIN_ROLE = 'admin';
/** No role implies another. */
export const DEFAULT_ROLE_IMPLICATIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({});
/** No operations: `requireAuth({ permission })` needs the option. */
export const DEFAULT_PERMISSIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({});
export const DEFAULT_ALLOW_REGISTRATION = true;
export const DEFAULT_OPENAPI = false;
export const DEFAULT_JWKS_AT_ROOT = false;
export const DEFAULT_ACCEPT_LEGACY_HS256 = true;
export const DEFAULT_NEW_DEVICE_NOTICE = false;
export const DEFAULT_BCRYPT_ROUNDS = 12;
export const DEFAULT_GROUP_CREATION = 'anyone';
/** No `trustProxy`: follow the Express app's `trust proxy` setting (false outside Express). */
export const DEFAULT_TRUST_PROXY = undefined;
/** Info, warnings and errors on stderr, one line each (debug is silent); `logger: false` is silentLogger. */
export const DEFAULT_LOGGER: Logger = stderrLogger;
export const DEFAULT_REQUIRE_EMAIL_VERIFICATION = false;
export const DEFAULT_RESET_TOKEN_EXPIRY = 1800;
export const DEFAULT_VERIFICATION_TOKEN_EXPIRY = 86_400;
export const DEFAULT_EMAIL_CHANGE_TOKEN_EXPIRY = 3600;
export const DEFAULT_NOW = (): Date => new Date();
/** Without a `hasher`: bcrypt at `bcryptRounds` in a worker pool, which the AuthManager owns and closes. */
export const DEFAULT_HASHER = (bcryptRounds: number): PasswordHasher => new BcryptHasher(bcryptRounds);
/** HMAC keys shorter than the hash output weaken HS256; RFC 7518 3.2 asks for >= 256 bits. */
export const MIN_SECRET_BYTES = 32;

/** One signing/verifying key, built once: jsonwebtoken re-parses a string secret on every call. */
export interface SigningKey {
  kid: string;
  key: KeyObject;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function toKeyBytes(secret: unknown, option: string): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.isBuffer(secret) ? secret : undefined;
  if (!bytes) throw misuse(option, 'must be a string or Buffer (or an array of them)');
  if (bytes.length < MIN_SECRET_BYTES) {
    throw misuse(option, `must be at least ${MIN_SECRET_BYTES} bytes; generate one with \`npx authlib secret\``);
  }
  return bytes;
}

/** kid: a short fingerprint of the key, so rotation needs no configuration beyond the key list. */
function keyId(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 12);
}

/**
 * What is wrong with a database URL, or undefined when it is usable. Shared with the CLI (`--dsn`),
 * so both refuse the same URLs with the same words.
 */
export function dsnProblem(dsn: unknown): string | undefined {
  if (typeof dsn !== 'string' || !DB_DSN.test(dsn)) return `must start with ${DB_DSN_EXAMPLE}`;
  return undefined;
}

/** What is wrong with a schema name, or undefined when it is usable (shared with the CLI's `--schema`). */
export function schemaProblem(schema: unknown): string | undefined {
  if (typeof schema !== 'string' || !IDENTIFIER.test(schema))
    return 'must be a plain SQL identifier (letters, digits, underscore; not starting with a digit; at most 63)';
  return undefined;
}

const DB_DSN = /^(postgres|postgresql|pglite):\/\/./;
const DB_DSN_EXAMPLE = "'postgres://', 'postgresql://' or 'pglite://' (e.g. 'pglite://memory' or 'pglite://./.authlib')";

function resolveLogger(value: unknown): Logger {
  if (value === false) return silentLogger;
  if (value === undefined) return DEFAULT_LOGGER;
  const methods = ['info', 'warn', 'error', 'debug'] as const;
  if (value === null || typeof value !== 'object' || methods.some((m) => typeof (value as Record<string, unknown>)[m] !== 'function')) {
    throw misuse('logger', 'must be a pino-compatible { info, warn, error, debug } logger, or false to silence it');
  }
  return value as Logger;
}

function signingKeys(value: unknown): readonly SigningKey[] {
  if (value === undefined) throw misuse('jwtSecret', 'is required: a string of at least 32 bytes; generate one with `npx authlib secret`');
  const secrets = Array.isArray(value) ? value : [value];
  if (secrets.length === 0) throw misuse('jwtSecret', 'must hold at least one secret');
  return secrets.map((secret, i) => {
    const bytes = toKeyBytes(secret, secrets.length > 1 ? `jwtSecret[${i}]` : 'jwtSecret');
    return Object.freeze({ kid: keyId(bytes), key: createSecretKey(bytes) });
  });
}

/** The kids of the `jwtSecret` keys, when they resolve (else that option's own resolver reports it). */
function hmacKids(secret: unknown): string[] {
  try {
    return signingKeys(secret).map((k) => k.kid);
  } catch {
    return [];
  }
}

function encryptionKeyOf(raw: unknown, options: AuthManagerOptions): Buffer {
  if (raw === undefined) {
    // Domain-separated from the signing use of the same secret.
    const first = Array.isArray(options.jwtSecret) ? options.jwtSecret[0] : options.jwtSecret;
    return createHash('sha256').update('express-authlib encryption key\0').update(toKeyBytes(first, 'jwtSecret')).digest();
  }
  if (!Buffer.isBuffer(raw) && typeof raw !== 'string') throw misuse('encryptionKey', 'must be a Buffer or a string (64 hex characters or base64)');
  const key = Buffer.isBuffer(raw) ? raw : Buffer.from(raw, /^[0-9a-f]{64}$/i.test(raw) ? 'hex' : 'base64');
  if (key.length !== 32) throw misuse('encryptionKey', 'must be 32 bytes (a Buffer, 64 hex characters or base64)');
  return key;
}

/** The issuer as resolved, for the options that default to it (`appName`, `mfa.issuer`). */
const issuerOf = (all: AuthManagerOptions) => (typeof all.issuer === 'string' && all.issuer !== '' ? all.issuer : DEFAULT_ISSUER);

/**
 * Each option's resolver: validates the given value (TypeError naming the option and the fix) and
 * applies its default. Keyed by every option of AuthManagerOptions, so the compiler rejects an
 * option declared without a resolver, or a resolver for an option that is not declared; the
 * resolved shape and the list of known options are both derived from this one table.
 */
const RESOLVERS = {
  dbDsn: (v) => optionalDsn(v, 'dbDsn', DB_DSN, DB_DSN_EXAMPLE),
  db: (v) => v,
  listenDsn: (v) => optionalDsn(v, 'listenDsn', /^postgres(ql)?:\/\/./, "'postgres://' or 'postgresql://'"),
  dbSchema: (v) => {
    const schema = str(v, 'dbSchema', DEFAULT_DB_SCHEMA);
    const problem = schemaProblem(schema);
    if (problem) throw misuse('dbSchema', problem);
    return schema;
  },
  autoMigrate: (v) => bool(v, 'autoMigrate', DEFAULT_AUTO_MIGRATE),
  jwtSecret: (v) => Object.freeze(signingKeys(v)),
  // After jwtSecret: a signing key's kid may not be a secret's.
  signingKeys: (v, all) => signingKeysOf(v, hmacKids(all.jwtSecret)),
  acceptLegacyHs256: (v) => bool(v, 'acceptLegacyHs256', DEFAULT_ACCEPT_LEGACY_HS256),
  jwksAtRoot: (v) => bool(v, 'jwksAtRoot', DEFAULT_JWKS_AT_ROOT),
  introspection: introspectionOf,
  newDeviceNotice: (v) => bool(v, 'newDeviceNotice', DEFAULT_NEW_DEVICE_NOTICE),
  issuer: (v) => str(v, 'issuer', DEFAULT_ISSUER),
  audience: (v) => str(v, 'audience', DEFAULT_AUDIENCE),
  tokenExpiry: (v) => positiveInt(v, 'tokenExpiry', DEFAULT_TOKEN_EXPIRY),
  refreshTokenExpiry: (v) => positiveInt(v, 'refreshTokenExpiry', DEFAULT_REFRESH_TOKEN_EXPIRY),
  refreshGraceSeconds: (v) => positiveInt(v, 'refreshGraceSeconds', DEFAULT_REFRESH_GRACE_SECONDS, 0),
  oauthConfig: (v) => checkOAuthConfig(v ?? {}),
  basePath: (v) => {
    const path = str(v, 'basePath', DEFAULT_BASE_PATH);
    if (!path.startsWith('/')) throw misuse('basePath', "must start with '/'");
    return path.replace(/\/+$/, '') || '/';
  },
  publicUrl: (v) => absoluteUrl(v, 'publicUrl', ', e.g. https://app.example.com'),
  oauthAutoCreate: (v) => bool(v, 'oauthAutoCreate', DEFAULT_OAUTH_AUTO_CREATE),
  encryptionKey: encryptionKeyOf,
  oauthRedirect: (v) => absoluteUrl(v, 'oauthRedirect', ' of your front end, e.g. https://app.example.com/auth/done'),
  allowedRedirects: (v) => {
    const list = v ?? [];
    if (!Array.isArray(list) || list.some((u) => !isAbsoluteHttpUrl(u))) {
      throw misuse('allowedRedirects', 'must be an array of absolute http(s) URLs (an origin, or an origin plus a path prefix)');
    }
    return Object.freeze([...list]);
  },
  cookies: (v, all) => cookiesOf(v, all.publicUrl),
  roles: (v) => Object.freeze(roleList(v, 'roles', DEFAULT_ROLES)),
  defaultRoles: (v) => Object.freeze(roleList(v, 'defaultRoles', DEFAULT_DEFAULT_ROLES)),
  adminRole: (v) => str(v, 'adminRole', DEFAULT_ADMIN_ROLE),
  roleImplications: (v) => roleImplicationsOf(v ?? DEFAULT_ROLE_IMPLICATIONS),
  permissions: (v) => permissionsOf(v ?? DEFAULT_PERMISSIONS),
  allowRegistration: (v) => bool(v, 'allowRegistration', DEFAULT_ALLOW_REGISTRATION),
  openapi: (v) => bool(v, 'openapi', DEFAULT_OPENAPI),
  groupCreation: (v): 'anyone' | 'admin' => {
    const who = v ?? DEFAULT_GROUP_CREATION;
    if (who !== 'anyone' && who !== 'admin') throw misuse('groupCreation', "must be 'anyone' or 'admin'");
    return who;
  },
  bcryptRounds: (v) => {
    const rounds = positiveInt(v, 'bcryptRounds', DEFAULT_BCRYPT_ROUNDS, 4);
    if (rounds > 31) throw misuse('bcryptRounds', 'must be between 4 and 31');
    return rounds;
  },
  // undefined: the host Express app's `trust proxy` decides, per request (security/client-ip.ts).
  trustProxy: (v): boolean | number | string | string[] | undefined => {
    const trust = v ?? DEFAULT_TRUST_PROXY;
    if (trust !== undefined && !['boolean', 'number', 'string'].includes(typeof trust) && !Array.isArray(trust))
      throw misuse('trustProxy', 'must be a boolean, a hop count, or proxy addresses');
    return trust;
  },
  rateLimit: (v) => {
    const limits = v ?? {};
    if (limits !== false && (typeof limits !== 'object' || limits === null)) throw misuse('rateLimit', 'must be false or an object of limits');
    return limits;
  },
  mailer: mailerOf,
  emailLinks: emailLinksOf,
  mailTemplates: mailTemplatesOf,
  appName: (v, all) => str(v, 'appName', issuerOf(all)),
  requireEmailVerification: (v) => bool(v, 'requireEmailVerification', DEFAULT_REQUIRE_EMAIL_VERIFICATION),
  resetTokenExpiry: (v) => positiveInt(v, 'resetTokenExpiry', DEFAULT_RESET_TOKEN_EXPIRY),
  verificationTokenExpiry: (v) => positiveInt(v, 'verificationTokenExpiry', DEFAULT_VERIFICATION_TOKEN_EXPIRY),
  emailChangeTokenExpiry: (v) => positiveInt(v, 'emailChangeTokenExpiry', DEFAULT_EMAIL_CHANGE_TOKEN_EXPIRY),
  otp: otpOf,
  mfa: (v, all) => mfaOf(v, issuerOf(all)),
  passwordPolicy: passwordPolicyOf,
  webauthn: (v, all) => webauthnOf(v, all.publicUrl),
  logger: resolveLogger,
  hasher: (v) => v,
  onEvent: (v) => optionalFunction<(event: AuthEvent) => void | Promise<void>>(v, 'onEvent', '(event) => void'),
  now: (v) => optionalFunction<() => Date>(v, 'now', 'returning a Date') ?? DEFAULT_NOW,
} satisfies { [K in keyof Required<AuthManagerOptions>]: (value: AuthManagerOptions[K], all: AuthManagerOptions) => unknown };

type Resolved = { readonly [K in keyof typeof RESOLVERS]: ReturnType<(typeof RESOLVERS)[K]> };

/**
 * Options after validation and defaulting; frozen, handed to every module (each takes the `Pick`
 * it uses). `jwtSecret` becomes `keys`: the first signs, every key verifies.
 */
export type ResolvedOptions = Omit<Resolved, 'jwtSecret'> & {
  readonly keys: Resolved['jwtSecret'];
  /**
   * The latest `iat` (seconds) of an HS256 access token that verifies: no limit without
   * `signingKeys` (Infinity); with them, the moment these options were resolved (the instance's
   * start), or none at all (-Infinity) with `acceptLegacyHs256: false`.
   */
  readonly hs256IssuedBy: number;
};

/** See `ResolvedOptions.hs256IssuedBy`: when the move from HS256 to signing keys stops taking new HS256 tokens. */
function hs256IssuedBy(o: Omit<ResolvedOptions, 'hs256IssuedBy'>): number {
  if (o.signingKeys.length === 0) return Number.POSITIVE_INFINITY;
  return o.acceptLegacyHs256 ? Math.floor(o.now().getTime() / 1000) : Number.NEGATIVE_INFINITY;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set(Object.keys(RESOLVERS));

/** Validates `options`, applies every default once and freezes the result. Throws TypeError on misuse. */
export function resolveOptions(options: AuthManagerOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('express-authlib: options must be an object, e.g. { dbDsn, jwtSecret }');
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) throw misuse(name, 'is not a known option; check its spelling against the options reference (docs/reference/options.md)');
  }
  const resolved: Record<string, unknown> = {};
  for (const [name, resolve] of Object.entries(RESOLVERS) as Array<[keyof AuthManagerOptions, (value: unknown, all: AuthManagerOptions) => unknown]>) {
    resolved[name === 'jwtSecret' ? 'keys' : name] = resolve(options[name], options);
  }
  const o = resolved as Omit<ResolvedOptions, 'hs256IssuedBy'>;

  // Rules that span options.
  if (o.dbDsn === undefined && o.db === undefined) {
    throw misuse('dbDsn', "is required (or pass `db`); e.g. 'pglite://./.authlib' or 'postgresql://user:pass@host/db'");
  }
  if (o.dbDsn !== undefined && o.db !== undefined) throw misuse('db', 'cannot be combined with `dbDsn`; pass one of them');
  for (const r of [...o.defaultRoles, o.adminRole]) {
    if (!o.roles.includes(r)) throw misuse(r === o.adminRole ? 'adminRole' : 'defaultRoles', `names role '${r}', which is not in \`roles\``);
  }
  if (o.jwksAtRoot && o.signingKeys.length === 0) throw misuse('jwksAtRoot', 'needs `signingKeys`: without them there are no public keys to serve');
  if (!o.acceptLegacyHs256 && o.signingKeys.length === 0)
    throw misuse('acceptLegacyHs256', 'can be false only with `signingKeys`: without them access tokens are signed with HS256');
  if (o.newDeviceNotice && o.mailer === undefined) throw misuse('newDeviceNotice', 'needs a `mailer` to send the notice with');
  if (Object.keys(o.oauthConfig).length > 0 && o.publicUrl === undefined) {
    throw misuse('publicUrl', 'is required when `oauthConfig` names a provider: the external base URL, e.g. https://app.example.com');
  }
  return Object.freeze({ ...o, hs256IssuedBy: hs256IssuedBy(o) });
}
