import { Command } from 'commander';
import { connect } from '../../src/db/connect.js';
import { migrateToLatest, migrationStatus } from '../../src/db/migrator.js';
import { describeConnectionFailure, isDatabaseUnavailable } from '../../src/db/unavailable.js';
import { PendingMigrationsError, resolveDsn, resolveSchema, type GlobalOptions } from '../context.js';
import { printJson } from './table.js';

async function withConnection<T>(options: GlobalOptions, work: (root: Awaited<ReturnType<typeof connect>>['root'], schema: string) => Promise<T>): Promise<T> {
  const dsn = resolveDsn(options);
  const schema = resolveSchema(options);
  const conn = await connect({ dbDsn: dsn }, schema);
  try {
    return await work(conn.root, schema);
  } catch (err) {
    if (isDatabaseUnavailable(err)) throw new Error(describeConnectionFailure(conn, err), { cause: err });
    throw err;
  } finally {
    await conn.close();
  }
}

/** `authlib db init` and `authlib db status`. */
export function dbCommand(global: () => GlobalOptions): Command {
  const db = new Command('db').description('create, upgrade and inspect the database schema');

  db.command('init')
    .description('create or upgrade the schema (idempotent, safe to run concurrently)')
    .action(async () => {
      const applied = await withConnection(global(), (root, schema) => migrateToLatest(root, schema));
      const schema = resolveSchema(global());
      console.log(applied.length > 0 ? `schema "${schema}": applied ${applied.join(', ')}` : `schema "${schema}" is up to date`);
    });

  db.command('status')
    .description('list applied and pending migrations; exit 3 when some are pending')
    .option('--json', 'print {schema, migrations: [{name, applied_at}], pending} as JSON (applied_at null while pending)')
    .action(async (o: { json?: boolean }) => {
      const migrations = await withConnection(global(), (root, schema) => migrationStatus(root, schema));
      const pending = migrations.filter((m) => !m.appliedAt).length;
      if (o.json) {
        const list = migrations.map((m) => ({ name: m.name, applied_at: m.appliedAt ? m.appliedAt.toISOString() : null }));
        printJson({ schema: resolveSchema(global()), migrations: list, pending });
      } else {
        for (const m of migrations) console.log(`${m.appliedAt ? 'applied' : 'pending'}  ${m.name}${m.appliedAt ? `  ${m.appliedAt.toISOString()}` : ''}`);
      }
      if (pending > 0) throw new PendingMigrationsError(`${pending} migration(s) pending; run \`authlib db init\``);
      if (!o.json) console.log('nothing pending');
    });

  return db;
}
