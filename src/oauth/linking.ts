import type { Transaction } from 'kysely';
import { ConflictError, ForbiddenError, NotFoundError, OAuthError } from '../errors.js';
import type { Database } from '../db/schema.js';
import { findOAuthAccount, findOAuthAccountOfUser, insertOAuthAccount, updateOAuthTokens } from '../db/oauth-repository.js';
import { findEmailOwner, findUserById, identityKey, insertUser, lockUser } from '../db/users-repository.js';
import type { ResolvedOptions } from '../options.js';
import { seal } from '../tokens/encryption.js';
import { sealedAt } from '../security/sealed-places.js';
import { randomBase62 } from '../tokens/secrets.js';
import { isSingleScript } from '../single-script.js';
import { isIdShaped } from '../id-shape.js';
import { MAX_REAL_NAME_LENGTH } from '../validation.js';
import type { ProviderIdentity } from './identity.js';
import { hasUnverifiedAddress } from '../services/address-ownership.js';

/** Who an identity resolved to: its user already, a user it was just linked to, or a new user. */
export interface Resolution {
  userId: string;
  outcome: 'known' | 'linked' | 'created';
}

/**
 * A username from the provider's login name: our allowed characters, 3-64 long, in one script. A
 * provider's name is not checked by anyone we trust, so a look-alike (`аdmin` with a Cyrillic `а`)
 * is replaced by a neutral `<provider>_user` rather than kept, and a name shaped like a user id
 * (which could stand for another account) gets `<provider>_` in front.
 */
function usernameBase(identity: ProviderIdentity, provider: string): string {
  const cleaned = (identity.login ?? '')
    .normalize('NFKC')
    .replace(/[^\p{L}\p{N}_.-]/gu, '')
    .slice(0, 48);
  if (cleaned.length >= 3 && isSingleScript(cleaned) && !isIdShaped(cleaned)) return cleaned;
  return `${provider}_${cleaned.length > 0 && isSingleScript(cleaned) ? cleaned : 'user'}`.slice(0, 48);
}

/**
 * The linking policy, in one transaction. An identity is (provider, provider user id), never an email.
 * 1. A linked identity is its user (for a linking flow, only if that is the signed-in user).
 * 2. A linking flow attaches the identity to the signed-in user who began it.
 * 3. A provider-verified email equal to a local account's links to it only if that account's email is
 *    verified and its holder proved it (`owner_proven`); otherwise 409 `account_exists`: whoever
 *    registered the address may not be its owner, so the owner must sign in to that account and link
 *    explicitly, or take it back by a reset link or an email code (which ends everything set up before).
 * An account whose address is unverified links nothing, explicitly either (403 `email_not_verified`).
 * 4. Otherwise a new user. An email the provider does not vouch for stays on the identity and never
 *    takes users.email, so it can neither hold an address nor be linked into later.
 * A race with another login of the same identity, or a taken username, surfaces as a unique
 * violation; the caller retries with `attempt` + 1 (which adds a random username suffix).
 */
export async function resolveIdentity(
  trx: Transaction<Database>,
  opts: Pick<ResolvedOptions, 'encryptionKey' | 'oauthAutoCreate' | 'defaultRoles' | 'now'>,
  flow: { provider: string; identity: ProviderIdentity; linkUserId: string | null; linkUserVersion: number | null; attempt: number },
): Promise<Resolution> {
  const { provider, identity, linkUserId } = flow;
  if (linkUserId !== null && flow.linkUserVersion !== null) {
    // A linking flow ends with the logins of the user who began it (logout-all, password, roles,
    // disabling): a stolen access token must not leave behind a way to sign in as its owner. The
    // row is locked as every revocation locks it first, so one cannot slip in between.
    const user = await lockUser(trx, linkUserId);
    if (user && user.token_version !== flow.linkUserVersion)
      throw new OAuthError('invalid_state', 'the login that began this linking has ended; sign in and link again');
  }
  const now = opts.now();
  const key = opts.encryptionKey;
  // The provider's tokens are sealed for the account's row, which names its user.
  const details = (userId: string) => {
    const row = { user_id: userId, provider, provider_user_id: identity.providerUserId };
    return {
      access_token_enc: identity.accessToken ? seal(key, identity.accessToken, sealedAt.oauthAccessToken(row)) : null,
      refresh_token_enc: identity.refreshToken ? seal(key, identity.refreshToken, sealedAt.oauthRefreshToken(row)) : null,
      scopes: identity.scopes,
      email: identity.email ?? null,
      email_verified: identity.emailVerified,
    };
  };
  const link = async (userId: string, outcome: Resolution['outcome'] = 'linked'): Promise<Resolution> => {
    await insertOAuthAccount(trx, {
      provider,
      provider_user_id: identity.providerUserId,
      user_id: userId,
      ...details(userId),
      created_at: now,
      updated_at: now,
    });
    return { userId, outcome };
  };

  const linked = await findOAuthAccount(trx, provider, identity.providerUserId);
  if (linked) {
    if (linkUserId !== null && linked.user_id !== linkUserId) throw new ConflictError(`this ${provider} account is already linked to another user`);
    await updateOAuthTokens(trx, provider, identity.providerUserId, { ...details(linked.user_id), updated_at: now });
    return { userId: linked.user_id, outcome: 'known' };
  }

  if (linkUserId !== null) {
    const user = await findUserById(trx, linkUserId);
    if (!user) throw new NotFoundError('user not found');
    // Checked again here: the address may have changed since the flow began.
    if (hasUnverifiedAddress(user)) throw new ForbiddenError('email_not_verified', 'verify your email address before linking a provider');
    if (await findOAuthAccountOfUser(trx, linkUserId, provider))
      throw new ConflictError(`this user is already linked to another ${provider} account; unlink it first`);
    return link(linkUserId);
  }

  const verifiedKey = identity.email && identity.emailVerified ? identityKey(identity.email) : undefined;
  const owner = verifiedKey ? await findEmailOwner(trx, verifiedKey) : undefined;
  if (owner) {
    // Only into an account whose holder proved the address: a password set by whoever registered
    // it (even if the owner later clicked a verification link that squatter asked for) must not
    // open the account the owner's provider sign-in lands in.
    if (!owner.email_verified || !owner.owner_proven) {
      throw new OAuthError('account_exists', `an account with this email already exists; sign in to it and link ${provider} from there`);
    }
    if (await findOAuthAccountOfUser(trx, owner.id, provider)) throw new ConflictError(`this email's account is already linked to another ${provider} account`);
    return link(owner.id);
  }
  if (!opts.oauthAutoCreate) throw new ForbiddenError('forbidden', 'sign-up through OAuth is disabled; ask an administrator for an account');

  // A taken username shows up as a unique violation; the next attempt adds a random suffix.
  const base = usernameBase(identity, provider);
  const username = flow.attempt === 1 ? base : `${base}_${randomBase62(4).toLowerCase()}`;
  const userId = await insertUser(
    trx,
    {
      username,
      username_key: identityKey(username),
      email: verifiedKey ? identity.email! : null,
      email_key: verifiedKey ?? null,
      email_verified: verifiedKey !== undefined,
      // Created by the provider sign-in that vouched for the address (or with none): nothing predates it.
      owner_proven: true,
      password_hash: null,
      real_name: identity.realName?.slice(0, MAX_REAL_NAME_LENGTH) ?? null,
      profile: JSON.stringify({}),
      created_at: now,
      updated_at: now,
    },
    opts.defaultRoles,
  );
  return link(userId, 'created');
}
