import { sql, type Kysely } from 'kysely';
import { ServiceUnavailableError } from '../errors.js';

/**
 * Fails the start of a database the app passes as `db` that has `pg_trgm` installed but cannot load it. The
 * admin migration puts trigram indexes on `users`, so every later opening of that database must
 * load the extension: a PGlite instance an app passes as `db` without it opens and migrates
 * fine, then fails each write to `users` with PGlite's own "could not access file" error. Asked
 * here, once at start-up, the mistake is one message naming the fix instead of failed sign-ups.
 */
export async function checkTrigramLoaded(root: Kysely<any>): Promise<void> {
  const { rows } = await sql<{
    ns: string;
  }>`SELECT n.nspname AS ns FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`.execute(root);
  const ns = rows[0]?.ns;
  if (ns === undefined) return; // never installed: search scans, nothing else needs it
  try {
    await sql`SELECT ${sql.id(ns)}.show_trgm('ab')`.execute(root);
  } catch (err) {
    // 58P01: PostgreSQL could not load the extension's code into this instance.
    if ((err as { code?: unknown }).code !== '58P01') throw err;
    throw new ServiceUnavailableError(
      'this database has the pg_trgm extension (its user-search indexes need it on every write to users), but the database passed as `db` ' +
        "cannot load it; for PGlite, create it with new PGlite({ extensions: { pg_trgm } }) from '@electric-sql/pglite/contrib/pg_trgm'",
      { code: 'database_error' },
    );
  }
}
