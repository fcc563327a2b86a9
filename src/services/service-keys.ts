import type { Transaction } from 'kysely';
import * as z from 'zod';
import type { Database } from '../db/schema.js';
import { ForbiddenError } from '../errors.js';
import { lazySchema, parseInput } from '../validation.js';
import type { EventOrigin } from '../security/audit.js';
import { standsForKeys } from './service-key-standing.js';
import type { ApiTokenInfo, ApiTokenInput, ApiTokenService, CreatedApiToken } from './api-tokens.js';
import type { Actor, GroupAccess } from './group-access.js';
import { INTROSPECT_SCOPE } from './introspection.js';
import { ROLE_NAME } from './roles.js';

/**
 * A service key's scopes: its roles in its group, so role names (what the group can grant a
 * member), never `*`, which would stand for every role.
 */
export const serviceKeyScopes = lazySchema(() =>
  z.array(z.string().regex(ROLE_NAME, 'a service key scope is a role in the group: must match ^[a-z][a-z0-9_:-]{0,63}$ (not *)')).max(50),
);
const serviceKeyInput = lazySchema(() => z.object({ scopes: serviceKeyScopes().optional() }));

/**
 * Service keys: API tokens that act for a group, not a person, managed by the group's admins.
 * Same format, hashing, validation and revocation as a user's API tokens (ApiTokenService). A key
 * minted by a user records them and is revoked, on every instance, when they stop administering
 * the group (removed, demoted, disabled, deleted, or the group detached from where they rule):
 * see service-key-standing.ts.
 */
export class ServiceKeyService {
  constructor(
    private readonly access: GroupAccess,
    private readonly apiTokens: ApiTokenService,
    private readonly adminRole: string,
  ) {}

  /**
   * Creates a key for the group; the returned `token` is never retrievable again. Its scopes are
   * its roles in the group, so each must be a role name (what a group can grant a member); `*` is
   * refused (400), since no role stands for every role. The scope `introspect` is no role of the
   * group but a site-level right (the key could read every token of the site): only a site admin
   * or trusted code may mint a key carrying it; a group admin gets 403.
   */
  async create(actor: Actor, idOrSlug: string, input: ApiTokenInput, origin?: EventOrigin): Promise<CreatedApiToken> {
    const group = await this.access.administered(actor, idOrSlug);
    const { scopes } = parseInput(serviceKeyInput(), { scopes: input?.scopes });
    const siteLevel = scopes?.includes(INTROSPECT_SCOPE) === true;
    if (siteLevel && actor !== 'system' && !actor.siteAdmin)
      throw new ForbiddenError('forbidden', `only a site admin can mint a key with the scope ${INTROSPECT_SCOPE}`);
    // A key minted by a person lives while they administer the group; trusted code's key belongs to
    // the group. One with `introspect` needs its minter to be a site admin still, under the locks.
    const minter =
      actor === 'system'
        ? undefined
        : { id: actor.id, stands: (trx: Transaction<Database>) => standsForKeys(trx, this.adminRole, actor.id, siteLevel ? null : group.id) };
    return this.apiTokens.createForGroup(group.id, input, origin, minter);
  }

  /** The group's keys, never their secrets. */
  async list(actor: Actor, idOrSlug: string): Promise<ApiTokenInfo[]> {
    const group = await this.access.administered(actor, idOrSlug);
    return this.apiTokens.listForGroup(group.id);
  }

  /** Deletes one of the group's keys; it stops working on every instance at once. 404 for another owner's token. */
  async revoke(actor: Actor, idOrSlug: string, tokenId: string, origin?: EventOrigin): Promise<void> {
    const group = await this.access.administered(actor, idOrSlug);
    await this.apiTokens.revokeForGroup(group.id, tokenId, origin);
  }
}
