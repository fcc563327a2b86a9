import { sql, type ExpressionBuilder, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database, SessionsTable } from './schema.js';
import { isUserId } from './users-repository.js';

type Db = Kysely<Database> | Transaction<Database>;

export type SessionRow = Selectable<SessionsTable>;

/** Where a login came from: the client address and the summary of its User-Agent. */
export interface SessionPlace {
  ip: string | null;
  device: string | null;
}

/** A new login; `passkey_id` names the passkey that opened it (first or second factor), if one did. */
export async function insertSession(db: Db, row: { id: string; user_id: string; created_at: Date; passkey_id?: string | null } & SessionPlace): Promise<void> {
  await db
    .insertInto('sessions')
    .values({ ...row, last_used_at: row.created_at })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** A refresh: the login was used now, from here (a place that is unknown keeps the last known one). */
export async function touchSession(db: Db, id: string, at: Date, place: SessionPlace): Promise<void> {
  await db
    .updateTable('sessions')
    .set({
      last_used_at: at,
      ...(place.ip !== null ? { ip: place.ip } : {}),
      ...(place.device !== null ? { device: place.device } : {}),
    })
    .where('id', '=', id)
    .execute();
}

/** A live refresh token of the login: unused, unrevoked, unexpired. Logins without one are over. */
const live = (now: Date) => (eb: ExpressionBuilder<Database, 'sessions'>) =>
  eb.exists(
    eb
      .selectFrom('refresh_tokens')
      .select('refresh_tokens.id')
      .whereRef('refresh_tokens.family_id', '=', 'sessions.id')
      .where('refresh_tokens.revoked_at', 'is', null)
      .where('refresh_tokens.used_at', 'is', null)
      .where('refresh_tokens.expires_at', '>', now),
  );

/** The user's logins that are still going, most recently used first. */
export function listLiveSessions(db: Db, userId: string, now: Date): Promise<SessionRow[]> {
  return db.selectFrom('sessions').selectAll().where('user_id', '=', userId).where(live(now)).orderBy('last_used_at', 'desc').orderBy('id').execute();
}

/** One login of the user that is still going, or undefined (over, another user's, or no such id). */
export function findLiveSession(db: Db, userId: string, id: string, now: Date): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).where('user_id', '=', userId).where(live(now)).executeTakeFirst();
}

/** When the user's login `id` began (its sign-in: a refresh does not move it), or undefined for no such login of theirs. */
export async function sessionStartedAt(db: Db, userId: string, id: string): Promise<Date | undefined> {
  if (!isUserId(id) || !isUserId(userId)) return undefined;
  const row = await db.selectFrom('sessions').select('created_at').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return row?.created_at;
}

/** The ids of the user's logins, still going, that `passkeyId` opened. */
export async function liveSessionsOpenedBy(db: Db, userId: string, passkeyId: string, now: Date): Promise<string[]> {
  const rows = await db.selectFrom('sessions').select('id').where('user_id', '=', userId).where('passkey_id', '=', passkeyId).where(live(now)).execute();
  return rows.map((r) => r.id);
}

/** Whether the user has ever signed in before, and whether from a device with this summary. */
export async function deviceHistory(db: Db, userId: string, device: string | null): Promise<{ any: boolean; thisDevice: boolean }> {
  const rows = await db
    .selectFrom('sessions')
    .select((eb) => [
      eb.fn.countAll<string | number>().as('any'),
      eb.fn.count<string | number>(device === null ? sql`case when device is null then 1 end` : sql`case when device = ${device} then 1 end`).as('same'),
    ])
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return { any: Number(rows.any) > 0, thisDevice: Number(rows.same) > 0 };
}
