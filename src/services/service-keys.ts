import { z } from 'zod';
import { parseInput } from '../validation.js';
import type { EventOrigin } from '../security/audit.js';
import type { ApiTokenInfo, ApiTokenInput, ApiTokenService, CreatedApiToken } from './api-tokens.js';
import type { Actor, GroupAccess } from './group-access.js';
import { ROLE_NAME } from './roles.js';

/**
 * A service key's scopes: its roles in its group, so role names (what the group can grant a
 * member), never `*`, which would stand for every role.
 */
export const serviceKeyScopes = z
  .array(z.string().regex(ROLE_NAME, 'a service key scope is a role in the group: must match ^[a-z][a-z0-9_:-]{0,63}$ (not *)'))
  .max(50);
const serviceKeyInput = z.object({ scopes: serviceKeyScopes.optional() });

/**
 * Service keys: API tokens that act for a group, not a person, managed by the group's admins.
 * Same format, hashing, validation and revocation as a user's API tokens (ApiTokenService).
 */
export class ServiceKeyService {
  constructor(
    private readonly access: GroupAccess,
    private readonly apiTokens: ApiTokenService,
  ) {}

  /**
   * Creates a key for the group; the returned `token` is never retrievable again. Its scopes are
   * its roles in the group, so each must be a role name (what a group can grant a member); `*` is
   * refused (400), since no role stands for every role.
   */
  async create(actor: Actor, idOrSlug: string, input: ApiTokenInput, origin?: EventOrigin): Promise<CreatedApiToken> {
    const group = await this.access.administered(actor, idOrSlug);
    parseInput(serviceKeyInput, { scopes: input?.scopes });
    return this.apiTokens.createForGroup(group.id, input, origin);
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
