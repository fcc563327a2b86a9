import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { isUserId } from './users-repository.js';

export async function insertAuthEvent(
  db: Kysely<Database>,
  event: {
    type: string;
    user_id: string | null;
    actor_id: string | null;
    ip: string | null;
    user_agent: string | null;
    data: Record<string, unknown>;
    created_at: Date;
  },
): Promise<void> {
  await db
    .insertInto('auth_events')
    .values({ ...event, data: JSON.stringify(event.data) })
    .execute();
}

/** What the audit trail can be filtered on. */
export interface EventFilter {
  userId?: string | undefined;
  type?: string | undefined;
  /** Only events strictly older than this. */
  before?: Date | undefined;
  limit: number;
}

/** Audit events, newest first. */
export async function listAuthEvents(db: Kysely<Database>, filter: EventFilter) {
  // Events may concern a user whose id is not a uuid (none today): such a filter finds nothing.
  if (filter.userId !== undefined && !isUserId(filter.userId)) return [];
  let q = db.selectFrom('auth_events').selectAll();
  if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
  if (filter.type !== undefined) q = q.where('type', '=', filter.type);
  if (filter.before !== undefined) q = q.where('created_at', '<', filter.before);
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
}
