import type { Kysely } from 'kysely';
import { AuthError, ServiceUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DatabaseHandle } from './database-handle.js';
import { connect, dsnTarget, type Connection } from './connect.js';
import { MissingPackageError } from './load-pglite.js';
import { migrateToLatest, migrationStatus } from './migrator.js';
import { ensureRoles } from './roles-repository.js';
import { checkTrigramLoaded } from './trigram-check.js';
import type { Database } from './schema.js';
import { asInvalidValue, asServiceUnavailable, describeConnectionFailure, isDatabaseUnavailable, withoutStatement } from './unavailable.js';

/** The options the database's start-up reads (a slice of the resolved options). */
export interface DatabaseGateOptions {
  dbDsn: string | undefined;
  db: DatabaseHandle | undefined;
  listenDsn: string | undefined;
  dbSchema: string;
  autoMigrate: boolean;
  roles: readonly string[];
}

const elapsed = (since: number) => Math.round(performance.now() - since);

/** After a failed start, how long requests answer 503 before the next attempt to reach the database. */
export const RETRY_INTERVAL_MS = 1000;

/**
 * Owns the database connection and the start-up work (connect, migrate, create roles). `db()`
 * resolves once that work has succeeded; after a failure it is retried on demand, so a process
 * that started while the database was down recovers without a restart.
 */
export class DatabaseGate {
  #connection: Connection | undefined;
  #started: Promise<Kysely<Database>>;
  #failedAt = 0;
  #closed = false;

  constructor(
    private readonly opts: DatabaseGateOptions,
    private readonly logger: Logger,
    private readonly onStarted: (connection: Connection) => Promise<void>,
  ) {
    this.#started = this.#start();
  }

  /** The first start attempt; rejects with an AuthError that says what is wrong. */
  get ready(): Promise<void> {
    return this.#started.then(() => undefined);
  }

  /**
   * The schema-scoped database, or a 503 AuthError while it cannot be reached. Unlike `ready`, the
   * error says nothing of where the database is: it may reach a client.
   */
  db(): Promise<Kysely<Database>> {
    if (this.#closed) return Promise.reject(new ServiceUnavailableError());
    if (this.#failedAt !== 0 && Date.now() - this.#failedAt >= RETRY_INTERVAL_MS) {
      this.#failedAt = 0;
      this.#started = this.#start();
    }
    return this.#started.catch((err: unknown) => {
      throw new ServiceUnavailableError(undefined, { cause: err });
    });
  }

  /**
   * Runs `work` against the database; an unreachable database surfaces as a 503 AuthError, and a
   * value the database refuses as data as a 400 (for the HTTP routes and the programmatic API alike);
   * any other database error without the statement and its parameters.
   */
  async run<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const db = await this.db();
    try {
      return await work(db);
    } catch (err) {
      throw asInvalidValue(asServiceUnavailable(withoutStatement(err)));
    }
  }

  /** Starts nothing new and waits for a start under way to finish (it skips its last steps once closing). */
  async settle(): Promise<void> {
    this.#closed = true;
    await this.#started.catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.settle();
    await this.#connection?.close();
    this.#connection = undefined;
  }

  async #start(): Promise<Kysely<Database>> {
    try {
      const opening = performance.now();
      if (!this.#connection) {
        this.#connection = await connect(this.opts, this.opts.dbSchema, this.logger);
        this.logger.debug({ kind: this.#connection.kind, ms: elapsed(opening) }, 'express-authlib: database open');
      }
      const { root, db } = this.#connection;
      if (this.#closed) return db;
      const migrating = performance.now();
      if (this.opts.autoMigrate) {
        // Said before the work starts: a first start can take seconds, and silence looks like a hang.
        const applied = await migrateToLatest(
          root,
          this.opts.dbSchema,
          (pending) =>
            this.logger.info(
              { pending: pending.length },
              `express-authlib: applying ${pending.length} pending migration(s) to schema "${this.opts.dbSchema}" on ${this.#connection!.target}`,
            ),
          this.#connection.migrations,
        );
        if (applied.length > 0) this.logger.debug({ migrations: applied }, 'express-authlib: applied migrations');
        this.logger.debug({ applied: applied.length, ms: elapsed(migrating) }, 'express-authlib: schema current');
      } else {
        const pending = (await migrationStatus(root, this.opts.dbSchema)).filter((m) => !m.appliedAt);
        if (pending.length > 0) {
          throw new ServiceUnavailableError(
            `database schema "${this.opts.dbSchema}" has ${pending.length} pending migration(s); run \`npx authlib db init\` or set autoMigrate: true`,
            { code: 'schema_outdated' },
          );
        }
      }
      // close() was called meanwhile: do not open the LISTEN connection that nothing would close.
      if (this.#closed) return db;
      // Only a database the app passes in: one the library opens from a DSN always loads what it needs.
      if (this.opts.db !== undefined) await checkTrigramLoaded(root);
      await ensureRoles(db, this.opts.roles);
      if (this.#closed) return db;
      await this.onStarted(this.#connection);
      return db;
    } catch (err) {
      this.#failedAt = Date.now();
      // A missing optional package is a set-up mistake: its TypeError names the install command.
      if (err instanceof AuthError || err instanceof MissingPackageError) throw err;
      if (isDatabaseUnavailable(err) || !this.#connection) {
        // Not open at all (an embedded database that did not start): named from the options.
        const target = this.#connection ?? (this.opts.dbDsn === undefined ? undefined : dsnTarget(this.opts.dbDsn));
        throw new ServiceUnavailableError(describeConnectionFailure(target, err), { cause: err });
      }
      throw new ServiceUnavailableError(`database setup failed: ${(err as Error).message}`, { cause: err, code: 'database_error' });
    }
  }
}
