import * as z from 'zod';
import { ConflictError, NotFoundError } from '../errors.js';
import { deleteIntegration, findIntegration, listIntegrations, upsertIntegration } from '../db/integrations-repository.js';
import { findOAuthAccountOfUser, listOAuthAccounts } from '../db/oauth-repository.js';
import type { IntegrationRow, OAuthAccountRow } from '../db/schema.js';
import { isForeignKeyViolation } from '../db/unavailable.js';
import { findUserById, isUserId } from '../db/users-repository.js';
import { seal, unseal } from '../tokens/encryption.js';
import { sealedAt } from '../security/sealed-places.js';
import * as v from '../validation.js';
import type { EventOrigin } from '../security/audit.js';
import type { ServiceContext } from './context.js';
import type { IdentityService, LinkedAccount } from './identities.js';

/** What a connector name may be: the app's name for the other service. */
export const CONNECTOR_PATTERN = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
/** Longest accepted secret, in characters. */
export const MAX_INTEGRATION_SECRET_LENGTH = 8192;
/** Longest accepted identifier. */
export const MAX_INTEGRATION_IDENTIFIER_LENGTH = 256;

/** Input of `auth.integrations.set`. */
export interface IntegrationInput {
  /** The credential (API key, personal access token...): stored AES-256-GCM encrypted. */
  secret: string;
  /** Who the user is at that service (account name, email, workspace id); shown in listings. */
  identifier?: string | null;
  scopes?: string[];
  /** A JSON object kept beside the secret, not encrypted (at most 8 KiB of JSON, 32 levels deep). */
  meta?: Record<string, unknown>;
}

/** An integration as listed: never its secret. `source` says where it came from. */
export interface IntegrationInfo {
  connector: string;
  /** `manual`: stored with `set`; `oauth`: a provider account linked by signing in with it. */
  source: 'manual' | 'oauth';
  /** `manual`: as given to `set`; `oauth`: the provider's account id. */
  identifier: string | null;
  scopes: string[];
  created_at: string;
  updated_at: string;
}

/** A stored integration with its decrypted secret. */
export interface ManualIntegration extends IntegrationInfo {
  source: 'manual';
  /** null when it cannot be decrypted any more (another `encryptionKey`, or the row was altered). */
  secret: string | null;
  meta: Record<string, unknown>;
  // Absent here, declared so that code written for linked accounts (`integration?.access_token`) still compiles.
  provider?: undefined;
  provider_user_id?: undefined;
  email?: undefined;
  email_verified?: undefined;
  access_token?: undefined;
  refresh_token?: undefined;
}

/** A linked provider account with its decrypted tokens; `secret` is the access token. */
export interface LinkedIntegration extends IntegrationInfo, LinkedAccount {
  source: 'oauth';
  secret: string | null;
  meta: Record<string, never>;
}

/** What `auth.integrations.get` returns. */
export type Integration = ManualIntegration | LinkedIntegration;

const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes('\0'), 'must not contain U+0000');

const setSchema = v.lazySchema(() =>
  z.object({
    connector: z.string().regex(CONNECTOR_PATTERN, 'must be 1-64 of a-z 0-9 _ . : -, starting with a letter or digit'),
    secret: text(MAX_INTEGRATION_SECRET_LENGTH).pipe(z.string().min(1, 'is required')),
    identifier: text(MAX_INTEGRATION_IDENTIFIER_LENGTH).nullish(),
    scopes: z
      .array(text(256).pipe(z.string().min(1)))
      .max(100)
      .optional(),
    // The profile's bounds (size, depth) suit any small JSON object the app keeps. The U+0000 check
    // runs only on a value that passed them: JSON.stringify would overflow the stack on a deep one.
    meta: v
      .profile()
      .refine((m) => !JSON.stringify(m).includes('\\u0000'), { message: 'must not contain U+0000', when: (p) => p.issues.length === 0 })
      .optional(),
  }),
);

/**
 * Whether `connector` can name anything: a stored entry's name, or a provider's (whose names the
 * app chose freely). Anything else is not there, and never reaches SQL (PostgreSQL refuses U+0000).
 */
const nameable = (connector: unknown): connector is string => typeof connector === 'string' && connector.length <= 256 && !connector.includes('\0');

