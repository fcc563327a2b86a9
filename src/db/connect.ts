import { realpath, stat } from 'node:fs/promises';
import { Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import type { DatabaseHandle } from './database-handle.js';
import type { Logger } from '../logger.js';
import { threadsPermitted } from '../threads-permitted.js';
import { PGLITE_MEMORY_SETTINGS, PGLITE_SETTINGS } from './pglite-settings.js';
import { asMissingPackage, loadPGlite } from './load-pglite.js';
import { nodePostgres } from './node-postgres.js';
import { PGliteDialect, withPGliteLock, type PGliteLike } from './pglite-dialect.js';
import { pgliteWorkerFile, startPGliteThread } from './pglite-thread.js';
import { pgliteWasmModule } from './pglite-wasm-module.js';
import { startPGlite, type PGliteStart } from './start-pglite.js';
import { lockPGliteDirectory } from './pglite-lock.js';
import { isNewDatabase, pgliteTemplate, recoverCutShort, removeEntries, type PGliteTemplate } from './pglite-template.js';
import type { Database } from './schema.js';
import { describeThrown } from './unavailable.js';

/** An open database: `db` is scoped to the library's schema; `close` releases what we opened. */
export interface Connection {
  /** Queries go to tables of `dbSchema`. */
  db: Kysely<Database>;
  /** The unscoped instance (migrations, schema creation). */
  root: Kysely<any>;
  /** 'postgres' or 'pglite', for messages. */
  kind: 'postgres' | 'pglite';
  /** Where it points, without credentials, for error messages. */
  target: string;
  close(): Promise<void>;
  /**
   * Subscribes to a notification channel on a connection of its own; `onLost` fires when that
   * connection dies. Undefined when there is nothing to listen with (a Kysely instance without `listenDsn`).
   */
  listen: Listen | undefined;
  /**
   * A connection of its own for migrations, without the per-query timeout: a migration may take
   * long (an index on a large table, a busy server) and must not be cut off half-way like a request.
   * Only for pools the library opened itself; an app's own pool or Kysely instance is used as it is.
   */
  migrations?: () => { root: Kysely<any>; close(): Promise<void> };
}

/** Starts listening; resolves with the function that stops. */
export type Listen = (channel: string, onMessage: (payload: string) => void, onLost: (err: unknown) => void) => Promise<() => Promise<void>>;

/** LISTEN on a pg client we hold; `release` gives the client back (or ends it). */
async function listenOn(
  client: pg.ClientBase,
  release: (err?: Error) => void | Promise<void>,
  channel: string,
  onMessage: (payload: string) => void,
  onLost: (err: unknown) => void,
) {
  let stopped = false;
  const lost = (err: unknown) => {
    if (stopped) return;
    stopped = true;
    void release(err instanceof Error ? err : new Error('connection ended'));
    onLost(err);
  };
  client.on('notification', (msg) => {
    if (msg.channel === channel) onMessage(msg.payload ?? '');
  });
  client.on('error', lost);
  client.on('end', () => lost(new Error('connection ended')));
  try {
    await client.query(`LISTEN "${channel}"`);
  } catch (err) {
    lost(err);
    throw err;
  }
  return async () => {
    if (stopped) return;
    stopped = true;
    await release();
  };
}

function listenWithDsn(dsn: string): Listen {
  return async (channel, onMessage, onLost) => {
    const client = new (nodePostgres().Client)({
      connectionString: dsn,
      connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS,
      application_name: 'express-authlib-listen',
    });
    client.on('error', () => undefined); // reported through listenOn once connected
    await client.connect();
    return listenOn(client, () => client.end().catch(() => undefined), channel, onMessage, onLost);
  };
}

function listenWithPool(pool: pg.Pool): Listen {
  return async (channel, onMessage, onLost) => {
    const client = await pool.connect();
    return listenOn(client, (err) => client.release(err ?? true), channel, onMessage, onLost);
  };
}

function listenWithPGlite(pglite: PGliteLike): Listen {
  // Taken under the instance lock so the LISTEN cannot land inside another caller's transaction.
  return (channel, onMessage) => withPGliteLock(pglite, () => pglite.listen(channel, onMessage));
}

/** How long a request waits for a new connection before the caller gets 503 (under the 5 s the contract allows). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 4000;
/** A query on an established connection that gets no answer (a network partition) fails after this. */
export const DEFAULT_QUERY_TIMEOUT_MS = 5000;
/** Pool size per process: enough for bursts of logins, small enough for many instances. */
export const DEFAULT_POOL_SIZE = 10;

/**
 * node-postgres emits 'error' on a pool (idle client lost) and on a checked-out client (connection
 * dropped mid-query); unheard, either kills the process. The query itself still fails and becomes a 503.
 */
function guardPool(pool: pg.Pool, logger: Logger | undefined): void {
  const report = (err: Error) => logger?.warn({ err: { message: err.message } }, 'express-authlib: database connection lost');
  pool.on('error', report);
  pool.on('connect', (client) => client.on('error', report));
}

function isPGlite(handle: object): handle is PGliteLike {
  return typeof (handle as PGliteLike).exec === 'function' && typeof (handle as PGliteLike).close === 'function';
}

function isKysely(handle: object): handle is Kysely<any> {
  return typeof (handle as Kysely<any>).selectFrom === 'function' && typeof (handle as Kysely<any>).withSchema === 'function';
}

function isPool(handle: object): handle is pg.Pool {
  return typeof (handle as pg.Pool).connect === 'function' && typeof (handle as pg.Pool).query === 'function';
}

/** Where a `pglite://` DSN points (a directory, or 'memory'); undefined for a PostgreSQL DSN. */
function pgliteLocation(dsn: string): string | undefined {
  return dsn.startsWith('pglite://') ? dsn.slice('pglite://'.length) : undefined;
}

/** What `dbDsn` points at, for a message about a database that never opened (never a password). */
export function dsnTarget(dsn: string): { kind: 'postgres' | 'pglite'; target: string } {
  return { kind: pgliteLocation(dsn) === undefined ? 'postgres' : 'pglite', target: describeDsn(dsn) };
}

/** The host:port/database of a postgres DSN, never its password. */
export function describeDsn(dsn: string): string {
  try {
    const url = new URL(dsn);
    if (url.protocol === 'pglite:') return dsn;
    return `${url.hostname || 'localhost'}:${url.port || '5432'}`;
  } catch {
    return 'the configured database';
  }
}

function scoped(root: Kysely<any>, schema: string): Kysely<Database> {
  return root.withSchema(schema) as Kysely<Database>;
}

/**
 * Opens PGlite as `start` says. In a thread of its own (pglite-thread.ts) when the build's thread entry
 * is there and the process may start threads; in this thread otherwise (the library bundled into an
 * app's own build without that file, say).
 */
async function openEmbedded(start: PGliteStart, purpose: string): Promise<PGliteLike> {
  const thread = pgliteWorkerFile();
  if (thread && threadsPermitted()) {
    return startPGliteThread(thread, { ...start, wasmModule: await pgliteWasmModule() }).catch((err: unknown) => {
      throw asMissingPackage(err, purpose);
    });
  }
  // Loaded on demand: a PostgreSQL deployment never installs or loads the WebAssembly build.
  return startPGlite(await loadPGlite(purpose), start);
}

/**
 * Opens an embedded database; on disk, under the directory's one-writer lock (`release` gives it
 * up). `template` gives the cluster a new database starts from (tests pass a broken one).
 */
export async function openPGlite(
  location: string,
  schema: string,
  logger: Logger | undefined,
  template: (logger?: Logger) => Promise<PGliteTemplate | undefined> = pgliteTemplate,
): Promise<{ pglite: PGliteLike; release: () => Promise<void> }> {
  if (location !== 'memory' && (await stat(location).catch(() => undefined))?.isDirectory() === false) {
    throw new Error(`${location} is not a directory`);
  }
  const release = location === 'memory' ? async () => {} : await lockPGliteDirectory(location);
  try {
    // PGlite cannot open a directory through a symbolic link (a deploy's `data -> /var/lib/app`): it gets the real path.
    const where = location === 'memory' ? location : await realpath(location);
    const open = (clusterTar: string | undefined) =>
      openEmbedded(
        where === 'memory' ? { dataDir: undefined, settings: PGLITE_MEMORY_SETTINGS, clusterTar } : { dataDir: where, settings: PGLITE_SETTINGS, clusterTar },
        `pglite://${location} needs`,
      );
    if (where !== 'memory') await recoverCutShort(where, isNewDatabase(where));
    if (!isNewDatabase(where)) return { pglite: await open(undefined), release };
    // A new database starts from the cluster the build made and migrated, instead of running initdb
    // and every migration (seconds of CPU). For another dbSchema the template's schema goes first;
    // the migrations then run as on any database (pg_trgm, in public, is already there).
    const cluster = await template(logger).catch(() => undefined);
    if (!cluster) return { pglite: await open(undefined), release };
    // What this start moved into the directory: all that a failed start removes, never the app's own files.
    let moved: string[] = [];
    try {
      let pglite: PGliteLike;
      if (where === 'memory') {
        // In memory the cluster can only come in through PGlite's loadDataDir.
        const unpacked = await cluster.asTar();
        pglite = await open(unpacked.file).finally(() => unpacked.dispose());
      } else {
        // A directory gets the files before PGlite opens it, as an existing database (far less memory).
        const names = await cluster.unpackInto(where);
        if (names === undefined) {
          logger?.debug({}, 'express-authlib: the new database directory holds a file named as one of the cluster; running initdb');
          return { pglite: await open(undefined), release };
        }
        moved = names;
        pglite = await open(undefined);
      }
      try {
        if (cluster.schema !== schema) await pglite.exec(`DROP SCHEMA IF EXISTS "${cluster.schema.replace(/"/g, '""')}" CASCADE`);
      } catch (err) {
        await pglite.close().catch(() => undefined);
        throw err;
      }
      return { pglite, release };
    } catch (err) {
      logger?.warn({ err: { message: describeThrown(err) } }, 'express-authlib: the pre-built embedded database did not start; running initdb');
      await removeEntries(where, moved);
      return { pglite: await open(undefined), release };
    }
  } catch (err) {
    await release();
    throw err;
  }
}

/** Opens (or wraps) the database described by `dbDsn` or `db`. */
export async function connect(
  source: { dbDsn?: string | undefined; db?: DatabaseHandle | undefined; listenDsn?: string | undefined },
  schema: string,
  logger?: Logger,
): Promise<Connection> {
  const { dbDsn, db, listenDsn } = source;
  const dedicated = listenDsn ? listenWithDsn(listenDsn) : undefined;
  if (db !== undefined) {
    if (isKysely(db)) {
      return { db: scoped(db, schema), root: db, kind: 'postgres', target: 'the provided Kysely instance', close: async () => {}, listen: dedicated };
    }
    if (isPGlite(db)) {
      const root = new Kysely<any>({ dialect: new PGliteDialect(db) });
      return { db: scoped(root, schema), root, kind: 'pglite', target: 'the provided PGlite instance', close: async () => {}, listen: listenWithPGlite(db) };
    }
    if (isPool(db)) {
      guardPool(db, logger);
      const root = new Kysely<any>({ dialect: new PostgresDialect({ pool: db }) });
      // Not root.destroy(): that would end a pool the application owns.
      return {
        db: scoped(root, schema),
        root,
        kind: 'postgres',
        target: 'the provided pg.Pool',
        close: async () => {},
        listen: dedicated ?? listenWithPool(db),
      };
    }
    throw new TypeError('express-authlib: option `db` must be a Kysely instance, a pg.Pool or a PGlite instance');
  }

  const dsn = dbDsn!;
  const location = pgliteLocation(dsn);
  if (location !== undefined) {
    const { pglite, release } = await openPGlite(location, schema, logger);
    const root = new Kysely<any>({ dialect: new PGliteDialect(pglite) });
    return {
      db: scoped(root, schema),
      root,
      kind: 'pglite',
      target: dsn,
      close: async () => {
        await root.destroy();
        await pglite.close();
        await release();
      },
      listen: listenWithPGlite(pglite),
    };
  }

  const pool = new (nodePostgres().Pool)({
    connectionString: dsn,
    max: DEFAULT_POOL_SIZE,
    connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS,
    query_timeout: DEFAULT_QUERY_TIMEOUT_MS,
    keepAlive: true,
    idleTimeoutMillis: 30_000,
    application_name: 'express-authlib',
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  guardPool(pool, logger);
  const root = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  const migrations = () => {
    const own = new (nodePostgres().Pool)({
      connectionString: dsn,
      max: 2,
      connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS,
      keepAlive: true,
      application_name: 'express-authlib migrations',
    });
    guardPool(own, logger);
    const migrationRoot = new Kysely<any>({ dialect: new PostgresDialect({ pool: own }) });
    return { root: migrationRoot, close: () => migrationRoot.destroy() };
  };
  return {
    db: scoped(root, schema),
    root,
    kind: 'postgres',
    target: describeDsn(dsn),
    close: () => root.destroy(),
    listen: dedicated ?? listenWithDsn(dsn),
    migrations,
  };
}
