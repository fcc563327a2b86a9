import type { Transaction } from 'kysely';
import * as z from 'zod';
import type { Database } from '../db/schema.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { isForeignKeyViolation, isUniqueViolation } from '../db/unavailable.js';
import { missingRoles } from '../db/roles-repository.js';
import { bumpTokenVersion, findUserById, findUserByIdentifier, identityKey, insertUser, replaceRoles } from '../db/users-repository.js';
import { revokeAllForUser } from '../db/refresh-tokens-repository.js';
import { toPublicUser, type User } from '../public-user.js';
import { checkPassword } from '../passwords/policy.js';
import * as v from '../validation.js';
import type { ServiceContext } from './context.js';
import { lockUserKeepingAnAdmin } from './last-admin.js';
import { auditRevokedKeys, revokeKeysWithoutStanding } from './service-key-standing.js';

/** Input of `auth.users.create`. */
export interface CreateUserInput {
  username: string;
  email?: string | null;
  /** Omit for an account that signs in only by other means (OAuth, API token). */
  password?: string;
  roles?: string[];
  real_name?: string;
  profile?: Record<string, unknown>;
  email_verified?: boolean;
  /** Default true; false creates a disabled account. */
  is_active?: boolean;
}

export const createSchema = v.lazySchema(() =>
  z.object({
    username: v.username(),
    email: v.email().nullish(),
    password: v.password().optional(),
    roles: v.roleNames().optional(),
    real_name: v.realName().optional(),
    profile: v.profile().optional(),
    email_verified: z.boolean().optional(),
    is_active: z.boolean().optional(),
  }),
);

/** A conflict on a unique key named by its constraint; anything else as it is. */
export function asConflict(err: unknown): unknown {
  return isUniqueViolation(err) ? new ConflictError(conflictMessage(err), { cause: err }) : err;
}

/** Roles that are not there: refused before the write, or found gone by the write (deleted meanwhile). */
export async function requireRoles(db: Parameters<typeof missingRoles>[0], roles: readonly string[]): Promise<void> {
  const unknown = await missingRoles(db, roles);
  if (unknown.length > 0) throw new ValidationError({ roles: `unknown role(s): ${unknown.join(', ')}` });
}

/** A grant whose role was deleted between the check and the write. */
export function asUnknownRole(err: unknown): unknown {
  return isForeignKeyViolation(err) ? new ValidationError({ roles: 'names a role that no longer exists' }) : err;
}

function conflictMessage(err: unknown): string {
  const { constraint, message } = err as { constraint?: unknown; message?: unknown };
  const named = typeof constraint === 'string' ? constraint : typeof message === 'string' ? message : '';
  if (named.includes('email')) return 'email is already taken';
  if (named.includes('username')) return 'username is already taken';
  return 'username or email is already taken';
}

/** User management: `auth.users`. Same rules as the HTTP endpoints. */
export class UserService {
  /** With the password policy of the options; built on the first user created, as every schema is. */
  readonly #schema = v.lazySchema(() => createSchema().extend({ password: v.policyPassword(this.ctx.opts.passwordPolicy).optional() }));

  constructor(private readonly ctx: ServiceContext) {}

  /** Creates a user; 400 on invalid input or unknown role, 409 when username or email is taken. */
  async create(input: CreateUserInput): Promise<User> {
    return (await this.createWith(input, async () => undefined)).user;
  }

