import { createSecretKey, createHash, type KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from './logger.js';
import { isAbsoluteHttpUrl, isLoopbackUrl } from './oauth/redirects.js';
import type { Mailer } from './mailer.js';
import type { PasswordHasher } from './passwords/hasher.js';
import type { RateLimitOptions } from './security/rate-limit.js';
import type { AuthEvent } from './security/audit.js';

/** Something that can be handed over as `db`: a Kysely instance, a node-postgres Pool, or a PGlite instance. */
export type DatabaseHandle = Kysely<any> | { connect(): Promise<unknown>; query: unknown; end(): Promise<void> } | { exec(sql: string): Promise<unknown>; query: unknown; close(): Promise<void> };

/** A JWT signing secret: a string or Buffer of at least 32 bytes. */
export type JwtSecret = string | Buffer;

/**
 * Configuration of one OAuth provider: `google` / `github` with their credentials, any OpenID
 * Connect provider by `issuer` (discovered through openid-client), or any passport `strategy`.
 */
export interface OAuthProviderConfig {
  /** OpenID Connect issuer URL, e.g. 'https://login.microsoftonline.com/<tenant>/v2.0'; discovered at start-up. */
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  /** Scopes to ask for. @default google and OIDC: ['openid', 'email', 'profile']; github: ['read:user', 'user:email'] */
  scope?: string[];
  authorizationURL?: string;
  tokenURL?: string;
  userProfileURL?: string;
  userEmailURL?: string;
  /** Any passport strategy instance (passport-oauth2, passport-openidconnect, openid-client/passport ...). */
  strategy?: unknown;
}

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
  /** Roles that exist. @default ['admin', 'user'] */
  roles?: string[];
  /** Roles of a newly registered user. @default ['user'] */
  defaultRoles?: string[];
  /** Role that may manage other users and their tokens. @default 'admin' */
  adminRole?: string;
  /** Whether `POST /register` is open to the public. @default true */
  allowRegistration?: boolean;
  /** bcrypt cost. @default 12 */
  bcryptRounds?: number;
  /** Whether `X-Forwarded-For` is believed: false, true, a hop count, or proxy addresses/subnets. @default false */
  trustProxy?: boolean | number | string | string[];
  /** Rate limits for login/register/refresh, kept in the database; `false` turns them off. @default on */
  rateLimit?: false | RateLimitOptions;
  /** Sends OTP/reset/verification mail. @default logs a redacted line */
  mailer?: Mailer;
  /** pino-compatible logger; never receives a password, token or secret. @default silent */
  logger?: Logger;
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
export const DEFAULT_ALLOW_REGISTRATION = true;
export const DEFAULT_BCRYPT_ROUNDS = 12;
export const DEFAULT_TRUST_PROXY = false;
/** HMAC keys shorter than the hash output weaken HS256; RFC 7518 3.2 asks for >= 256 bits. */
export const MIN_SECRET_BYTES = 32;

const KNOWN_OPTIONS = new Set<string>([
  'dbDsn', 'db', 'listenDsn', 'dbSchema', 'autoMigrate', 'jwtSecret', 'issuer', 'audience', 'tokenExpiry',
  'refreshTokenExpiry', 'refreshGraceSeconds', 'oauthConfig', 'basePath', 'publicUrl',
  'oauthAutoCreate', 'encryptionKey', 'oauthRedirect', 'allowedRedirects', 'roles', 'defaultRoles',
  'adminRole', 'allowRegistration', 'bcryptRounds', 'trustProxy', 'rateLimit', 'mailer', 'logger',
  'hasher', 'onEvent', 'now',
]);

/** One signing/verifying key, built once: jsonwebtoken re-parses a string secret on every call. */
export interface SigningKey {
  kid: string;
  key: KeyObject;
}

/** Options after validation and defaulting; frozen, handed to every module. */
export interface ResolvedOptions {
  dbDsn: string | undefined;
  db: DatabaseHandle | undefined;
  listenDsn: string | undefined;
  dbSchema: string;
  autoMigrate: boolean;
  /** First key signs; every key verifies. */
  keys: readonly SigningKey[];
  issuer: string;
  audience: string;
  tokenExpiry: number;
  refreshTokenExpiry: number;
  refreshGraceSeconds: number;
  oauthConfig: Readonly<Record<string, OAuthProviderConfig>>;
  basePath: string;
  publicUrl: string | undefined;
  oauthAutoCreate: boolean;
  encryptionKey: Buffer;
  oauthRedirect: string | undefined;
  allowedRedirects: readonly string[];
  roles: readonly string[];
  defaultRoles: readonly string[];
  adminRole: string;
  allowRegistration: boolean;
  bcryptRounds: number;
  trustProxy: boolean | number | string | string[];
  rateLimit: false | RateLimitOptions;
  mailer: Mailer | undefined;
  logger: Logger | undefined;
  hasher: PasswordHasher | undefined;
  onEvent: ((event: AuthEvent) => void | Promise<void>) | undefined;
  now: () => Date;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const ROLE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

function misuse(option: string, problem: string): TypeError {
  return new TypeError(`express-authlib: option \`${option}\` ${problem}`);
}

function toKeyBytes(secret: unknown, option: string): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.isBuffer(secret) ? secret : undefined;
  if (!bytes) throw misuse(option, 'must be a string or Buffer (or an array of them)');
  if (bytes.length < MIN_SECRET_BYTES) {
    throw misuse(option, `must be at least ${MIN_SECRET_BYTES} bytes; generate one with \`npx authlib secret\``);
  }
  return bytes;
}

function positiveInt(value: unknown, option: string, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw misuse(option, `must be an integer >= ${min} (got ${String(value)})`);
  }
  return v;
}

