import * as z from 'zod';
import { ForbiddenError, NotFoundError } from '../errors.js';
import { findUserById } from '../db/users-repository.js';
import { toPublicUser, type User } from '../public-user.js';
import type { EventOrigin } from '../security/audit.js';
import { MAX_IMPERSONATION_SECONDS, signAccessToken } from '../tokens/access-token.js';
import { lazySchema, parseInput } from '../validation.js';
import { effectiveRolesOf } from '../security/role-implications.js';
import type { ServiceContext } from './context.js';

/** Life of an impersonation token when no duration is asked for, in seconds. */
export const DEFAULT_IMPERSONATION_SECONDS = 900;

/** What an admin gets to act as a user: an access token with `imp`, and no refresh token. */
export interface Impersonation {
  token: string;
  user: User;
  expires_at: string;
}

export const optionsSchema = lazySchema(() =>
  z.object({
    duration: z.number().int().min(1).max(MAX_IMPERSONATION_SECONDS).default(DEFAULT_IMPERSONATION_SECONDS),
  }),
);

/** `auth.users.impersonate` and `POST /{user}/impersonate`. */
export class ImpersonationService {
  readonly #effectiveRoles: (held: readonly string[]) => string[];

  constructor(private readonly ctx: ServiceContext) {
    this.#effectiveRoles = effectiveRolesOf(ctx.opts.roleImplications);
  }

  /**
   * An access token for `userId` carrying `imp: adminId`, valid `duration` seconds (default 900, at
   * most 3600), never renewable. 403 unless `adminId` is an active admin; 403 for a user whose
   * effective roles include the admin role (held or implied through `roleImplications`; the admin
   * themself included) or who is disabled (`account_disabled`); 404 for no user.
   * The token dies with the user's tokens (logout-all, password, roles, disable) and, for good, with
   * the admin's standing as it is now: the admin's token version (logout-all, password, roles,
   * disable), the admin's existence and, given `login.sessionId` or `login.apiTokenId` (the admin's
   * login or API token that asks), that login or token.
   */
  async impersonate(
    adminId: string,
    userId: string,
    options: { duration?: number | undefined } = {},
    origin?: EventOrigin,
    login: { sessionId?: string | undefined; apiTokenId?: string | undefined } = {},
  ): Promise<Impersonation> {
    const { duration } = parseInput(optionsSchema(), options);
    const adminRole = this.ctx.opts.adminRole;
    const [admin, target] = await this.ctx.database.run((db) => Promise.all([findUserById(db, adminId), findUserById(db, userId)]));
    if (!admin || !admin.is_active || !admin.roles.includes(adminRole)) throw new ForbiddenError('forbidden', 'only an active admin can impersonate');
    if (!target) throw new NotFoundError('user not found');
    if (this.#effectiveRoles(target.roles).includes(adminRole)) throw new ForbiddenError('forbidden', 'an admin cannot be impersonated');
    if (!target.is_active) throw new ForbiddenError('account_disabled', 'this account is disabled');
    const impersonator = { id: admin.id, version: admin.token_version, sessionId: login.sessionId, apiTokenId: login.apiTokenId };
    const token = signAccessToken(this.ctx.opts, { userId: target.id, roles: target.roles, version: target.token_version, impersonator }, duration);
    const expiresAt = new Date(Math.floor(this.ctx.opts.now().getTime() / 1000) * 1000 + duration * 1000).toISOString();
    await this.ctx.audit.record('impersonation_start', {
      userId: target.id,
      data: { impersonator_id: admin.id, duration, expires_at: expiresAt },
      origin: { ...origin, actorId: admin.id },
    });
    return { token, user: toPublicUser(target), expires_at: expiresAt };
  }
}
