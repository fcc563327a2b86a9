import * as z from 'zod';
import { ForbiddenError, NotFoundError } from '../errors.js';
import { isForeignKeyViolation } from '../db/unavailable.js';
import { deleteApiToken, findApiToken, insertApiToken, listApiTokens, touchApiToken, type ApiTokenOwner } from '../db/api-tokens-repository.js';
import type { Kysely, Transaction } from 'kysely';
import { lockGroup, lockHierarchy } from '../db/groups-repository.js';
import type { ApiTokenRow, Database } from '../db/schema.js';
import { findUserById, isUserId, lockUser } from '../db/users-repository.js';
import { generateApiToken, parseApiToken } from '../tokens/api-token.js';
import { constantTimeEqual, sha256 } from '../tokens/secrets.js';
import { lazySchema, parseInput } from '../validation.js';
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

export const scopeList = lazySchema(() => z.array(z.string().regex(/^[A-Za-z0-9_.:/*-]{1,100}$/, 'must be 1-100 of A-Z a-z 0-9 _ . : / * -')).max(50));

const createSchema = lazySchema(() =>
  z.object({
    name: z.string().trim().min(1).max(100),
    scopes: scopeList().optional(),
    expiresInDays: z.number().int().min(1).max(MAX_API_TOKEN_DAYS).nullish(),
  }),
);

/** Input of `auth.apiTokens.create` and of a service key. */
export interface ApiTokenInput {
  name: string;
  scopes?: string[];
  expiresInDays?: number | null;
}

/** Who mints a service key, and how to tell (inside the minting transaction) that they still may. */
export interface KeyMinter {
  id: string;
  stands: (trx: Transaction<Database>) => Promise<boolean>;
}

/** A user's token is audited as that user's event; a service key as the group's (in `data`), with the actor. */
const auditOwner = (owner: ApiTokenOwner) => ({ userId: 'user_id' in owner ? owner.user_id : null });
const groupOf = (owner: ApiTokenOwner) => ('group_id' in owner ? { group_id: owner.group_id } : {});

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

type Db = Kysely<Database>;

/** Why an API token was not accepted, or the row and owner id it stands for. */
export type ApiTokenCheck = { ok: true; row: ApiTokenRow } | { ok: false; code: 'invalid_token' | 'token_expired' };

/** API tokens: per user (`auth.apiTokens`), and per group (service keys, managed through the groups service). */
export class ApiTokenService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Creates a token for `userId`; the returned `token` is never retrievable again. `minter`: the
   * site admin who mints it for someone else; the token then lives only while they stay one.
   */
  create(userId: string, input: ApiTokenInput, origin?: EventOrigin, minter?: KeyMinter): Promise<CreatedApiToken> {
    return this.#create(
      { user_id: userId },
      input,
      origin,
      async (db) => {
        if (!(await findUserById(db, userId))) throw new NotFoundError('user not found');
      },
      minter,
    );
  }

  /**
   * Creates a service key: a token that acts for the group `groupId`, not for a person. The caller
   * (the groups service) has checked that the group exists and that the actor administers it.
   */
  createForGroup(groupId: string, input: ApiTokenInput, origin?: EventOrigin, minter?: KeyMinter): Promise<CreatedApiToken> {
    return this.#create({ group_id: groupId }, input, origin, undefined, minter).catch((err: unknown) => {
      // The group was deleted meanwhile: its foreign key refuses the token.
      if (isForeignKeyViolation(err)) throw new NotFoundError('group not found');
      throw err;
    });
  }

  async list(userId: string): Promise<ApiTokenInfo[]> {
    if (!isUserId(userId)) return [];
    return this.#list({ user_id: userId });
  }

  /** The service keys of a group (never their secrets). */
  listForGroup(groupId: string): Promise<ApiTokenInfo[]> {
    return this.#list({ group_id: groupId });
  }

  /** Deletes one of the user's tokens; 404 when it does not exist or belongs to someone else. */
  async revoke(userId: string, tokenId: string, origin?: EventOrigin): Promise<void> {
    if (!isUserId(userId)) throw new NotFoundError('API token not found');
    await this.#revoke({ user_id: userId }, tokenId, origin);
  }

  /** Deletes one of a group's service keys; 404 when it does not exist or belongs to another owner. */
  revokeForGroup(groupId: string, tokenId: string, origin?: EventOrigin): Promise<void> {
    return this.#revoke({ group_id: groupId }, tokenId, origin);
  }

  async #create(
    owner: ApiTokenOwner,
    input: ApiTokenInput,
    origin: EventOrigin | undefined,
    check?: (db: Db) => Promise<void>,
    minter?: KeyMinter,
  ): Promise<CreatedApiToken> {
    const data = parseInput(createSchema(), input);
    const now = this.ctx.opts.now();
    const { id, token } = generateApiToken();
    const insert = (db: Db | Transaction<Database>) =>
      insertApiToken(db, {
        ...owner,
        id,
        name: data.name,
        token_hash: sha256(token),
        scopes: [...new Set(data.scopes ?? [])],
        created_at: now,
        expires_at: data.expiresInDays ? new Date(now.getTime() + data.expiresInDays * 86_400_000) : null,
        ...(minter ? { created_by: minter.id } : {}),
      });
    const row = await this.ctx.database.run(async (db) => {
      await check?.(db);
      if (!minter) return insert(db);
      // Same order of locks for a user's token minted by an admin: the minter's user row decides.
      // The minter's standing is checked again under the locks the changes of it take (the
      // hierarchy, the group, then the user, in that order), so a key cannot be minted just as its
      // minter is removed and outlive them: either the removal sees the key and revokes it, or
      // this sees the removal.
      return db.transaction().execute(async (trx) => {
        await lockHierarchy(trx);
        if ('group_id' in owner && !(await lockGroup(trx, owner.group_id))) throw new NotFoundError('group not found');
        if (!(await lockUser(trx, minter.id)) || !(await minter.stands(trx))) throw new ForbiddenError('forbidden', 'only an admin can do this');
        return insert(trx);
      });
    });
    const { last_used_at: _unused, ...info } = toInfo(row);
    await this.ctx.audit.record('api_token_created', {
      ...auditOwner(owner),
      data: { token_id: id, name: info.name, scopes: info.scopes, ...groupOf(owner) },
      origin,
    });
    return { ...info, token };
  }

  async #list(owner: ApiTokenOwner): Promise<ApiTokenInfo[]> {
    const rows = await this.ctx.database.run((db) => listApiTokens(db, owner));
    return rows.map(toInfo);
  }

  async #revoke(owner: ApiTokenOwner, tokenId: string, origin: EventOrigin | undefined): Promise<void> {
    if (typeof tokenId !== 'string' || !/^[0-9A-Za-z]{8}$/.test(tokenId)) throw new NotFoundError('API token not found');
    // Announced like every revocation: each instance drops the token from its cache at once.
    await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { apiToken: tokenId }, async (trx) => {
        if (!(await deleteApiToken(trx, owner, tokenId))) throw new NotFoundError('API token not found');
      }),
    );
    await this.ctx.audit.record('api_token_deleted', { ...auditOwner(owner), data: { token_id: tokenId, ...groupOf(owner) }, origin });
  }

  /**
   * Looks the token up by its public id (in memory when it was read in the last 30 s; a deletion
   * anywhere evicts it at once) and compares hashes in constant time.
   */
  async check(token: string): Promise<ApiTokenCheck> {
    const known = this.checkNow(token);
    if (known) return known;
    const parsed = parseApiToken(token)!;
    const epoch = this.ctx.revocation.apiTokenEpoch();
    const row = await this.ctx.database.run((db) => findApiToken(db, parsed.id));
    if (row) this.ctx.revocation.rememberApiToken(row, epoch);
    const result = this.#judge(token, row);
    // On a miss the use is written before the request goes on, so a listing right after shows it.
    if (result.ok && this.#useDue(result.row)) await this.#recordUse(result.row.id);
    return result;
  }

  /**
   * A token's row by its public id, while it exists and has not expired (in memory when read in
   * the last 30 s; a deletion anywhere evicts it at once): for what was derived from the token.
   */
  async live(id: string): Promise<ApiTokenRow | undefined> {
    let row = this.ctx.revocation.peekApiToken(id);
    if (!row) {
      const epoch = this.ctx.revocation.apiTokenEpoch();
      row = await this.ctx.database.run((db) => findApiToken(db, id));
      if (row) this.ctx.revocation.rememberApiToken(row, epoch);
    }
    return row && this.isLive(row) ? row : undefined;
  }

  /** Whether a token's row has not expired. */
  isLive(row: ApiTokenRow): boolean {
    return !row.expires_at || row.expires_at > this.ctx.opts.now();
  }

  /** The check without waiting, when the row is cached; undefined when it must be read. */
  checkNow(token: string): ApiTokenCheck | undefined {
    const parsed = parseApiToken(token);
    if (!parsed) return { ok: false, code: 'invalid_token' };
    const row = this.ctx.revocation.peekApiToken(parsed.id);
    if (!row) return undefined;
    const result = this.#judge(token, row);
    if (result.ok && this.#useDue(row)) this.ctx.background.track(this.#recordUse(row.id));
    return result;
  }

  #judge(token: string, row: ApiTokenRow | undefined): ApiTokenCheck {
    if (!row || !constantTimeEqual(sha256(token), row.token_hash)) return { ok: false, code: 'invalid_token' };
    if (row.expires_at && row.expires_at <= this.ctx.opts.now()) return { ok: false, code: 'token_expired' };
    return { ok: true, row };
  }

  /** `last_used_at` is written at most once a minute per token and instance. */
  readonly #usedAt = new Map<string, number>();

  #useDue(row: ApiTokenRow): boolean {
    const now = this.ctx.opts.now().getTime();
    const last = Math.max(this.#usedAt.get(row.id) ?? 0, row.last_used_at?.getTime() ?? 0);
    if (now - last <= LAST_USED_RESOLUTION_MS) return false;
    if (this.#usedAt.size >= 10_000) this.#usedAt.clear();
    this.#usedAt.set(row.id, now);
    return true;
  }

  /** Bookkeeping only: a failure is logged, never fails the request. */
  #recordUse(id: string): Promise<void> {
    return this.ctx.database
      .run((db) => touchApiToken(db, id, this.ctx.opts.now()))
      .catch((err: Error) => this.ctx.logger.warn({ err: { message: err.message } }, 'express-authlib: could not record API token use'));
  }
}
