import { AuthManager, DEFAULT_DB_SCHEMA, generateSecret } from '../src/index.js';

/** Commander option parser for repeatable options (`--role a --role b`). */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Thrown for a usage mistake: exit code 2 instead of 1. */
export class UsageError extends Error {}

/** Options every command takes. */
export interface GlobalOptions {
  dsn?: string;
  schema?: string;
}

/** --dsn, else AUTHLIB_DB_DSN, else DATABASE_URL. The CLI is the only place that reads the environment. */
export function resolveDsn(options: GlobalOptions): string {
  const dsn = options.dsn ?? process.env.AUTHLIB_DB_DSN ?? process.env.DATABASE_URL;
  if (!dsn) throw new UsageError('no database given: pass --dsn URL or set AUTHLIB_DB_DSN (or DATABASE_URL)');
  return dsn;
}

/** --schema, else AUTHLIB_DB_SCHEMA, else the library's default schema. */
export function resolveSchema(options: GlobalOptions): string {
  return options.schema ?? process.env.AUTHLIB_DB_SCHEMA ?? DEFAULT_DB_SCHEMA;
}

/**
 * An AuthManager for the user and token commands: no app, no migrations (that is `db init`'s job),
 * and a throw-away signing secret, since these commands sign no JWT.
 */
export async function withAuth<T>(options: GlobalOptions, work: (auth: AuthManager) => Promise<T>): Promise<T> {
  let auth: AuthManager;
  try {
    auth = new AuthManager(null, { dbDsn: resolveDsn(options), dbSchema: resolveSchema(options), jwtSecret: generateSecret(), autoMigrate: false, rateLimit: false });
  } catch (err) {
    throw err instanceof TypeError ? new UsageError(err.message.replace(/^express-authlib: option `dbDsn` /, '--dsn ')) : err;
  }
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
