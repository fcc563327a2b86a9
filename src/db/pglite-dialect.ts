import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';

/** The subset of a PGlite instance the dialect uses. */
export interface PGliteLike {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[]; affectedRows?: number }>;
  exec(sql: string): Promise<Array<{ rows: unknown[]; affectedRows?: number }>>;
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** A FIFO lock; `acquire` resolves with its release function. */
class Lock {
  #tail: Promise<void> = Promise.resolve();

  async acquire(): Promise<() => void> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return release;
  }
}

// One lock per PGlite instance, not per dialect: two AuthManagers (or an AuthManager and the host
// app) handed the same instance share its single session, and a transaction must own all of it.
const locks = new WeakMap<PGliteLike, Lock>();
function lockOf(pglite: PGliteLike): Lock {
  let lock = locks.get(pglite);
  if (!lock) locks.set(pglite, (lock = new Lock()));
  return lock;
}

/** Runs `work` while no query of any Kysely instance on this PGlite can run. */
export async function withPGliteLock<T>(pglite: PGliteLike, work: () => Promise<T>): Promise<T> {
  const release = await lockOf(pglite).acquire();
  try {
    return await work();
  } finally {
    release();
  }
}

/**
 * Kysely dialect for embedded PGlite. PGlite is one connection, so the driver hands it to one
 * caller at a time (a FIFO lock): a transaction owns it from BEGIN to COMMIT and no other query
 * can interleave. Kysely 0.28 ships no PGlite dialect, and the maintained ones lag PGlite releases.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGliteLike) {}

  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pglite);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}

class PGliteDriver implements Driver {
  readonly #connection: PGliteConnection;
  readonly #lock: Lock;
  #release: (() => void) | undefined;

  constructor(pglite: PGliteLike) {
    this.#connection = new PGliteConnection(pglite);
    this.#lock = lockOf(pglite);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    this.#release = await this.#lock.acquire();
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  // Closing the PGlite instance is the owner's business (see connect.ts).
  async destroy(): Promise<void> {}
}

class PGliteConnection implements DatabaseConnection {
  constructor(private readonly pglite: PGliteLike) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const params = compiled.parameters as unknown[];
    // Migration files hold several statements; only the simple protocol (exec) runs those.
    if (params.length === 0 && compiled.sql.includes(';')) {
      const results = await this.pglite.exec(compiled.sql);
      const last = results[results.length - 1];
      return { rows: (last?.rows ?? []) as R[], numAffectedRows: BigInt(last?.affectedRows ?? 0) };
    }
    const result = await this.pglite.query<R>(compiled.sql, params);
    return {
      rows: result.rows,
      ...(result.affectedRows !== undefined ? { numAffectedRows: BigInt(result.affectedRows) } : {}),
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite dialect does not support streaming');
  }
}
