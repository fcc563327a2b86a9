import type { PGlite, Transaction } from '@electric-sql/pglite';
import { loadPGlite, PGLITE_PACKAGE } from '../db/load-pglite.js';
import { withPGliteLock, type PGliteLike } from '../db/pglite-dialect.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE } from '../db/migrator.js';
import { revocationChannel } from '../security/revocation.js';

/** The roles a schema holds when handed out again, as its migrations leave it. */
export const MIGRATED_ROLES: readonly string[] = ['admin', 'user'];

/**
 * One in-memory PGlite per module graph (a test worker, or a test file where the runner gives each
 * file its own modules), shared by every open test instance, each in a schema of its own. It is
 * booted by the first lease and closed when the last lease ends, so nothing outlives the tests.
 */
interface Shared {
  pglite: SharedPGlite;
  leases: number;
  /** Schemas of closed instances, emptied and migrated: the next instance starts without migrating. */
  free: string[];
  /** Tables to empty, in a safe order, per schema (found once: a schema's tables do not change while it is lent). */
  tables: Map<string, Promise<{ tables: string[]; ordered: boolean }>>;
}

let shared: Shared | undefined;
let schemas = 0;

/** A schema on the shared PGlite, lent to one test instance until `release`. */
export interface SchemaLease {
  readonly pglite: SharedPGlite;
  readonly schema: string;
  /** Whether the schema was used before (already migrated). */
  readonly reused: boolean;
  /** Empties every table but the migration records, and puts the roles back to `roles`. */
  empty(roles: readonly string[]): Promise<void>;
  /** Gives the schema back (emptied), or closes the PGlite when this was the last lease. */
  release(): Promise<void>;
}

/**
 * The shared in-memory PGlite (with pg_trgm, as `pglite://memory` opens it), usable at once: each
 * call waits for the package to load and the database to start. PGlite is imported as the tests
 * import it (one copy, one compiled WebAssembly module); when it is not installed, every call
 * rejects with a MissingPackageError naming the install command, and so does the instance's start.
 */
class SharedPGlite implements PGliteLike {
  readonly #instance: Promise<PGlite>;

