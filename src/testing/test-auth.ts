import { randomBytes } from 'node:crypto';
import { AuthManager, type MountTarget } from '../auth-manager.js';
import { DEFAULT_ROLES, resolveOptions, type AuthManagerOptions } from '../options.js';
import type { User } from '../public-user.js';
import { TestClock } from './test-clock.js';
import { leaseSchema, type SchemaLease } from './test-database.js';
import { testHasher } from './test-hasher.js';

/** Options of `createTestAuth`: any AuthManager option except where the data lives and the clock, which the helper owns. */
export type TestAuthOptions = Omit<Partial<AuthManagerOptions>, 'dbDsn' | 'db' | 'dbSchema' | 'listenDsn' | 'autoMigrate' | 'now'>;

/** A group membership for `loginAs`: a group's slug or id (created when no group has that slug), and the roles inside it. */
export type GroupSpec = string | { group: string; roles?: string[] };

/** A user for `loginAs` / `apiTokenFor` to create: every field optional; unique names are made up. */
export interface UserSpec {
  /** Held roles; a role that does not exist yet is created. @default the `defaultRoles` option */
  roles?: string[];
  /** @default `user<n>_<random>` */
  username?: string;
  /** @default `<username>@example.test` */
  email?: string;
  /** Without one the account has no password (nothing is hashed). */
  password?: string;
  real_name?: string;
  profile?: Record<string, unknown>;
  /** @default true */
  email_verified?: boolean;
  /** Memberships to add, e.g. `['acme']` or `[{ group: 'acme', roles: ['admin'] }]`. */
  groups?: GroupSpec[];
}

/** Whom `loginAs` signs in: an existing user (object or id) or a spec of one to create. */
export type LoginSubject = User | { id: string } | string | UserSpec;

/** What `loginAs` answers: headers ready for supertest's `.set(...)` or fetch, the tokens, the user. */
export interface TestLogin {
  headers: { authorization: string };
  token: string;
  refresh_token: string;
  user: User;
}

/** What `apiTokenFor` answers; `token` is the `api_...` secret. */
export interface TestApiToken {
  headers: { authorization: string };
  token: string;
  id: string;
  scopes: string[];
  user: User;
}

/** A fixed strong secret per process (per module graph): tokens of one test run mean nothing elsewhere. */
const PROCESS_SECRET = randomBytes(32).toString('base64url');
const OWNED = ['dbDsn', 'db', 'dbSchema', 'listenDsn', 'autoMigrate', 'now'] as const;
let usernames = 0;

const misuse = (message: string) => new TypeError(`express-authlib/testing: ${message}`);

/** Checks what the caller passed (so a TypeError leaves nothing leased), then leases a schema. */
function prepare(app: MountTarget | null, overrides: TestAuthOptions): { options: AuthManagerOptions; clock: TestClock; lease: SchemaLease } {
  if (overrides === null || typeof overrides !== 'object') throw misuse('createTestAuth(app, overrides): overrides must be an object of AuthManager options');
  if (app !== null && typeof (app as Partial<MountTarget>)?.use !== 'function') {
    throw misuse('createTestAuth(app): app must be an Express or Connect app (with use()), or null to mount auth.router yourself');
  }
  for (const name of OWNED) {
    if (name in overrides) {
      throw misuse(
        name === 'now'
          ? 'the `now` option is owned by the helper; move time with auth.clock.advance(seconds) or auth.clock.set(date)'
          : `\`${name}\` is owned by the helper (an in-memory PGlite, a schema per instance); for another database use new AuthManager(...) directly`,
      );
    }
  }
  const clock = new TestClock();
  // Without bcryptRounds or a hasher of the test's own: the test hasher (no bcrypt, no worker threads).
  const hashing = overrides.hasher !== undefined || overrides.bcryptRounds !== undefined ? {} : { hasher: testHasher };
  const base = {
    rateLimit: false as const,
    logger: false as const,
    ...hashing,
    ...overrides,
    jwtSecret: overrides.jwtSecret ?? PROCESS_SECRET,
    now: clock.now,
  };
  // The AuthManager's own checks, run before anything is leased.
  resolveOptions({ ...base, dbDsn: 'pglite://memory' });
  const lease = leaseSchema();
  return { options: { ...base, db: lease.pglite, dbSchema: lease.schema }, clock, lease };
}

/**
 * An AuthManager for tests: in-memory PGlite shared with the process's other test instances (each
 * in a schema of its own), no rate limits, a cheap hasher, a controllable clock, and helpers that
 * sign users in. Built by `createTestAuth`.
 */
export class TestAuth extends AuthManager {
  /** The instance's clock: `advance(seconds)`, `set(date)`, `reset()`. */
  readonly clock: TestClock;
  /** The schema holding this instance's tables on the shared PGlite. */
  readonly schema: string;
  /** The signing secret in use (random per process unless `jwtSecret` was given). */
  readonly jwtSecret: AuthManagerOptions['jwtSecret'];
  readonly #lease: SchemaLease;
  readonly #roles: readonly string[];
  #closing: Promise<void> | undefined;

