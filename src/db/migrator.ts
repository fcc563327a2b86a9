import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { DATA_STEPS } from './data-steps.js';
import { withSchemaIntrospection } from './schema-introspector.js';

/** Name of the table recording applied migrations (inside `dbSchema`). */
export const MIGRATION_TABLE = 'authlib_migrations';
export const MIGRATION_LOCK_TABLE = 'authlib_migrations_lock';

/** The `sql/` folder ships beside `src/` in the repository and beside `dist/` in the package. */
function findSqlDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'sql');
    if (existsSync(join(candidate, '0001_init.sql'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('express-authlib: cannot find the sql/ migrations folder next to the package');
}

/** Numbered `sql/*.sql` files as Kysely migrations, each run with search_path set to the schema. */
class SqlFileProvider implements MigrationProvider {
  constructor(private readonly schema: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const dir = findSqlDir();
    const files = (await readdir(dir)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const text = await readFile(join(dir, file), 'utf8');
      const name = file.replace(/\.sql$/, '');
      migrations[name] = {
        up: async (db) => {
          // Kysely runs PostgreSQL migrations in a transaction, so SET LOCAL ends with it.
          await sql`set local search_path to ${sql.id(this.schema)}`.execute(db);
          await sql.raw(text).execute(db);
          await DATA_STEPS[name]?.(db);
        },
      };
    }
    return migrations;
  }
}

function migratorFor(root: Kysely<any>, schema: string): Migrator {
  return new Migrator({
    db: withSchemaIntrospection(root, schema),
    provider: new SqlFileProvider(schema),
    migrationTableSchema: schema,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
}

/** Names and times of the applied migrations, read directly (undefined when the schema has never been initialised). */
async function appliedMigrations(root: Kysely<any>, schema: string): Promise<Map<string, Date> | undefined> {
  const { rows } = await sql<{ found: string | null }>`select to_regclass(${`"${schema}"."${MIGRATION_TABLE}"`})::text as found`.execute(root);
  if (!rows[0]?.found) return undefined;
  const applied = await root.withSchema(schema).selectFrom(MIGRATION_TABLE).select(['name', 'timestamp']).execute();
  return new Map(applied.map((r: { name: string; timestamp: string | Date }) => [r.name, new Date(r.timestamp)]));
}

async function migrationNames(schema: string): Promise<string[]> {
  return Object.keys(await new SqlFileProvider(schema).getMigrations()).sort();
}

// Starts with nothing pending skip Kysely's Migrator (and its lock) entirely. Its table checks see
// only this schema (schema-introspector.ts); the retry stays for a schema dropped mid-query (3F000)
// and kindred races, after a short, random pause.
const RETRIES = 8;
const pause = () => new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
const isIntrospectionRace = (err: unknown) => ['3F000', '42P01', '42703'].includes(String((err as { code?: unknown })?.code));

/**
 * Applies every pending migration under Kysely's lock (safe when several processes start at once).
 * `onPending` hears the names found pending before any is applied. Returns the names applied.
 */
export async function migrateToLatest(
  root: Kysely<any>,
  schema: string,
  onPending?: (names: string[]) => void,
  /** A connection of the migrations' own (see Connection.migrations), used only when there is work. */
  ownConnection?: () => { root: Kysely<any>; close(): Promise<void> },
): Promise<string[]> {
  const applied = await appliedMigrations(root, schema);
  const pending = (await migrationNames(schema)).filter((name) => !applied?.has(name));
  if (pending.length === 0) return [];
  onPending?.(pending);
  const own = ownConnection?.();
  try {
    for (let attempt = 1; ; attempt++) {
      const { error, results } = await migratorFor(own?.root ?? root, schema).migrateToLatest();
      if (!error) return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
      if (attempt >= RETRIES || !isIntrospectionRace(error)) throw error instanceof Error ? error : new Error('migration failed', { cause: error });
      await pause();
    }
  } finally {
    await own?.close();
  }
}

/** Every known migration with whether it has been applied. */
export async function migrationStatus(root: Kysely<any>, schema: string): Promise<Array<{ name: string; appliedAt: Date | undefined }>> {
  const applied = (await appliedMigrations(root, schema)) ?? new Map<string, Date>();
  return (await migrationNames(schema)).map((name) => ({ name, appliedAt: applied.get(name) }));
}
