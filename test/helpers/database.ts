import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import pg from 'pg';

/** PostgreSQL DSN to test against; without it the suite runs on embedded PGlite. */
export const TEST_DSN = process.env.AUTHLIB_TEST_DSN;
export const DB_KIND: 'postgres' | 'pglite' = TEST_DSN ? 'postgres' : 'pglite';

let shared: Promise<PGlite> | undefined;

/** One in-memory PGlite per test worker, shared by every file the worker runs (each in its own schema). */
export function sharedPGlite(): Promise<PGlite> {
  shared ??= (async () => {
    // As the library opens embedded databases: with pg_trgm, which backs the admin user search.
    const instance = new PGlite({ extensions: { pg_trgm } });
    await instance.waitReady;
    return instance;
  })();
  return shared;
}

/** A schema name no other test file uses. */
export function uniqueSchema(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Where an AuthManager under test keeps its data: `db` (shared PGlite) or `dbDsn` (PostgreSQL). */
export async function databaseOptions(): Promise<{ db: PGlite } | { dbDsn: string }> {
  return TEST_DSN ? { dbDsn: TEST_DSN } : { db: await sharedPGlite() };
}

/** Runs one SQL statement against the test database, outside any AuthManager. */
export async function rawQuery<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  if (TEST_DSN) {
    const client = new pg.Client({ connectionString: TEST_DSN });
    await client.connect();
    try {
      return (await client.query(text, params)).rows as T[];
    } finally {
      await client.end();
    }
  }
  const db = await sharedPGlite();
  return (await db.query<T>(text, params)).rows;
}

export async function dropSchema(schema: string): Promise<void> {
  await rawQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
