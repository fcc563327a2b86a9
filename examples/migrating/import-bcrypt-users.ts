import { AuthError, type AuthManager } from 'express-authlib';

/** A pg.Pool (or PGlite) on the database that holds both the old `users` table and the library's schema. */
export interface Db {
  query(text: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

/** Copies the old app's users with their bcrypt hashes; returns old id -> new id, and the rows the library refused. */
export async function importUsers(auth: AuthManager, db: Db, schema = 'authlib') {
  await auth.ready;
  const ids = new Map<number, string>();
  const refused: { id: number; username: string; code: string }[] = [];
  const { rows } = await db.query('SELECT id, username, email, password_hash, role FROM users ORDER BY id');
  for (const row of rows) {
    try {
      // As registration does: checks the name and address, derives their lookup keys, audits user_created.
      const roles = row.role === 'admin' ? ['admin', 'user'] : ['user'];
      const user = await auth.users.create({ username: row.username, email: row.email, roles });
      // No call takes a ready-made hash, so this one column is written in SQL; plain $2a$/$2b$/$2y$ hashes verify as they are.
      await db.query(`UPDATE "${schema}".users SET password_hash = $1 WHERE id = $2`, [row.password_hash, user.id]);
      ids.set(row.id, user.id);
    } catch (err) {
      // 400 validation_error (a name the library refuses), 409 conflict (taken; or Alice and alice, one name here).
      if (!(err instanceof AuthError)) throw err;
      refused.push({ id: row.id, username: row.username, code: err.code });
    }
  }
  return { ids, refused };
}
