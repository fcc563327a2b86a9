import { openAsBlob } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import type { PGliteModule } from './load-pglite.js';
import { PGLITE_INITDB_ARGS } from './pglite-settings.js';

/** How an embedded database is opened: the same on the app's thread and on a thread of its own. */
export interface PGliteStart {
  /** A directory, or undefined for an in-memory database. */
  dataDir: string | undefined;
  /** PostgreSQL settings, given after PGlite's own defaults (see pglite-settings.ts). */
  settings: readonly string[];
  /** A tar of a cluster to start from (PGlite's `loadDataDir`): a file, since a Blob backed by one cannot cross threads. */
  clusterTar: string | undefined;
  /** PGlite's WebAssembly compiled once for the process (pglite-wasm-module.ts); PGlite compiles its own when absent. */
  wasmModule?: WebAssembly.Module;
}

/** Opens PGlite as `start` says; resolves once it is ready, and closes what it opened when it fails. */
export async function startPGlite({ PGlite, pg_trgm }: PGliteModule, start: PGliteStart): Promise<PGlite> {
  const options = {
    // pg_trgm backs the admin user search (sql/0008_admin.sql); it ships with PGlite.
    extensions: { pg_trgm },
    startParams: [...PGlite.defaultStartParams, ...start.settings],
    // Used only when the directory (or memory) holds no cluster yet and PGlite runs initdb.
    initDbStartParams: [...PGLITE_INITDB_ARGS],
    ...(start.wasmModule ? { pgliteWasmModule: start.wasmModule } : {}),
    ...(start.clusterTar ? { loadDataDir: await openAsBlob(start.clusterTar, { type: 'application/x-tar' }) } : {}),
  };
  const instance = start.dataDir === undefined ? new PGlite(options) : new PGlite(start.dataDir, options);
  try {
    await instance.waitReady;
  } catch (err) {
    await instance.close().catch(() => undefined);
    throw err;
  }
  return instance;
}