  /**
   * Creates a user and runs `then` in the same transaction (registration starts the first login
   * there), so a failure in either leaves nothing behind and the client's retry does not get 409.
   */
  async createWith<T>(input: CreateUserInput, then: (trx: Transaction<Database>, userId: string) => Promise<T>): Promise<{ user: User; result: T }> {
    const data = v.parseInput(this.#schema(), input);
    // Not the username or email (the other rules were checked with the fields).
    if (data.password !== undefined) checkPassword(data.password, this.ctx.opts.passwordPolicy, data);
    const roles = [...new Set(data.roles ?? this.ctx.opts.defaultRoles)];
    const passwordHash = data.password === undefined ? null : await this.ctx.hasher.hash(data.password);
    return this.ctx.database.run(async (db) => {
      await requireRoles(db, roles);
      const now = this.ctx.opts.now();
      let created: { id: string; result: T };
      try {
        created = await db.transaction().execute(async (trx) => {
          const id = await insertUser(
            trx,
            {
              username: data.username,
              username_key: identityKey(data.username),
              email: data.email ?? null,
              email_key: data.email ? identityKey(data.email) : null,
              password_hash: passwordHash,
              real_name: data.real_name ?? null,
              profile: JSON.stringify(data.profile ?? {}),
              email_verified: data.email_verified ?? false,
              // A self-registration has proven nothing; an address an administrator (or the app) marks
              // verified is vouched for by them, and an account without one holds nobody's.
              owner_proven: data.email ? (data.email_verified ?? false) : true,
              is_active: data.is_active ?? true,
              created_at: now,
              updated_at: now,
            },
            roles,
          );
          return { id, result: await then(trx, id) };
        });
      } catch (err) {
        throw asUnknownRole(asConflict(err));
      }
      return { user: toPublicUser((await findUserById(db, created.id))!), result: created.result };
    });
  }

  async findById(id: string): Promise<User | undefined> {
    const row = await this.ctx.database.run((db) => findUserById(db, id));
    return row && toPublicUser(row);
  }

  /** By username or email, case-insensitively. */
  async findByIdentifier(usernameOrEmail: string): Promise<User | undefined> {
    if (typeof usernameOrEmail !== 'string' || usernameOrEmail.length > 320) return undefined;
    const row = await this.ctx.database.run((db) => findUserByIdentifier(db, usernameOrEmail));
    return row && toPublicUser(row);
  }

  /**
   * Replaces the user's roles; the user's existing access tokens stop working (they name the old
   * roles). The last active holder of `adminRole` cannot lose it (409).
   */
  async setRoles(id: string, roles: string[]): Promise<User> {
    const wanted = [...new Set(v.parseInput(v.roleNames(), roles))];
    const { row, revoked } = await this.ctx.database.run(async (db) => {
      await requireRoles(db, wanted);
      const lost = await this.ctx.revocation
        .commit(db, { user: id }, async (trx) => {
          if (!(await lockUserKeepingAnAdmin(trx, this.ctx.opts.adminRole, id, { roles: wanted }))) throw new NotFoundError('user not found');
          await replaceRoles(trx, id, wanted, this.ctx.opts.now());
          return revokeKeysWithoutStanding(trx, this.ctx.opts.adminRole, { creatorId: id });
        })
        .catch((err: unknown) => {
          throw asUnknownRole(err);
        });
      return { row: (await findUserById(db, id))!, revoked: lost };
    });
    await this.ctx.audit.record('role_change', { userId: id, data: { roles: row.roles } });
    await auditRevokedKeys(this.ctx.audit, revoked, 'creator_demoted');
    return toPublicUser(row);
  }

  /**
   * Enables or disables a user; disabling ends every session and token of theirs at once. The last
   * active holder of `adminRole` cannot be disabled (409).
   */
  async setActive(id: string, active: boolean): Promise<User> {
    if (typeof active !== 'boolean') throw new TypeError('setActive(id, active): active must be a boolean');
    const { row, revoked } = await this.ctx.database.run(async (db) => {
      const now = this.ctx.opts.now();
      const lost = await this.ctx.revocation.commit(db, { user: id }, async (trx) => {
        if (!(await lockUserKeepingAnAdmin(trx, this.ctx.opts.adminRole, id, { active }))) throw new NotFoundError('user not found');
        await bumpTokenVersion(trx, id, now, { is_active: active });
        if (!active) await revokeAllForUser(trx, id, now);
        // Disabling ends the service keys they minted (re-enabling does not bring them back).
        return active ? [] : revokeKeysWithoutStanding(trx, this.ctx.opts.adminRole, { creatorId: id });
      });
      return { row: (await findUserById(db, id))!, revoked: lost };
    });
    await this.ctx.audit.record(active ? 'user_enabled' : 'user_disabled', { userId: id });
    await auditRevokedKeys(this.ctx.audit, revoked, 'creator_disabled');
    return toPublicUser(row);
  }

  /**
   * Sets a new password without asking for the current one (an administrator's or the CLI's
   * `user passwd`); every login and token of the user ends, as after a password change.
   */
  async setPassword(id: string, password: string): Promise<void> {
    const data = v.parseInput(z.object({ password: v.policyPassword(this.ctx.opts.passwordPolicy) }), { password });
    const user = await this.ctx.database.run((db) => findUserById(db, id));
    if (user) checkPassword(data.password, this.ctx.opts.passwordPolicy, user);
    const hash = await this.ctx.hasher.hash(data.password);
    await this.ctx.database.run((db) => {
      const now = this.ctx.opts.now();
      return this.ctx.revocation.commit(db, { user: id }, async (trx) => {
        if (!(await bumpTokenVersion(trx, id, now, { password_hash: hash }))) throw new NotFoundError('user not found');
        await revokeAllForUser(trx, id, now);
      });
    });
    await this.ctx.audit.record('password_change', { userId: id, data: { by: 'administrator' } });
  }
}
