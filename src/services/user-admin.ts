import * as z from 'zod';
import { ConflictError, NotFoundError, UnprovenCredentialsError } from '../errors.js';
import { listOAuthAccounts } from '../db/oauth-repository.js';
import { revokeAllForUser } from '../db/refresh-tokens-repository.js';
import {
  bumpTokenVersion,
  deleteUser,
  findUserById,
  identityKey,
  listUsers,
  lockUser,
  replaceRoles,
  updateUserFields,
  type UserFields,
  type UserRecord,
} from '../db/users-repository.js';
import { retireOneTimeTokens } from '../db/one-time-tokens-repository.js';
import { toPublicUser, type User } from '../public-user.js';
import type { EventOrigin } from '../security/audit.js';
import * as v from '../validation.js';
import { checkPassword } from '../passwords/policy.js';
import type { ServiceContext } from './context.js';
import type { Identity, IdentityService } from './identities.js';
import { lockUserKeepingAnAdmin } from './last-admin.js';
import { auditRevokedKeys, revokeKeysWithoutStanding } from './service-key-standing.js';
import { mintedServiceKeys } from '../db/api-tokens-repository.js';
import { asConflict, asUnknownRole, requireRoles, type CreateUserInput, type UserService } from './users.js';

/** Largest page of `auth.users.list` and `GET /admin/users`. */
export const MAX_USER_PAGE = 100;
/** Page size when none is asked for. */
export const DEFAULT_USER_PAGE = 20;

/** Input of `auth.users.list`. */
export interface ListUsersInput {
  /** Substring of the username or email, case-insensitive; `%`, `_` and `\` are literal. */
  search?: string | undefined;
  /** Only holders of this role. */
  role?: string | undefined;
  /** 1-100, default 20. */
  limit?: number | undefined;
  /** Default 0. */
  offset?: number | undefined;
}

/** One page of users, newest first. */
export interface UserPage {
  users: User[];
  total: number;
  limit: number;
  offset: number;
}

/** Input of `auth.users.update`: every field optional; roles, `is_active: false` and password end the user's tokens. */
export interface UpdateUserInput {
  username?: string;
  email?: string | null;
  roles?: string[];
  is_active?: boolean;
  email_verified?: boolean;
  real_name?: string | null;
  profile?: Record<string, unknown>;
  password?: string;
}

/** What an admin sees of one user. */
export interface UserDetail {
  user: User;
  identities: Identity[];
  mfa: { totp: boolean };
}

export const listSchema = v.lazySchema(() =>
  z.object({
    search: z.string().max(320).optional(),
    role: z.string().min(1).max(64).optional(),
    limit: z.number().int().min(1).max(MAX_USER_PAGE).default(DEFAULT_USER_PAGE),
    offset: v.pageOffset(),
  }),
);

export const updateSchema = v.lazySchema(() =>
  z.object({
    username: v.username().optional(),
    email: v.email().nullable().optional(),
    roles: v.roleNames().optional(),
    is_active: z.boolean().optional(),
    email_verified: z.boolean().optional(),
    real_name: v.realName().nullable().optional(),
    profile: v.profile().optional(),
  }),
);

/** Managing other users: `auth.users.list/update/delete` and `/admin/users`. Every change is audited with the caller as actor. */
export class UserAdminService {
  /** With the password policy of the options: an admin sets passwords under the same rules as users. */
  readonly #updateSchema = v.lazySchema(() => updateSchema().extend({ password: v.policyPassword(this.ctx.opts.passwordPolicy).optional() }));

  constructor(
    private readonly ctx: ServiceContext,
    private readonly users: UserService,
    private readonly identities: IdentityService,
  ) {}

  /**
   * Creates a user as an admin (any roles, flags): `POST /admin/users`, `auth.users.create` and the
   * CLI's `user create`. Audited as `user_created` with `data: {by: 'administrator', roles,
   * email_verified}` (the caller as actor over HTTP), as the other administrator changes are: an
   * account made with the admin role, or with an address vouched for, is worth a trace.
   */
  async create(input: CreateUserInput, origin?: EventOrigin): Promise<User> {
    const user = await this.users.create(input);
    await this.ctx.audit.record('user_created', {
      userId: user.id,
      data: { by: 'administrator', roles: user.roles, email_verified: user.email_verified },
      origin,
    });
    return user;
  }

