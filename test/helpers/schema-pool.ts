import pg from 'pg';
import { withPGliteLock } from '../../src/db/pglite-dialect.js';
import { deleteOrder, deleteRows, MIGRATED_ROLES, quote, type Queryable } from '../../src/testing/test-database.js';
import { sharedPGlite, TEST_DSN, uniqueSchema } from './database.js';

// Migrated schemas, handed from one test app to the next within a worker. Migrating a fresh schema
// is most of what starting a test app costs (19 migrations: half a second or more on a loaded
// machine, some 200 times per database per run). A schema given back is lent again, emptied as
// express-authlib/testing empties its own, unless anything about its make-up changed since its
// migrations (a test altered a table, added an index, granted a privilege): then it is dropped.
// What a second instance on the schema writes after the app's close is emptied with the rest when
// the schema is lent again; a test closes every instance it starts before it ends, as it must.

/** The prefix of this run's schemas; the run's global teardown drops whatever is left under it. */
export const POOL_PREFIX = process.env.AUTHLIB_TEST_POOL_PREFIX ?? 'tpool';

/** Schemas given back, to be checked and emptied when lent again. */
const free: string[] = [];
/** Schemas lent out. */
const lent = new Set<string>();
/** Per schema, its make-up right after its migrations (see `makeUp`). */
const migrated = new Map<string, string>();
/** Per schema, its tables in an order plain DELETEs can follow (found once: a schema's tables do not change while it is kept). */
const orders = new Map<string, { tables: string[]; ordered: boolean }>();

interface Session extends Queryable {
  exec(sql: string): Promise<unknown>;
}

// One connection of the pool's own on PostgreSQL, closed when idle so that it never keeps a worker alive.
const postgres = TEST_DSN ? new pg.Pool({ connectionString: TEST_DSN, max: 1, idleTimeoutMillis: 1000, allowExitOnIdle: true }) : undefined;

/** A session on the test database: the pool's connection on PostgreSQL, the shared PGlite under the lock every instance on it takes. */
async function withSession<T>(work: (db: Session) => Promise<T>): Promise<T> {
  if (postgres) {
    return work({
      query: async <R>(sql: string, params?: unknown[]) => ({ rows: (await postgres.query(sql, params)).rows as R[] }),
      exec: (sql) => postgres.query(sql),
    });
  }
  const pglite = await sharedPGlite();
  return withPGliteLock(pglite, () => work(pglite));
}

/**
 * The schema's make-up as its catalog rows' versions: every DDL statement and GRANT on the schema,
 * its relations, columns, constraints, triggers or functions writes a new version of at least one
 * of these rows (a row's xmin), or adds or removes one. Rows of data never touch them.
 */
async function makeUp(db: Session, schema: string): Promise<string> {
  const { rows } = await db.query<{ digest: string }>(
    `WITH ns AS MATERIALIZED (SELECT oid, xmin, nspacl FROM pg_namespace WHERE nspname = $1),
          rel AS MATERIALIZED (SELECT oid, xmin FROM pg_class WHERE relnamespace = (SELECT oid FROM ns))
     SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) AS digest FROM (
       SELECT 'n' || xmin::text || coalesce(nspacl::text, '') AS x FROM ns
       UNION ALL SELECT 'c' || oid::text || ':' || xmin::text FROM rel
       UNION ALL SELECT 'a' || a.attrelid::text || '.' || a.attnum::text || ':' || a.xmin::text FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid
       UNION ALL SELECT 'k' || k.oid::text || ':' || k.xmin::text FROM pg_constraint k WHERE k.connamespace = (SELECT oid FROM ns)
       UNION ALL SELECT 't' || t.oid::text || ':' || t.xmin::text FROM rel JOIN pg_trigger t ON t.tgrelid = rel.oid
       UNION ALL SELECT 'p' || p.oid::text || ':' || p.xmin::text FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns)
     ) parts`,
    [schema],
  );
  return rows[0]!.digest;
}

/**
 * A schema for a new test app: one given back earlier, emptied now (so that nothing an instance
 * wrote after its owner's close is left), when its make-up is still what its migrations made;
 * else a new name, which the app's start migrates.
 */
export async function takeSchema(): Promise<string> {
  while (free.length > 0) {
    const schema = free.pop()!;
    if (await withSession((db) => emptied(db, schema)).catch(() => false)) {
      lent.add(schema);
      return schema;
    }
    migrated.delete(schema);
    orders.delete(schema);
    await withSession((db) => db.exec(`DROP SCHEMA IF EXISTS ${quote(schema)} CASCADE`));
  }
  const schema = uniqueSchema(POOL_PREFIX);
  lent.add(schema);
  return schema;
}

/** Called once the app on `schema` is ready: a fresh schema's make-up is recorded, and its delete order found. */
export async function schemaReady(schema: string): Promise<void> {
  if (!lent.has(schema) || migrated.has(schema)) return;
  await withSession(async (db) => {
    migrated.set(schema, await makeUp(db, schema));
    orders.set(schema, await deleteOrder(db, schema));
  });
}

/** Takes back the schema of a closed test app (once; again is a no-op). */
export function giveBackSchema(schema: string): void {
  if (lent.delete(schema) && migrated.has(schema)) free.push(schema);
}

/** Empties `schema` (every row but the migration records; the roles as migrated) if its make-up is unchanged; false if it changed. */
async function emptied(db: Session, schema: string): Promise<boolean> {
  const order = orders.get(schema);
  if (!order || (await makeUp(db, schema)) !== migrated.get(schema)) return false;
  const roles = MIGRATED_ROLES.map((r) => `'${r}'`);
  await db.exec(
    [
      'BEGIN;',
      deleteRows(schema, order),
      `DELETE FROM ${quote(schema)}.roles WHERE name NOT IN (${roles.join(', ')});`,
      `INSERT INTO ${quote(schema)}.roles (name) VALUES ${roles.map((r) => `(${r})`).join(', ')} ON CONFLICT DO NOTHING;`,
      'COMMIT;',
    ].join('\n'),
  );
  return true;
}
