import { NotFoundError } from '../errors.js';
import { findLiveSession, listLiveSessions, type SessionRow } from '../db/sessions-repository.js';
import { revokeSession } from '../db/refresh-tokens-repository.js';
import { findUserById, isUserId, lockUser } from '../db/users-repository.js';
import type { EventOrigin } from '../security/audit.js';
import type { ServiceContext } from './context.js';

/** One login as its user (or a site admin) sees it. */
export interface Session {
  id: string;
  created_at: string;
  /** The sign-in, or the latest refresh of its access token. */
  last_used_at: string;
  ip: string | null;
  /** A short summary of the browser and system ("Chrome on macOS"), never the User-Agent itself. */
  device: string | null;
  /** Whether this is the login the request came with. */
  current: boolean;
}

const notFound = () => new NotFoundError('session not found');

function toSession(row: SessionRow, currentId: string | undefined): Session {
  return {
    id: row.id,
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at.toISOString(),
    ip: row.ip,
    device: row.device,
    current: row.id === currentId,
  };
}

/**
 * The logins of a user that are still going (each a refresh-token family, `sid` in its access
 * tokens), and ending one of them: its refresh tokens in the database and its access tokens on
 * every instance at once, as a logout of it does.
 */
export class UserSessionService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The user's live logins, most recently used first; `currentId` marks the caller's own. */
  async list(userId: string, currentId?: string): Promise<Session[]> {
    const rows = await this.ctx.database.run(async (db) => {
      if (!(await findUserById(db, userId))) throw new NotFoundError('user not found');
      return listLiveSessions(db, userId, this.ctx.opts.now());
    });
    return rows.map((row) => toSession(row, currentId));
  }

  /**
   * Ends one live login of the user. Another user's login, one that is over and one that never
   * was answer alike (404), so ids cannot be probed. Audited as `session_revoked`.
   */
  async revoke(userId: string, sessionId: string, origin?: EventOrigin): Promise<void> {
    if (typeof sessionId !== 'string' || !isUserId(sessionId) || !isUserId(userId)) throw notFound();
    const now = this.ctx.opts.now();
    await this.ctx.database.run((db) =>
      this.ctx.revocation.commit(db, { session: sessionId }, async (trx) => {
        // The lock a refresh takes first: a rotation of this login either committed before or sees it revoked.
        await lockUser(trx, userId);
        if (!(await findLiveSession(trx, userId, sessionId, now))) throw notFound();
        await revokeSession(trx, sessionId, now);
      }),
    );
    await this.ctx.audit.record('session_revoked', { userId, data: { session_id: sessionId }, origin });
  }
}
