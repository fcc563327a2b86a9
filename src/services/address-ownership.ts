import type { Transaction } from 'kysely';
import { deleteAllApiTokens } from '../db/api-tokens-repository.js';
import { deleteMfa } from '../db/mfa-repository.js';
import { deleteAllOAuthAccounts } from '../db/oauth-repository.js';
import { deleteAllPasskeys } from '../db/passkeys-repository.js';
import { retireOneTimeTokens } from '../db/one-time-tokens-repository.js';
import { revokeAllForUser } from '../db/refresh-tokens-repository.js';
import type { Database, OneTimePurpose, UserRow } from '../db/schema.js';
import { bumpTokenVersion, type UserRecord } from '../db/users-repository.js';

/** Every purpose of a one-time token. */
export const ALL_PURPOSES: readonly OneTimePurpose[] = ['password_reset', 'verification', 'email_change', 'otp', 'mfa', 'passkey_register'];

/**
 * Whether the account's address is held by someone who has not proven it: such an account cannot
 * link an identity or enrol MFA (an account without an address holds nobody's).
 */
export function hasUnverifiedAddress(user: Pick<UserRow, 'email' | 'email_verified'>): boolean {
  return user.email !== null && !user.email_verified;
}

/**
 * Whether the account's holder has proven the address it carries: verified, and verified by whoever
 * holds the account's credentials (`owner_proven`), not by a bare click on a link someone else
 * asked for. What it takes to act under that address towards others (invite into a group) or to be
 * reached through it (an invitation addressed by email). An account without an address has none.
 */
export function holdsProvenAddress(user: Pick<UserRow, 'email' | 'email_verified' | 'owner_proven'>): boolean {
  return user.email !== null && user.email_verified && user.owner_proven;
}

/**
 * Someone just proved the account's address by a recovery path (a reset link, an email code). If
 * the account's holder had not proven it before (`owner_proven` false: a self-registration, even
 * one whose verification link was clicked), whoever set the account up may be someone else who
 * typed this address: nothing of theirs may still open it. Every login (refresh tokens; access
 * tokens through the version bump), API token, linked identity, passkey, TOTP and backup code,
 * outstanding link, code, mfa_id and passkey challenge ends, and the password becomes `passwordHash` (the reset's new one, or
 * none after an email code). Returns whether it did so (false: the holder was already proven, and
 * the caller ends what its own path ends). The caller holds the user's row lock (revocation.commit).
 */
export async function claimForProvenHolder(
  trx: Transaction<Database>,
  user: Pick<UserRecord, 'id' | 'owner_proven'>,
  passwordHash: string | null,
  now: Date,
): Promise<boolean> {
  if (user.owner_proven) return false;
  await bumpTokenVersion(trx, user.id, now, { password_hash: passwordHash, email_verified: true, owner_proven: true });
  await revokeAllForUser(trx, user.id, now);
  await deleteAllApiTokens(trx, user.id);
  await deleteAllOAuthAccounts(trx, user.id);
  await deleteMfa(trx, user.id);
  await deleteAllPasskeys(trx, user.id);
  await retireOneTimeTokens(trx, user.id, ALL_PURPOSES, now);
  return true;
}