function bool(value: unknown, option: string, fallback: boolean): boolean {
  const v = value ?? fallback;
  if (typeof v !== 'boolean') throw misuse(option, 'must be true or false');
  return v;
}

function str(value: unknown, option: string, fallback: string): string {
  const v = value ?? fallback;
  if (typeof v !== 'string' || v.length === 0) throw misuse(option, 'must be a non-empty string');
  return v;
}

function roleList(value: unknown, option: string, fallback: readonly string[]): string[] {
  const v = value ?? fallback;
  if (!Array.isArray(v) || v.some((r) => typeof r !== 'string' || !ROLE_NAME.test(r))) {
    throw misuse(option, 'must be an array of role names (letters, digits, _ . : -, at most 64 characters)');
  }
  return [...new Set(v as string[])];
}

/** kid: a short fingerprint of the key, so rotation needs no configuration beyond the key list. */
function keyId(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 12);
}

function checkDsn(dsn: unknown): string | undefined {
  if (dsn === undefined) return undefined;
  if (typeof dsn !== 'string' || !/^(postgres|postgresql|pglite):\/\/./.test(dsn)) {
    throw misuse('dbDsn', "must start with 'postgres://', 'postgresql://' or 'pglite://' (e.g. 'pglite://memory' or 'pglite://./.authlib')");
  }
  return dsn;
}

const PROVIDER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks every `oauthConfig` entry's shape, naming the option and the fix; returns frozen copies. */
function checkOAuthConfig(value: unknown): Readonly<Record<string, OAuthProviderConfig>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw misuse('oauthConfig', 'must be an object keyed by provider name');
  const out: Record<string, OAuthProviderConfig> = {};
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    const option = `oauthConfig.${name}`;
    if (!PROVIDER_NAME.test(name)) throw misuse(option, 'must be named with letters, digits, _ or - (at most 64)');
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw misuse(option, 'must be an object');
    const c = entry as OAuthProviderConfig;
    if (c.scope !== undefined && (!Array.isArray(c.scope) || c.scope.some((s) => typeof s !== 'string' || s === '' || /\s/.test(s)))) {
      throw misuse(`${option}.scope`, "must be an array of scope names, e.g. ['openid', 'email']");
    }
    if (c.strategy !== undefined) {
      if (typeof (c.strategy as { authenticate?: unknown })?.authenticate !== 'function') throw misuse(`${option}.strategy`, 'must be a passport strategy instance');
      if (c.issuer !== undefined) throw misuse(option, 'takes either `issuer` (OpenID Connect) or `strategy` (passport), not both');
      out[name] = Object.freeze({ ...c });
      continue;
    }
    if (c.issuer === undefined && name !== 'google' && name !== 'github') {
      throw misuse(option, "is not a built-in provider (google, github): give { issuer, clientId, clientSecret } for an OpenID Connect provider, or { strategy: new SomePassportStrategy(...) }");
    }
    for (const key of ['clientId', 'clientSecret'] as const) {
      if (typeof c[key] !== 'string' || c[key] === '') throw misuse(`${option}.${key}`, "must be a non-empty string from the provider's developer console");
    }
    if (c.issuer !== undefined) {
      let issuer: URL | undefined;
      try {
        issuer = typeof c.issuer === 'string' ? new URL(c.issuer) : undefined;
      } catch {
        issuer = undefined;
      }
      if (!issuer || !(issuer.protocol === 'https:' || (issuer.protocol === 'http:' && isLoopbackUrl(issuer))) || issuer.username || issuer.password || issuer.search || issuer.hash) {
        throw misuse(`${option}.issuer`, "must be the provider's https issuer URL, e.g. 'https://accounts.example.com' (plain http only on 127.0.0.1 / localhost)");
      }
    }
    for (const key of ['authorizationURL', 'tokenURL', 'userProfileURL', 'userEmailURL'] as const) {
      if (c[key] !== undefined && !isAbsoluteHttpUrl(c[key])) throw misuse(`${option}.${key}`, 'must be an absolute http(s) URL');
    }
    out[name] = Object.freeze({ ...c });
  }
  return Object.freeze(out);
}

