import type { Account, DBAdapter, User as BetterAuthUser } from 'better-auth';
import { AuthError, type AuthManager } from 'express-authlib';

/** A pg.Pool (or PGlite) on the database that holds the library's schema. */
export interface Db {
  query(text: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

/** better-auth's user, with the admin plugin's fields. */
type SourceUser = BetterAuthUser & { role?: string | null; banned?: boolean | null };

/**
 * Copies better-auth's users, read through its own adapter (whatever its database), with their
 * scrypt hashes, which `betterAuthHasher` verifies; returns old id -> new id, and the users refused.
 */
export async function importUsers(source: { $context: Promise<{ adapter: Pick<DBAdapter, 'findMany'> }> }, auth: AuthManager, db: Db, schema = 'authlib') {
  const { adapter } = await source.$context;
  await auth.ready;
  const ids = new Map<string, string>();
  const refused: { id: string; email: string; code: string }[] = [];
  for (let offset = 0; ; offset += 500) {
    const users = await adapter.findMany<SourceUser>({ model: 'user', sortBy: { field: 'createdAt', direction: 'asc' }, limit: 500, offset });
    if (users.length === 0) break;
    for (const old of users) {
      try {
        const name = old.email
          .split('@')[0]!
          .replace(/[^\p{L}\p{N}_.-]/gu, '_')
          .slice(0, 48)
          .padEnd(3, '_');
        const username = (await auth.users.findByIdentifier(name)) ? `${name}-${old.id.slice(0, 8).toLowerCase()}` : name;
        const roles = [...new Set(['user', ...(old.role ?? 'user').split(',').map((role) => role.trim())])];
        const user = await auth.users.create({
          username,
          email: old.email,
          real_name: old.name,
          email_verified: old.emailVerified,
          is_active: !old.banned,
          roles,
        });
        const [credential] = await adapter.findMany<Account>({
          model: 'account',
          where: [
            { field: 'userId', value: old.id },
            { field: 'providerId', value: 'credential' },
          ],
        });
        // No call takes a ready-made hash, so this one column is written in SQL.
        if (credential?.password) await db.query(`UPDATE "${schema}".users SET password_hash = $1 WHERE id = $2`, [credential.password, user.id]);
        ids.set(old.id, user.id);
      } catch (err) {
        // 400 validation_error (e.g. an unknown role), 409 conflict.
        if (!(err instanceof AuthError)) throw err;
        refused.push({ id: old.id, email: old.email, code: err.code });
      }
    }
  }
  return { ids, refused };
}
