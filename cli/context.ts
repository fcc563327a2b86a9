import { AuthManager, DEFAULT_DB_SCHEMA, generateSecret } from '../src/index.js';
import { dsnProblem, schemaProblem } from '../src/options.js';

/** Commander option parser for repeatable options (`--role a --role b`). */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Thrown for a usage mistake: exit code 2 instead of 1. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/** `db status` with migrations pending: exit code 3, so scripts can tell "not initialised" from "failed". */
export class PendingMigrationsError extends Error {
  readonly exitCode = 3;
}

/** Options every command takes. */
export interface GlobalOptions {
  dsn?: string;
  schema?: string;
}

/** The first of a flag and its environment fallbacks that is set, and what to call it in a message. */
function pick(flag: string, value: string | undefined, envNames: string[]): { value: string; from: string } | undefined {
  if (value !== undefined) return { value, from: flag };
  for (const name of envNames) {
    const v = process.env[name];
    if (v) return { value: v, from: `${flag} (from $${name})` };
  }
  return undefined;
}

/**
 * --dsn, else AUTHLIB_DB_DSN, else DATABASE_URL, checked by the library's own rule so the CLI never
 * connects somewhere the library would refuse. The CLI is the only place that reads the environment.
 */
export function resolveDsn(options: GlobalOptions): string {
  const dsn = pick('--dsn', options.dsn, ['AUTHLIB_DB_DSN', 'DATABASE_URL']);
  if (!dsn) throw new UsageError('--dsn is required: pass --dsn URL or set AUTHLIB_DB_DSN (or DATABASE_URL)');
  const problem = dsnProblem(dsn.value);
  if (problem) throw new UsageError(`${dsn.from} ${problem}`);
  return dsn.value;
}

/** --schema, else AUTHLIB_DB_SCHEMA, else authlib; checked by the library's own rule. */
export function resolveSchema(options: GlobalOptions): string {
  const schema = pick('--schema', options.schema, ['AUTHLIB_DB_SCHEMA']) ?? { value: DEFAULT_DB_SCHEMA, from: '--schema' };
  const problem = schemaProblem(schema.value);
  if (problem) throw new UsageError(`${schema.from} ${problem}`);
  return schema.value;
}

/**
 * An AuthManager for the user and token commands: no app, no migrations (that is `db init`'s job),
 * a throw-away signing secret (these commands sign no JWT), and no logger (the CLI reports itself).
 */
export async function withAuth<T>(options: GlobalOptions, work: (auth: AuthManager) => Promise<T>): Promise<T> {
  const auth = new AuthManager(null, {
    dbDsn: resolveDsn(options),
    dbSchema: resolveSchema(options),
    jwtSecret: generateSecret(),
    autoMigrate: false,
    rateLimit: false,
    logger: false,
  });
  try {
    await auth.ready;
    return await work(auth);
  } finally {
    await auth.close();
  }
}

/** Finds a user by username or email, or fails with a one-line message. */
export async function findUser(auth: AuthManager, identifier: string) {
  const user = await auth.users.findByIdentifier(identifier);
  if (!user) throw new Error(`no user with username or email '${identifier}'`);
  return user;
}