  constructor() {
    this.#instance = loadPGlite('express-authlib/testing runs on', `npm install --save-dev ${PGLITE_PACKAGE}`).then(
      ({ PGlite, pg_trgm }) => new PGlite({ extensions: { pg_trgm } }),
    );
    this.#instance.catch(() => undefined); // reported by the calls that need it
  }

  async query<T>(sql: string, params?: unknown[]) {
    return (await this.#instance).query<T>(sql, params);
  }
  async exec(sql: string) {
    return (await this.#instance).exec(sql);
  }
  async listen(channel: string, callback: (payload: string) => void) {
    return (await this.#instance).listen(channel, callback);
  }
  async transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return (await this.#instance).transaction(work);
  }
  async close(): Promise<void> {
    await (await this.#instance.catch(() => undefined))?.close();
  }
}

/** Leases a schema: one used before when one is free, else a new name (migrated by the instance's start). */
export function leaseSchema(): SchemaLease {
  // Constructed synchronously: queries wait for the WebAssembly start on their own.
  const db: Shared = (shared ??= { pglite: new SharedPGlite(), leases: 0, free: [], tables: new Map() });
  db.leases += 1;
  const reusedSchema = db.free.pop();
  schemas += 1;
  const schema = reusedSchema ?? `authlib_test_${process.pid}_${schemas}`;
  let released = false;
  return {
    pglite: db.pglite,
    schema,
    reused: reusedSchema !== undefined,
    empty: (roles) => emptySchema(db, schema, roles),
    async release() {
      if (released) return;
      released = true;
      db.leases -= 1;
      if (db.leases === 0) {
        if (shared === db) shared = undefined;
        await db.pglite.close();
        return;
      }
      try {
        await emptySchema(db, schema, MIGRATED_ROLES);
        db.free.push(schema);
      } catch {
        // A start that failed half-way: the schema is not fit to lend again.
        db.tables.delete(schema);
        await withPGliteLock(db.pglite, () => db.pglite.exec(`DROP SCHEMA IF EXISTS ${quote(schema)} CASCADE`));
      }
    },
  };
}

/** `name` as a quoted SQL identifier. */
export const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** What finding the delete order needs of a database: PGlite, or a PostgreSQL client wrapped alike. */
export interface Queryable {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

/**
 * The schema's tables but the migration records and roles, each after every table that references
 * it, so plain DELETEs in that order never trip a foreign key. `ordered: false` when foreign keys
 * form a cycle (no migration makes one today): the caller then truncates. Also used by the
 * project's own test suite, which hands migrated schemas from one test app to the next the same way.
 */
export async function deleteOrder(pglite: Queryable, schema: string): Promise<{ tables: string[]; ordered: boolean }> {
  const tables = (
    await pglite.query<{ name: string }>('SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 AND NOT (tablename = ANY($2))', [
      schema,
      [MIGRATION_TABLE, MIGRATION_LOCK_TABLE, 'roles'],
    ])
  ).rows.map((r) => r.name);
  const references = (
    await pglite.query<{ child: string; parent: string }>(
      `SELECT child.relname AS child, parent.relname AS parent FROM pg_constraint c
         JOIN pg_class child ON child.oid = c.conrelid JOIN pg_class parent ON parent.oid = c.confrelid
         JOIN pg_namespace n ON n.oid = child.relnamespace
        WHERE c.contype = 'f' AND n.nspname = $1 AND child.relname <> parent.relname`,
      [schema],
    )
  ).rows;
  const order: string[] = [];
  const left = new Set(tables);
  while (left.size > 0) {
    const ready = [...left].filter((t) => !references.some((r) => r.parent === t && left.has(r.child)));
    if (ready.length === 0) return { tables, ordered: false };
    for (const t of ready.sort()) {
      order.push(t);
      left.delete(t);
    }
  }
  return { tables: order, ordered: true };
}

function tablesOf(db: Shared, schema: string): Promise<{ tables: string[]; ordered: boolean }> {
  let tables = db.tables.get(schema);
  if (!tables) {
    tables = deleteOrder(db.pglite, schema);
    db.tables.set(schema, tables);
  }
  return tables;
}

/** SQL that empties the tables of `order` (see deleteOrder), for one transaction. */
export function deleteRows(schema: string, order: { tables: string[]; ordered: boolean }): string {
  const names = order.tables.map((t) => `${quote(schema)}.${quote(t)}`);
  // DELETE, not TRUNCATE: on tables of a few rows it is ten times faster (TRUNCATE makes new files).
  return order.ordered ? names.map((name) => `DELETE FROM ${name};`).join('\n') : `TRUNCATE ${names.join(', ')} CASCADE;`;
}

/**
 * One transaction, under the lock every AuthManager on this PGlite takes, so it never lands inside
 * one of theirs. Before the rows go, every user and API token is announced as changed on the
 * schema's revocation channel: each instance drops them from its in-memory caches, exactly as
 * when they are deleted through the API, so a token issued before the reset stops working.
 */
async function emptySchema(db: Shared, schema: string, roles: readonly string[]): Promise<void> {
  const s = quote(schema);
  await withPGliteLock(db.pglite, async () => {
    const { tables, ordered } = await tablesOf(db, schema);
    await db.pglite.transaction(async (tx) => {
      const channel = revocationChannel(schema);
      await tx.query(`SELECT pg_notify($1, json_build_object('user', id)::text) FROM ${s}.users`, [channel]);
      await tx.query(`SELECT pg_notify($1, json_build_object('apiToken', id)::text) FROM ${s}.api_tokens`, [channel]);
      await tx.exec(deleteRows(schema, { tables, ordered }));
      await tx.query(`DELETE FROM ${s}.roles WHERE NOT (name = ANY($1))`, [[...roles]]);
      await tx.query(`INSERT INTO ${s}.roles (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [[...roles]]);
    });
  });
}
