import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { EventOrigin } from '../security/audit.js';
import { standsForKeys } from './service-key-standing.js';
import type { ApiTokenInfo, ApiTokenInput, ApiTokenService, CreatedApiToken } from './api-tokens.js';
import type { Actor, GroupAccess } from './group-access.js';

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

  /** Creates a key for the group; the returned `token` is never retrievable again. */
  async create(actor: Actor, idOrSlug: string, input: ApiTokenInput, origin?: EventOrigin): Promise<CreatedApiToken> {
    const group = await this.access.administered(actor, idOrSlug);
    // A key minted by a person lives while they administer the group; trusted code's key belongs to the group.
    const minter =
      actor === 'system' ? undefined : { id: actor.id, stands: (trx: Transaction<Database>) => standsForKeys(trx, this.adminRole, actor.id, group.id) };
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
