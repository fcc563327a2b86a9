import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function insertAuthEvent(
  db: Kysely<Database>,
  event: { type: string; user_id: string | null; actor_id: string | null; ip: string | null; user_agent: string | null; data: Record<string, unknown>; created_at: Date },
): Promise<void> {
  await db
    .insertInto('auth_events')
    .values({ ...event, data: JSON.stringify(event.data) })
    .execute();
}