  /** Users newest first, filtered by a search term and/or a role, with the total that match. */
  async list(input: ListUsersInput = {}): Promise<UserPage> {
    const { search, role, limit, offset } = v.parseInput(listSchema(), input);
    const term = search?.trim();
    const { rows, total } = await this.ctx.database.run((db) => listUsers(db, { search: term || undefined, role }, { limit, offset }));
    return { users: rows.map(toPublicUser), total, limit, offset };
  }

  /** A user with their linked identities and second factors; 404 when there is none. */
  async detail(id: string): Promise<UserDetail> {
    const row = await this.ctx.database.run((db) => findUserById(db, id));
    if (!row) throw new NotFoundError('user not found');
    return { user: toPublicUser(row), identities: await this.identities.list(id), mfa: { totp: row.mfa_enabled } };
  }

  /**
   * Changes any of a user's fields in one transaction. Roles, disabling and a new password end the
   * user's access tokens on every instance (and, for the last two, every login); the last active
   * admin cannot lose the role or be disabled (409). A new email is unverified unless
   * `email_verified` says otherwise.
   */
  async update(id: string, patch: UpdateUserInput, origin?: EventOrigin): Promise<User> {
    const data = v.parseInput(this.#updateSchema(), patch);
    const roles = data.roles && [...new Set(data.roles)];
    if (data.password !== undefined) {
      // Not the user's own name or address, as for every other way of setting a password.
      const current = await this.ctx.database.run((db) => findUserById(db, id));
      if (current)
        checkPassword(data.password, this.ctx.opts.passwordPolicy, { username: data.username ?? current.username, email: data.email ?? current.email });
    }
    const hash = data.password === undefined ? undefined : await this.ctx.hasher.hash(data.password);
    const { row, before, revoked } = await this.ctx.database.run(async (db) => {
      if (roles) await requireRoles(db, roles);
      const now = this.ctx.opts.now();
      const previous = await this.ctx.revocation
        .commit(db, { user: id }, async (trx) => {
          const user = await lockUserKeepingAnAdmin(trx, this.ctx.opts.adminRole, id, { roles, active: data.is_active });
          if (!user) throw new NotFoundError('user not found');
          await updateUserFields(trx, id, this.#fields(data, user.email_key), now);
          if (roles) await replaceRoles(trx, id, roles, now);
          const activeChanges = data.is_active !== undefined && data.is_active !== user.is_active;
          if (activeChanges || hash !== undefined) {
            await bumpTokenVersion(trx, id, now, {
              ...(activeChanges ? { is_active: data.is_active } : {}),
              ...(hash !== undefined ? { password_hash: hash } : {}),
            });
          }
          if ((activeChanges && data.is_active === false) || hash !== undefined) await revokeAllForUser(trx, id, now);
          // Losing the admin role or being disabled may end the service keys the user minted.
          const revoked = roles || activeChanges ? await revokeKeysWithoutStanding(trx, this.ctx.opts.adminRole, { creatorId: id }) : [];
          return { user, revoked };
        })
        .catch((err: unknown) => {
          throw asUnknownRole(asConflict(err));
        });
      return { row: (await findUserById(db, id))!, before: previous.user, revoked: previous.revoked };
    });
    await this.ctx.audit.record('user_updated', { userId: id, data: { fields: Object.keys(data).sort() }, origin });
    if (roles) await this.ctx.audit.record('role_change', { userId: id, data: { roles: row.roles }, origin });
    if (row.is_active !== before.is_active) await this.ctx.audit.record(row.is_active ? 'user_enabled' : 'user_disabled', { userId: id, origin });
    if (hash !== undefined) await this.ctx.audit.record('password_change', { userId: id, data: { by: 'administrator' }, origin });
    await auditRevokedKeys(this.ctx.audit, revoked, row.is_active ? 'creator_demoted' : 'creator_disabled', origin);
    return toPublicUser(row);
  }

  /**
   * Marks the account's address verified and its holder proven (`owner_proven`), as a verification
   * link confirmed with the account's password does: an operator vouches for both. Outstanding
   * verification links are retired; logins and tokens stay. Audited as `email_verified` with
   * `data.by: 'administrator'`. 404 for no such user, 409 `conflict` for an account without an address.
   *
   * An account whose holder never proved the address may have been registered by someone else (a
   * squatter), whose password, linked providers and passkeys would then open the account that the
   * owner's provider sign-in lands in (contract 5.3, "Ownership"). So while any of them is there,
   * this refuses (409, `UnprovenCredentialsError`) unless `keepCredentials` says the operator
   * vouches for whoever holds them too; a password reset sent to the address is the other way, and
   * ends them.
   */
  async verifyEmail(id: string, options: { keepCredentials?: boolean } = {}, origin?: EventOrigin): Promise<User> {
    const keep = options.keepCredentials === true;
    const { row, kept } = await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { user: id }, async (trx) => {
        const user = await lockUser(trx, id);
        if (!user) throw new NotFoundError('user not found');
        if (user.email === null) throw new ConflictError('the account has no email address to verify');
        const holds = user.owner_proven ? [] : await credentialsOf(trx, user);
        if (holds.length > 0 && !keep) throw new UnprovenCredentialsError(user.username, holds);
        const now = this.ctx.opts.now();
        await updateUserFields(trx, id, { email_verified: true, owner_proven: true }, now);
        await retireOneTimeTokens(trx, id, ['verification'], now);
        return { row: (await findUserById(trx, id))!, kept: holds };
      }),
    );
    const data = { owner_proven: true, by: 'administrator', ...(kept.length > 0 ? { kept_credentials: kept } : {}) };
    await this.ctx.audit.record('email_verified', { userId: id, data, origin });
    return toPublicUser(row);
  }