function toInfo(row: IntegrationRow): IntegrationInfo {
  return {
    connector: row.connector,
    source: 'manual',
    identifier: row.identifier,
    scopes: row.scopes,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** A linked provider account as an integration (its tokens stay in oauth_accounts). */
function linkedInfo(account: OAuthAccountRow): IntegrationInfo {
  return {
    connector: account.provider,
    source: 'oauth',
    identifier: account.provider_user_id,
    scopes: account.scopes,
    created_at: account.created_at.toISOString(),
    updated_at: account.updated_at.toISOString(),
  };
}

/** By connector; a linked account before a stored entry of the same name (one stored before the provider was configured). */
function byConnector(a: IntegrationInfo, b: IntegrationInfo): number {
  if (a.connector !== b.connector) return a.connector < b.connector ? -1 : 1;
  return a.source === b.source ? 0 : a.source === 'oauth' ? -1 : 1;
}

/**
 * Credentials a user keeps for other services (`auth.integrations`): entered through the app and
 * stored here encrypted, or obtained by signing in with an OAuth provider (then read from the
 * linked account). A configured provider's name is reserved for its linked account.
 */
export class IntegrationService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly identities: IdentityService,
  ) {}

  /** Stores or replaces the user's secret for `connector`; 404 for an unknown user, 409 for an OAuth provider's name. */
  async set(userId: string, connector: string, input: IntegrationInput, origin?: EventOrigin): Promise<IntegrationInfo> {
    const isObject = input !== null && typeof input === 'object' && !Array.isArray(input);
    const data = v.parseInput(setSchema(), isObject ? { ...input, connector } : input);
    if (!isUserId(userId)) throw new NotFoundError('user not found');
    if (Object.hasOwn(this.ctx.opts.oauthConfig, data.connector)) throw this.#reserved(data.connector);
    const row = await this.ctx.database.run(async (db) => {
      // A provider no longer configured may still be linked: its name stays its own.
      if (await findOAuthAccountOfUser(db, userId, data.connector)) throw this.#reserved(data.connector);
      try {
        return await upsertIntegration(db, {
          user_id: userId,
          connector: data.connector,
          identifier: data.identifier ?? null,
          secret_enc: seal(this.ctx.opts.encryptionKey, data.secret, sealedAt.integrationSecret(userId, data.connector)),
          scopes: [...new Set(data.scopes ?? [])],
          meta: JSON.stringify(data.meta ?? {}),
          now: this.ctx.opts.now(),
        });
      } catch (err) {
        if (isForeignKeyViolation(err)) throw new NotFoundError('user not found');
        throw err;
      }
    });
    await this.ctx.audit.record('integration_set', { userId, data: { connector: data.connector }, origin });
    return toInfo(row);
  }

  /**
   * The integration with its decrypted secret, or undefined. An OAuth-linked provider answers with
   * its account and tokens (`secret` is the access token).
   */
  async get(userId: string, connector: string): Promise<Integration | undefined> {
    if (!isUserId(userId) || !nameable(connector)) return undefined;
    const linked = await this.identities.integration(userId, connector);
    if (linked) return { ...linked, connector: linked.provider, source: 'oauth', identifier: linked.provider_user_id, secret: linked.access_token, meta: {} };
    if (!CONNECTOR_PATTERN.test(connector)) return undefined;
    const row = await this.ctx.database.run((db) => findIntegration(db, userId, connector));
    if (!row) return undefined;
    const secret = unseal(this.ctx.opts.encryptionKey, row.secret_enc, sealedAt.integrationSecret(row.user_id, row.connector)) ?? null;
    if (secret === null) this.ctx.logger.warn({ connector }, 'express-authlib: an integration secret could not be decrypted (was encryptionKey changed?)');
    return { ...toInfo(row), source: 'manual', secret, meta: row.meta };
  }

  /** Every integration of the user, stored and OAuth-linked, by connector; never a secret. 404 for an unknown user. */
  async list(userId: string): Promise<IntegrationInfo[]> {
    const { stored, linked } = await this.ctx.database.run(async (db) => {
      if (!(await findUserById(db, userId))) throw new NotFoundError('user not found');
      return { stored: await listIntegrations(db, userId), linked: await listOAuthAccounts(db, userId) };
    });
    return [...linked.map(linkedInfo), ...stored.map(toInfo)].sort(byConnector);
  }

  async has(userId: string, connector: string): Promise<boolean> {
    if (!isUserId(userId) || !nameable(connector)) return false;
    return this.ctx.database.run(
      async (db) =>
        (CONNECTOR_PATTERN.test(connector) && (await findIntegration(db, userId, connector)) !== undefined) ||
        (await findOAuthAccountOfUser(db, userId, connector)) !== undefined,
    );
  }

  /**
   * Deletes the stored entry for `connector`; where there is none, unlinks the OAuth provider of
   * that name, which keeps the unlinking rule (409 when it is the user's last way to sign in).
   * 404 when the user has neither.
   */
  async delete(userId: string, connector: string, origin?: EventOrigin): Promise<void> {
    if (!isUserId(userId) || !nameable(connector)) throw new NotFoundError('integration not found');
    const deleted = CONNECTOR_PATTERN.test(connector) && (await this.ctx.database.run((db) => deleteIntegration(db, userId, connector)));
    if (!deleted) {
      await this.identities.unlink(userId, connector, origin).catch((err: unknown) => {
        throw err instanceof NotFoundError ? new NotFoundError('integration not found') : err;
      });
      return;
    }
    await this.ctx.audit.record('integration_deleted', { userId, data: { connector }, origin });
  }

  #reserved(connector: string): ConflictError {
    return new ConflictError(`'${connector}' is an OAuth provider: its tokens come from signing in with it, not from integrations.set`);
  }
}