/** Validates `options`, applies every default once and freezes the result. Throws TypeError on misuse. */
export function resolveOptions(options: AuthManagerOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('express-authlib: options must be an object, e.g. { dbDsn, jwtSecret }');
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) throw misuse(name, 'is not a known option; check its spelling against the README');
  }

  const dbDsn = checkDsn(options.dbDsn);
  if (dbDsn === undefined && options.db === undefined) {
    throw misuse('dbDsn', "is required (or pass `db`); e.g. 'pglite://./.authlib' or 'postgresql://user:pass@host/db'");
  }
  if (dbDsn !== undefined && options.db !== undefined) throw misuse('db', 'cannot be combined with `dbDsn`; pass one of them');

  const dbSchema = str(options.dbSchema, 'dbSchema', DEFAULT_DB_SCHEMA);
  if (!IDENTIFIER.test(dbSchema)) throw misuse('dbSchema', 'must be a plain SQL identifier (letters, digits, underscore)');

  if (options.jwtSecret === undefined) {
    throw misuse('jwtSecret', 'is required: a string of at least 32 bytes; generate one with `npx authlib secret`');
  }
  const secrets = Array.isArray(options.jwtSecret) ? options.jwtSecret : [options.jwtSecret];
  if (secrets.length === 0) throw misuse('jwtSecret', 'must hold at least one secret');
  const keyBytes = secrets.map((s, i) => toKeyBytes(s, secrets.length > 1 ? `jwtSecret[${i}]` : 'jwtSecret'));
  const keys = keyBytes.map((bytes) => Object.freeze({ kid: keyId(bytes), key: createSecretKey(bytes) }));

  const roles = roleList(options.roles, 'roles', DEFAULT_ROLES);
  const defaultRoles = roleList(options.defaultRoles, 'defaultRoles', DEFAULT_DEFAULT_ROLES);
  const adminRole = str(options.adminRole, 'adminRole', DEFAULT_ADMIN_ROLE);
  for (const r of [...defaultRoles, adminRole]) {
    if (!roles.includes(r)) throw misuse(r === adminRole ? 'adminRole' : 'defaultRoles', `names role '${r}', which is not in \`roles\``);
  }

  let basePath = str(options.basePath, 'basePath', DEFAULT_BASE_PATH);
  if (!basePath.startsWith('/')) throw misuse('basePath', "must start with '/'");
  basePath = basePath.replace(/\/+$/, '') || '/';

  const oauthConfig = checkOAuthConfig(options.oauthConfig ?? {});
  const publicUrl = options.publicUrl === undefined ? undefined : str(options.publicUrl, 'publicUrl', '');
  if (Object.keys(oauthConfig).length > 0 && publicUrl === undefined) {
    throw misuse('publicUrl', 'is required when `oauthConfig` names a provider: the external base URL, e.g. https://app.example.com');
  }

  let encryptionKey: Buffer;
  if (options.encryptionKey === undefined) {
    // Domain-separated from the signing use of the same secret.
    encryptionKey = createHash('sha256').update('express-authlib encryption key\0').update(keyBytes[0]!).digest();
  } else {
    const raw = options.encryptionKey;
    encryptionKey = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw), /^[0-9a-f]{64}$/i.test(String(raw)) ? 'hex' : 'base64');
    if (encryptionKey.length !== 32) throw misuse('encryptionKey', 'must be 32 bytes (a Buffer, 64 hex characters or base64)');
  }

  if (publicUrl !== undefined && !isAbsoluteHttpUrl(publicUrl)) throw misuse('publicUrl', 'must be an absolute http(s) URL, e.g. https://app.example.com');
  if (options.oauthRedirect !== undefined && !isAbsoluteHttpUrl(options.oauthRedirect)) {
    throw misuse('oauthRedirect', 'must be an absolute http(s) URL of your front end, e.g. https://app.example.com/auth/done');
  }
  const allowedRedirects = options.allowedRedirects ?? [];
  if (!Array.isArray(allowedRedirects) || allowedRedirects.some((u) => !isAbsoluteHttpUrl(u))) {
    throw misuse('allowedRedirects', 'must be an array of absolute http(s) URLs (an origin, or an origin plus a path prefix)');
  }

  const rateLimit = options.rateLimit ?? {};
  if (rateLimit !== false && (typeof rateLimit !== 'object' || rateLimit === null)) {
    throw misuse('rateLimit', 'must be false or an object of limits');
  }

  const trustProxy = options.trustProxy ?? DEFAULT_TRUST_PROXY;
  if (!['boolean', 'number', 'string'].includes(typeof trustProxy) && !Array.isArray(trustProxy)) {
    throw misuse('trustProxy', 'must be a boolean, a hop count, or proxy addresses');
  }

  const now = options.now ?? (() => new Date());
  if (typeof now !== 'function') throw misuse('now', 'must be a function returning a Date');

  return Object.freeze({
    dbDsn,
    db: options.db,
    listenDsn: (() => {
      const v = options.listenDsn;
      if (v !== undefined && (typeof v !== 'string' || !/^postgres(ql)?:\/\/./.test(v))) throw misuse('listenDsn', "must be a 'postgres://' or 'postgresql://' URL");
      return v;
    })(),
    dbSchema,
    autoMigrate: bool(options.autoMigrate, 'autoMigrate', DEFAULT_AUTO_MIGRATE),
    keys: Object.freeze(keys),
    issuer: str(options.issuer, 'issuer', DEFAULT_ISSUER),
    audience: str(options.audience, 'audience', DEFAULT_AUDIENCE),
    tokenExpiry: positiveInt(options.tokenExpiry, 'tokenExpiry', DEFAULT_TOKEN_EXPIRY),
    refreshTokenExpiry: positiveInt(options.refreshTokenExpiry, 'refreshTokenExpiry', DEFAULT_REFRESH_TOKEN_EXPIRY),
    refreshGraceSeconds: positiveInt(options.refreshGraceSeconds, 'refreshGraceSeconds', DEFAULT_REFRESH_GRACE_SECONDS, 0),
    oauthConfig,
    basePath,
    publicUrl,
    oauthAutoCreate: bool(options.oauthAutoCreate, 'oauthAutoCreate', DEFAULT_OAUTH_AUTO_CREATE),
    encryptionKey,
    oauthRedirect: options.oauthRedirect,
    allowedRedirects: Object.freeze([...allowedRedirects]),
    roles: Object.freeze(roles),
    defaultRoles: Object.freeze(defaultRoles),
    adminRole,
    allowRegistration: bool(options.allowRegistration, 'allowRegistration', DEFAULT_ALLOW_REGISTRATION),
    bcryptRounds: (() => {
      const r = positiveInt(options.bcryptRounds, 'bcryptRounds', DEFAULT_BCRYPT_ROUNDS, 4);
      if (r > 31) throw misuse('bcryptRounds', 'must be between 4 and 31');
      return r;
    })(),
    trustProxy,
    rateLimit,
    mailer: options.mailer,
    logger: options.logger,
    hasher: options.hasher,
    onEvent: (() => {
      if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw misuse('onEvent', 'must be a function (event) => void');
      return options.onEvent;
    })(),
    now,
  });
}
