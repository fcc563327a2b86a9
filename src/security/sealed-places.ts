import type { SealBinding } from '../tokens/encryption.js';

/**
 * Every place a secret is sealed at rest, and what binds it there. One list, so that sealing,
 * opening and the re-seal at start-up cannot disagree. User ids are bound in lower case, as stored.
 */
export const sealedAt = {
  /** A linked provider account's access token. */
  oauthAccessToken: (row: OAuthAccountKey): SealBinding => ({
    table: 'oauth_accounts',
    column: 'access_token_enc',
    row: [row.user_id.toLowerCase(), row.provider, row.provider_user_id],
  }),
  /** A linked provider account's refresh token. */
  oauthRefreshToken: (row: OAuthAccountKey): SealBinding => ({
    table: 'oauth_accounts',
    column: 'refresh_token_enc',
    row: [row.user_id.toLowerCase(), row.provider, row.provider_user_id],
  }),
  /** A user's TOTP secret (pending or confirmed). */
  totpSecret: (userId: string): SealBinding => ({ table: 'mfa_totp', column: 'secret_enc', row: [userId.toLowerCase()] }),
  /** A secret stored with `auth.integrations.set`. */
  integrationSecret: (userId: string, connector: string): SealBinding => ({
    table: 'integrations',
    column: 'secret_enc',
    row: [userId.toLowerCase(), connector],
  }),
  /** The refresh token inside the cookie-mode refresh cookie: it opens only as that cookie, never as a stored secret. */
  refreshCookie: (): SealBinding => ({ table: 'cookie', column: 'refresh_token', row: [] }),
  /** What a provider's strategy needs back at the callback (PKCE verifier, nonce), by its state's hash. */
  oauthFlow: (stateHash: string): SealBinding => ({ table: 'oauth_states', column: 'flow_enc', row: [stateHash] }),
};

/** What names a linked provider account's row. */
export interface OAuthAccountKey {
  user_id: string;
  provider: string;
  provider_user_id: string;
}

/** A column whose values the re-seal at start-up moves from the old format to the bound one. */
export interface SealedColumn {
  table: 'oauth_accounts' | 'mfa_totp' | 'integrations' | 'oauth_states';
  column: string;
  /** The columns that name a row (read with the value, and matched when it is rewritten). */
  key: readonly string[];
  binding: (row: Record<string, string>) => SealBinding;
  /** The associated data an old-format value was sealed with, if it had any. */
  legacyContext?: (row: Record<string, string>) => string;
}

const ACCOUNT_KEY = ['user_id', 'provider', 'provider_user_id'] as const;
const asAccount = (row: Record<string, string>): OAuthAccountKey => ({
  user_id: row.user_id!,
  provider: row.provider!,
  provider_user_id: row.provider_user_id!,
});

export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: 'oauth_accounts', column: 'access_token_enc', key: ACCOUNT_KEY, binding: (r) => sealedAt.oauthAccessToken(asAccount(r)) },
  { table: 'oauth_accounts', column: 'refresh_token_enc', key: ACCOUNT_KEY, binding: (r) => sealedAt.oauthRefreshToken(asAccount(r)) },
  { table: 'mfa_totp', column: 'secret_enc', key: ['user_id'], binding: (r) => sealedAt.totpSecret(r.user_id!) },
  {
    table: 'integrations',
    column: 'secret_enc',
    key: ['user_id', 'connector'],
    binding: (r) => sealedAt.integrationSecret(r.user_id!, r.connector!),
    // Integration secrets were bound to their row from the start, with this associated data.
    legacyContext: (r) => `integration:${r.user_id!.toLowerCase()}:${r.connector!}`,
  },
  { table: 'oauth_states', column: 'flow_enc', key: ['state_hash'], binding: (r) => sealedAt.oauthFlow(r.state_hash!) },
];