  /**
   * Deletes a user and everything of theirs (roles, logins, API tokens, identities); their tokens
   * stop working on every instance at once. Audit events about them stay. The last active admin
   * cannot be deleted (409).
   */
  async delete(id: string, origin?: EventOrigin): Promise<void> {
    const { gone, keys } = await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { user: id }, async (trx) => {
        const user = await lockUserKeepingAnAdmin(trx, this.ctx.opts.adminRole, id, 'deleted');
        if (!user) throw new NotFoundError('user not found');
        // The service keys they minted go with them (ON DELETE CASCADE); listed first for the audit.
        const minted = await mintedServiceKeys(trx, { creatorId: id });
        await deleteUser(trx, id);
        return { gone: user, keys: minted };
      }),
    );
    await this.ctx.audit.record('user_deleted', { userId: id, data: { username: gone.username, email: gone.email }, origin });
    await auditRevokedKeys(this.ctx.audit, keys, 'creator_deleted', origin);
  }

  #fields(data: z.output<ReturnType<typeof updateSchema>>, currentEmailKey: string | null): UserFields {
    const fields: UserFields = {};
    if (data.username !== undefined) Object.assign(fields, { username: data.username, username_key: identityKey(data.username) });
    if (data.email !== undefined) {
      const key = data.email === null ? null : identityKey(data.email);
      Object.assign(fields, { email: data.email, email_key: key });
      if (key !== currentEmailKey) fields.email_verified = false;
    }
    if (data.email_verified !== undefined) fields.email_verified = data.email_verified;
    // An administrator who sets the address or its verification vouches for (or withdraws) it.
    if (fields.email_verified !== undefined) fields.owner_proven = fields.email_verified || data.email === null;
    if (data.real_name !== undefined) fields.real_name = data.real_name;
    if (data.profile !== undefined) fields.profile = JSON.stringify(data.profile);
    return fields;
  }
}

/** The ways into an account that do not depend on its address: a password, linked providers, passkeys. */
async function credentialsOf(trx: Parameters<typeof listOAuthAccounts>[0], user: UserRecord): Promise<string[]> {
  const identities = await listOAuthAccounts(trx, user.id);
  return [...(user.password_hash !== null ? ['password'] : []), ...(identities.length > 0 ? ['identities'] : []), ...(user.has_passkey ? ['passkeys'] : [])];
}
