import type { Transaction } from 'kysely';
import { deleteApiTokensByIds, mintedServiceKeys, type MintedServiceKey } from '../db/api-tokens-repository.js';
import type { Database } from '../db/schema.js';
import { activeAdminOf } from './group-access.js';
import type { Audit, EventOrigin } from '../security/audit.js';

/** Why service keys were revoked: what their minter lost. */
export type KeyRevocationReason = 'creator_removed' | 'creator_demoted' | 'creator_disabled' | 'creator_deleted' | 'group_detached';

/** Whether `userId` may hold the service keys they minted for `groupId`: the standing it takes to mint one. */
export const standsForKeys = activeAdminOf;

/**
 * A service key lives only while its minter could still mint it: run inside the transaction of a
 * change that may have taken that standing away (a membership, a user's roles or active flag, the
 * hierarchy), this deletes the keys whose minter lost it and returns them. Keys minted by trusted
 * code (no minter) belong to the group and are never revoked here. The change's own announcement
 * (`{user}` for a minter, `{groups}` for the hierarchy) makes every instance drop the cached keys.
 */
export async function revokeKeysWithoutStanding(
  trx: Transaction<Database>,
  adminRole: string,
  filter: { creatorId: string } | { groupIds: readonly string[] },
): Promise<MintedServiceKey[]> {
  const keys = await mintedServiceKeys(trx, filter);
  const verdicts = new Map<string, boolean>();
  const lost: MintedServiceKey[] = [];
  for (const key of keys) {
    const pair = `${key.created_by}/${key.group_id}`;
    let stands = verdicts.get(pair);
    if (stands === undefined) verdicts.set(pair, (stands = await standsForKeys(trx, adminRole, key.created_by, key.group_id)));
    if (!stands) lost.push(key);
  }
  await deleteApiTokensByIds(
    trx,
    lost.map((k) => k.id),
  );
  return lost;
}

/** Audits each revoked key as `service_key_revoked` (the minter as `user_id`, the group and reason in `data`). */
export async function auditRevokedKeys(audit: Audit, keys: readonly MintedServiceKey[], reason: KeyRevocationReason, origin?: EventOrigin): Promise<void> {
  for (const key of keys) {
    await audit.record('service_key_revoked', { userId: key.created_by, data: { token_id: key.id, group_id: key.group_id, reason }, origin });
  }
}
