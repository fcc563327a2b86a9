import { z } from 'zod';
import { NotFoundError } from '../errors.js';
import { deleteApiToken, findApiToken, insertApiToken, listApiTokens, touchApiToken } from '../db/api-tokens-repository.js';
import type { ApiTokenRow } from '../db/schema.js';
import { findUserById, isUserId } from '../db/users-repository.js';
import { generateApiToken, parseApiToken } from '../tokens/api-token.js';
import { constantTimeEqual, sha256 } from '../tokens/secrets.js';
import { parseInput } from '../validation.js';
import type { EventOrigin } from '../security/audit.js';
import type { ServiceContext } from './context.js';

/** `last_used_at` is written at most this often per token, so busy tokens do not write on every request. */
export const LAST_USED_RESOLUTION_MS = 60_000;
/** Longest allowed API-token lifetime. */
export const MAX_API_TOKEN_DAYS = 3650;

/** An API token as listed (never its secret). */
export interface ApiTokenInfo {
  id: string;
  name: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

/** An API token as created: the only time `token` is shown. */
export interface CreatedApiToken extends Omit<ApiTokenInfo, 'last_used_at'> {
  token: string;
}

export const scopeList = z.array(z.string().regex(/^[A-Za-z0-9_.:/*-]{1,100}$/, 'must be 1-100 of A-Z a-z 0-9 _ . : / * -')).max(50);

const createSchema = z.object({
  name: z.string().trim().min(1).max(100),
  scopes: scopeList.optional(),
  expiresInDays: z.number().int().min(1).max(MAX_API_TOKEN_DAYS).nullish(),
});

function toInfo(row: ApiTokenRow): ApiTokenInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at ? row.expires_at.toISOString() : null,
    last_used_at: row.last_used_at ? row.last_used_at.toISOString() : null,
  };
}

/** Why an API token was not accepted, or the row and owner id it stands for. */
export type ApiTokenCheck = { ok: true; row: ApiTokenRow } | { ok: false; code: 'invalid_token' | 'token_expired' };

/** Per-user API tokens: `auth.apiTokens`. */
export class ApiTokenService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Creates a token for `userId`; the returned `token` is never retrievable again. */
  async create(userId: string, input: { name: string; scopes?: string[]; expiresInDays?: number | null }, origin?: EventOrigin): Promise<CreatedApiToken> {
    const data = parseInput(createSchema, input);
    const now = this.ctx.opts.now();
    const { id, token } = generateApiToken();
    const row = await this.ctx.database.run(async (db) => {
      if (!(await findUserById(db, userId))) throw new NotFoundError('user not found');
      return insertApiToken(db, {
        id,
        user_id: userId,
        name: data.name,
        token_hash: sha256(token),
        scopes: [...new Set(data.scopes ?? [])],
        created_at: now,
        expires_at: data.expiresInDays ? new Date(now.getTime() + data.expiresInDays * 86_400_000) : null,
      });
    });
    const { last_used_at: _unused, ...info } = toInfo(row);
    await this.ctx.audit.record('api_token_created', { userId, data: { token_id: id, name: info.name, scopes: info.scopes }, origin });
    return { ...info, token };
  }

  async list(userId: string): Promise<ApiTokenInfo[]> {
    if (!isUserId(userId)) return [];
    const rows = await this.ctx.database.run((db) => listApiTokens(db, userId));
    return rows.map(toInfo);
  }

  /** Deletes one of the user's tokens; 404 when it does not exist or belongs to someone else. */
  async revoke(userId: string, tokenId: string, origin?: EventOrigin): Promise<void> {
    const deleted = isUserId(userId) && typeof tokenId === 'string' && /^[0-9A-Za-z]{8}$/.test(tokenId) && (await this.ctx.database.run((db) => deleteApiToken(db, userId, tokenId)));
    if (!deleted) throw new NotFoundError('API token not found');
    await this.ctx.audit.record('api_token_deleted', { userId, data: { token_id: tokenId }, origin });
  }

  /** Looks the token up by its public id and compares hashes in constant time. One database read. */
  async check(token: string): Promise<ApiTokenCheck> {
    const parsed = parseApiToken(token);
    if (!parsed) return { ok: false, code: 'invalid_token' };
    const row = await this.ctx.database.run((db) => findApiToken(db, parsed.id));
    if (!row || !constantTimeEqual(sha256(token), row.token_hash)) return { ok: false, code: 'invalid_token' };
    const now = this.ctx.opts.now();
    if (row.expires_at && row.expires_at <= now) return { ok: false, code: 'token_expired' };
    if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
      // At most once a minute per token, so it is written before the request goes on (the listing
      // then always shows the use); bookkeeping only, so a failure does not fail the request.
      await this.ctx.database.run((db) => touchApiToken(db, row.id, now)).catch((err: Error) => this.ctx.logger.warn({ err: { message: err.message } }, 'express-authlib: could not record API token use'));
    }
    return { ok: true, row };
  }
}
