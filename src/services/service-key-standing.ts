import type { Transaction } from 'kysely';
import { deleteApiTokensByIds, mintedServiceKeys, type MintedServiceKey } from '../db/api-tokens-repository.js';
import type { Database } from '../db/schema.js';
import { findUserById } from '../db/users-repository.js';
import { activeAdminOf } from './group-access.js';
import type { Audit, EventOrigin } from '../security/audit.js';

/** Why minted tokens (service keys, or users' tokens an admin minted) were revoked: what their minter lost. */
export type KeyRevocationReason = 'creator_removed' | 'creator_demoted' | 'creator_disabled' | 'creator_deleted' | 'group_detached';

/**
 * Whether `userId` may hold the tokens they minted: for a group's key (`groupId`), administering
 * that group; for a user's token minted on that user's behalf, or a key with a site-level scope
 * (`introspect`) (`groupId` null), being an active site admin (the held `adminRole`, as for the
 * admin endpoints). The standing it takes to mint one.
 */
export async function standsForKeys(trx: Transaction<Database>, adminRole: string, userId: string, groupId: string | null): Promise<boolean> {
  if (groupId !== null) return activeAdminOf(trx, adminRole, userId, groupId);
  const user = await findUserById(trx, userId);
  return user?.is_active === true && user.roles.includes(adminRole);
}

/**
 * A service key, or a user's token a site admin minted for them, lives only while its minter could still mint it: run inside the transaction of a
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

/**
 * Audits each revoked key as `service_key_revoked` (the minter as `user_id`, the group and reason in
 * `data`), and each revoked user's token as `api_token_deleted` of its owner (minter and reason in `data`).
 */
export async function auditRevokedKeys(audit: Audit, keys: readonly MintedServiceKey[], reason: KeyRevocationReason, origin?: EventOrigin): Promise<void> {
  for (const key of keys) {
    if (key.group_id === null)
      await audit.record('api_token_deleted', { userId: key.user_id, data: { token_id: key.id, minted_by: key.created_by, reason }, origin });
    else await audit.record('service_key_revoked', { userId: key.created_by, data: { token_id: key.id, group_id: key.group_id, reason }, origin });
  }
}
