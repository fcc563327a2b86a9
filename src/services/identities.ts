import { ConflictError, NotFoundError } from '../errors.js';
import { deleteOAuthAccount, findOAuthAccountOfUser, listOAuthAccounts } from '../db/oauth-repository.js';
import { isUserId, lockUser } from '../db/users-repository.js';
import { unseal } from '../tokens/encryption.js';
import { sealedAt } from '../security/sealed-places.js';
import type { EventOrigin } from '../security/audit.js';
import type { ServiceContext } from './context.js';

/** A linked provider account as listed (never its tokens). */
export interface Identity {
  provider: string;
  provider_user_id: string;
  /** The email the provider gave, and whether the provider said it is verified. */
  email: string | null;
  email_verified: boolean;
  created_at: string;
}

/** A linked provider account with its decrypted tokens, for calling the provider's API. */
export interface LinkedAccount extends Identity {
  access_token: string | null;
  refresh_token: string | null;
  scopes: string[];
  updated_at: string;
}

/** A user's linked provider accounts: listing, unlinking, and their tokens (for `auth.integrations`). */
export class IdentityService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(userId: string): Promise<Identity[]> {
    if (!isUserId(userId)) return [];
    const rows = await this.ctx.database.run((db) => listOAuthAccounts(db, userId));
    return rows.map((r) => ({
      provider: r.provider,
      provider_user_id: r.provider_user_id,
      email: r.email,
      email_verified: r.email_verified,
      created_at: r.created_at.toISOString(),
    }));
  }

  /**
   * Unlinks a provider; refuses to remove a user's last way to sign in (a password, another
   * provider or a passkey). The user's row is locked, as a passkey's removal locks it.
   */
  async unlink(userId: string, provider: string, origin?: EventOrigin): Promise<void> {
    await this.ctx.database.run((db) =>
      db.transaction().execute(async (trx) => {
        const user = await lockUser(trx, userId);
        const accounts = user ? await listOAuthAccounts(trx, userId) : [];
        if (!accounts.some((a) => a.provider === provider)) throw new NotFoundError('identity not found');
        if (!user!.password_hash && !user!.has_passkey && accounts.length === 1)
          throw new ConflictError('this is the only way this user can sign in; set a password, link another provider or add a passkey first');
        await deleteOAuthAccount(trx, userId, provider);
      }),
    );
    await this.ctx.audit.record('identity_unlinked', { userId, data: { provider }, origin });
  }

  /** The linked account with decrypted provider tokens, or undefined. */
  async integration(userId: string, provider: string): Promise<LinkedAccount | undefined> {
    if (!isUserId(userId) || typeof provider !== 'string') return undefined;
    const row = await this.ctx.database.run((db) => findOAuthAccountOfUser(db, userId, provider));
    if (!row) return undefined;
    const key = this.ctx.opts.encryptionKey;
    // Bound to this row: a token copied from another user's account opens as no token at all.
    const access_token = row.access_token_enc ? (unseal(key, row.access_token_enc, sealedAt.oauthAccessToken(row)) ?? null) : null;
    const refresh_token = row.refresh_token_enc ? (unseal(key, row.refresh_token_enc, sealedAt.oauthRefreshToken(row)) ?? null) : null;
    if ((row.access_token_enc && access_token === null) || (row.refresh_token_enc && refresh_token === null)) {
      this.ctx.logger.warn({ provider }, 'express-authlib: a provider token could not be decrypted (was encryptionKey changed, or the row altered?)');
    }
    return {
      provider: row.provider,
      provider_user_id: row.provider_user_id,
      email: row.email,
      email_verified: row.email_verified,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
      access_token,
      refresh_token,
      scopes: row.scopes,
    };
  }
}