  /** Use `createTestAuth`, which also waits for `ready`. */
  constructor(app: MountTarget | null, overrides: TestAuthOptions = {}) {
    const setup = prepare(app, overrides);
    super(app, setup.options);
    this.clock = setup.clock;
    this.schema = setup.lease.schema;
    this.jwtSecret = setup.options.jwtSecret;
    this.#lease = setup.lease;
    this.#roles = overrides.roles ?? DEFAULT_ROLES;
  }

  /**
   * Empties every table (users, tokens, groups, events...), restores the configured roles, drops
   * the instance's cached users and API tokens, and puts the clock back to real time. Waits for
   * work that finished requests left running (mail, links issued after the answer) first. Call it
   * between tests, once their requests have been answered.
   */
  async reset(): Promise<void> {
    this.#open('reset');
    // Work a finished request left running (a reset link issued after the answer, its mail) would
    // otherwise write into the next test.
    await this.backgroundSettled();
    this.clock.reset();
    await this.#lease.empty(this.#roles);
  }

  /** Signs a user in through `issueTokens`: real tokens that pass `requireAuth`. Creates the user when given a spec. */
  async loginAs(who: LoginSubject = {}): Promise<TestLogin> {
    this.#open('loginAs');
    const user = await this.#userFor(who, 'loginAs');
    const { token, refresh_token } = await this.issueTokens(user.id);
    return { headers: { authorization: `Bearer ${token}` }, token, refresh_token, user };
  }

  /** An API token (`api_...`) for a user (existing, or created from a spec), with `scopes`. */
  async apiTokenFor(who: LoginSubject = {}, options: { scopes?: string[]; name?: string; expiresInDays?: number } = {}): Promise<TestApiToken> {
    this.#open('apiTokenFor');
    const user = await this.#userFor(who, 'apiTokenFor');
    const created = await this.apiTokens.create(user.id, { name: options.name ?? 'test', scopes: options.scopes ?? [], expiresInDays: options.expiresInDays });
    return { headers: { authorization: `Bearer ${created.token}` }, token: created.token, id: created.id, scopes: created.scopes, user };
  }

  /** Closes the instance and gives its schema back (emptied) for the next one; the last one closes the shared PGlite. */
  override close(): Promise<void> {
    this.#closing ??= super.close().finally(() => this.#lease.release());
    return this.#closing;
  }

  #open(method: string): void {
    if (this.#closing) throw misuse(`${method}() after close(): create a new instance with createTestAuth()`);
  }

  async #userFor(who: LoginSubject, method: string): Promise<User> {
    if (typeof who === 'string') return this.#existing(who, method);
    if (who === null || typeof who !== 'object' || Array.isArray(who)) {
      throw misuse(`${method}(who): pass a user (object or id) or a spec such as { roles: ['admin'] }`);
    }
    if ('id' in who && typeof who.id === 'string') return this.#existing(who.id, method);
    return this.#create(who as UserSpec);
  }

  async #existing(id: string, method: string): Promise<User> {
    const user = await this.users.findById(id);
    if (!user) throw misuse(`${method}(user): no user has id ${JSON.stringify(id)}; pass a spec such as { roles: ['admin'] } to create one`);
    return user;
  }

  async #create(spec: UserSpec): Promise<User> {
    usernames += 1;
    const username = spec.username ?? `user${usernames}_${randomBytes(3).toString('hex')}`;
    if (spec.roles) await this.#ensureRoles(spec.roles);
    const user = await this.users.create({
      username,
      email: spec.email ?? `${username}@example.test`,
      ...(spec.password !== undefined ? { password: spec.password } : {}),
      ...(spec.roles ? { roles: spec.roles } : {}),
      ...(spec.real_name !== undefined ? { real_name: spec.real_name } : {}),
      ...(spec.profile ? { profile: spec.profile } : {}),
      email_verified: spec.email_verified ?? true,
    });
    for (const membership of spec.groups ?? []) {
      const { group, roles } = typeof membership === 'string' ? { group: membership, roles: undefined } : membership;
      const found = (await this.groups.resolve(group)) ?? (await this.groups.create({ name: group, slug: group }));
      await this.groups.addMember(found.id, { user_id: user.id, ...(roles ? { roles } : {}) });
    }
    return user;
  }

  async #ensureRoles(roles: string[]): Promise<void> {
    const known = new Set((await this.roles.list()).map((r) => r.name));
    for (const role of roles) if (!known.has(role)) await this.roles.create(role);
  }
}

/**
 * An AuthManager for a host app's tests, started: `await createTestAuth(app)` (or `null` to mount
 * `auth.router` yourself). `overrides` are AuthManager options (`roles`, `tokenExpiry`,
 * `permissions`, `rateLimit`...), except the database and the clock, which the helper owns.
 */
export async function createTestAuth(app: MountTarget | null, overrides: TestAuthOptions = {}): Promise<TestAuth> {
  const auth = new TestAuth(app, overrides);
  try {
    await auth.ready;
  } catch (err) {
    await auth.close();
    throw err;
  }
  return auth;
}
