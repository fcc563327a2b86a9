import type { TestApp } from './app.js';
import { rawQuery } from './database.js';

/** How many users the app's schema holds. */
export async function userCount(app: TestApp): Promise<number> {
  const rows = await rawQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${app.schema}".users`);
  return Number(rows[0]!.n);
}

/** A user row as stored (email, and whether it is verified). */
export async function userRow(app: TestApp, id: string) {
  const rows = await rawQuery<{ id: string; username: string; email: string | null; email_verified: boolean; password_hash: string | null }>(
    `SELECT id, username, email, email_verified, password_hash FROM "${app.schema}".users WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/** The linked provider accounts as stored, of one user or of everyone. */
export async function accountRows(app: TestApp, userId?: string) {
  return userId === undefined
    ? rawQuery<Record<string, unknown>>(`SELECT * FROM "${app.schema}".oauth_accounts`)
    : rawQuery<Record<string, unknown>>(`SELECT * FROM "${app.schema}".oauth_accounts WHERE user_id = $1`, [userId]);
}

/** How many OAuth states wait in the table. */
export async function stateCount(app: TestApp): Promise<number> {
  const rows = await rawQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${app.schema}".oauth_states`);
  return Number(rows[0]!.n);
}
