import { sql, type DatabaseIntrospector, type DatabaseMetadata, type Kysely, type SchemaMetadata, type TableMetadata } from 'kysely';

/**
 * An introspector that sees one schema only. Kysely's Migrator asks the introspector whether its
 * own two tables exist, and the stock PostgreSQL introspector answers by reading every column of
 * every table in the database (with pg_get_serial_sequence on each). That read fails when another
 * schema's tables are altered or dropped while it runs (3F000, 42P01, 42703 were all seen), which
 * a shared database with several apps, or a test suite, does all the time. Looking only at the
 * library's schema has no such race and costs one small query.
 */
export class SchemaIntrospector implements DatabaseIntrospector {
  constructor(
    private readonly db: Kysely<any>,
    private readonly schema: string,
  ) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace where nspname = ${this.schema}`.execute(this.db);
    return rows.map(({ name }) => ({ name }));
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; kind: string }>`
      select c.relname as name, c.relkind as kind
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${this.schema} and c.relkind in ('r', 'p', 'v', 'm')`.execute(this.db);
    // The Migrator reads names only; columns are left empty rather than read racily.
    return rows.map(({ name, kind }) => ({ name, schema: this.schema, isView: kind === 'v' || kind === 'm', columns: [] }));
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}

/**
 * The same Kysely instance, except that `introspection` sees only `schema`. A proxy rather than a
 * new instance because the instance may be the application's own (option `db`), whose dialect the
 * library cannot rebuild; methods are bound to the real instance, whose fields are private.
 */
export function withSchemaIntrospection(root: Kysely<any>, schema: string): Kysely<any> {
  const introspector = new SchemaIntrospector(root, schema);
  return new Proxy(root, {
    get(target, prop) {
      if (prop === 'introspection') return introspector;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
