import type { Transaction } from 'kysely';
import * as z from 'zod';
import type { Database } from '../db/schema.js';
import { standsForKeys } from '../services/service-key-standing.js';
import type { ApiTokenService } from '../services/api-tokens.js';
import { MAX_API_TOKEN_DAYS, scopeList } from '../services/api-tokens.js';
import type { UserService } from '../services/users.js';
import { lazySchema, parseInput } from '../validation.js';
import { accessTokenOnly } from './access-token-only.js';
import { bodyObject } from './body.js';
import { sendJson } from './respond.js';
import { targetUserResolver } from './target-user.js';
import type { Handler, Req, Routes } from './types.js';
import { idParam } from './path-params.js';
import type { EventOrigin } from '../security/audit.js';

export const createSchema = lazySchema(() =>
  z.object({
    name: z.string().trim().min(1).max(100),
    scopes: scopeList().optional(),
    expires_in_days: z.number().int().min(1).max(MAX_API_TOKEN_DAYS).nullish(),
  }),
);

export interface ApiTokenRouteDeps {
  apiTokens: ApiTokenService;
  users: UserService;
  adminRole: string;
  authenticate: Handler;
  origin: (req: Req) => EventOrigin;
}

/** `/{user}/api-tokens`: the caller's own tokens (`me` or their id), or anyone's for an admin. */
export function mountApiTokenRoutes(router: Routes, d: ApiTokenRouteDeps): void {
  const targetUser = targetUserResolver(d.users, d.adminRole);

  router.post('/:user/api-tokens', d.authenticate, accessTokenOnly, async (req, res) => {
    const userId = await targetUser(req);
    const input = parseInput(createSchema(), bodyObject(req));
    // A site admin minting for someone else: the token is theirs to answer for, and ends when they stop being one.
    const actorId = req.auth!.user.id;
    const minter = actorId === userId ? undefined : { id: actorId, stands: (trx: Transaction<Database>) => standsForKeys(trx, d.adminRole, actorId, null) };
    const created = await d.apiTokens.create(
      userId,
      { name: input.name, scopes: input.scopes, expiresInDays: input.expires_in_days ?? null },
      d.origin(req),
      minter,
    );
    sendJson(res, 201, created, true);
  });

  router.get('/:user/api-tokens', d.authenticate, accessTokenOnly, async (req, res) => {
    sendJson(res, 200, await d.apiTokens.list(await targetUser(req)));
  });

  router.delete('/:user/api-tokens/:tokenId', d.authenticate, accessTokenOnly, async (req, res) => {
    await d.apiTokens.revoke(await targetUser(req), idParam(req, 'tokenId'), d.origin(req));
    sendJson(res, 200, { success: true });
  });
}
