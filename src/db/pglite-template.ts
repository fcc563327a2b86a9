import { createReadStream, createWriteStream, existsSync, openAsBlob, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createBrotliDecompress } from 'node:zlib';
import type * as Tar from 'tar';
import { PGLITE_PACKAGE } from './load-pglite.js';
import { LOCK_FILE } from './pglite-lock.js';
import { lazyRequire } from '../lazy-require.js';

// Only an embedded database's first start unpacks the cluster: an app on PostgreSQL never loads it.
const tarModule = lazyRequire<typeof Tar>('tar');

/** The prefix of the directory a new database's cluster is unpacked into before it is moved into place. */
const STAGING = '.authlib-cluster-';

/**
 * Writes the archive's files under `dir`. PGlite names them from the root of its file system
 * ("/base/1/112"): they land under `dir` all the same, and that notice is the one warning allowed.
 */
async function untar(archive: NodeJS.ReadableStream, dir: string): Promise<void> {
  const problems: string[] = [];
  const onwarn = (code: string, message: string | Error) => {
    if (code !== 'TAR_ENTRY_INFO') problems.push(`${code}: ${message instanceof Error ? message.message : message}`);
  };
  // Not the archive's owners (the build's user) even when running as root.
  await pipeline(archive, tarModule().x({ cwd: dir, preserveOwner: false, onwarn }));
  if (problems.length > 0) throw new Error(`the pre-built cluster did not unpack: ${problems[0]}`);
}

/** The installed PGlite's version, from its package.json (which its `exports` do not list). */
function installedVersion(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve(PGLITE_PACKAGE);
    return (JSON.parse(readFileSync(join(dirname(dirname(entry)), 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** A cluster to start from, and the schema migrated in it. */
export interface PGliteTemplate {
  /** The schema the build migrated (the default dbSchema); a database for another schema drops it. */
  schema: string;
  /**
   * Writes the cluster's files into `dir`, a new database's directory, which PGlite then opens as
   * any existing database.
   */
  unpackInto(dir: string): Promise<void>;
  /**
   * The cluster as a tar for PGlite's `loadDataDir`, which an in-memory database has to start from;
   * `dispose` removes the file behind it once the database has loaded it.
   */
  asTar(): Promise<{ tar: Blob; dispose(): Promise<void> }>;
}

/** The template the build made for `version`, beside the bundle in dist/ (or in dist/ when running from the sources). */
function templateFile(version: string): { file: string; schema: string } | undefined {
  const prefix = `pglite-template-${version}-`;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++) {
    for (const folder of [dir, join(dir, 'dist')]) {
      const name = existsSync(folder) ? readdirSync(folder).find((f) => f.startsWith(prefix) && f.endsWith('.tar.br')) : undefined;
      if (name) return { file: join(folder, name), schema: name.slice(prefix.length, -'.tar.br'.length) };
    }
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * A cluster made by initdb at build time and migrated into the default schema by the library
 * (scripts/pglite-template.mjs), kept as a brotli-compressed tar: a new embedded database starts
 * from a copy instead of running initdb and every migration, which cost seconds of CPU. Only for
 * the exact PGlite version that made it (another version may keep its catalog differently);
 * undefined otherwise, and PGlite runs initdb as before.
 */
export async function pgliteTemplate(): Promise<PGliteTemplate | undefined> {
  const version = installedVersion();
  const found = version && templateFile(version);
  if (!found) return undefined;
  const unpacked = () => createReadStream(found.file).pipe(createBrotliDecompress());
  return {
    schema: found.schema,
    // Streamed to disk, file by file. Handed to PGlite's loadDataDir instead, the 40 MB cluster is
    // read whole, copied file by file, then copied again into place: the copies leave about 100 MB
    // that the C allocator keeps for the life of the process (bench/pglite-memory.ts).
    async unpackInto(dir) {
      // Unpacked beside, then moved in with PG_VERSION last: a directory that holds PG_VERSION is an
      // existing database (isNewDatabase), so a start cut short leaves one that the next start fills again.
      for (const name of await readdir(dir)) if (name.startsWith(STAGING)) await rm(join(dir, name), { recursive: true, force: true });
      const staging = await mkdtemp(join(dir, STAGING));
      try {
        await untar(unpacked(), staging);
        const names = (await readdir(staging)).sort((a, b) => Number(a === 'PG_VERSION') - Number(b === 'PG_VERSION'));
        for (const name of names) {
          await rm(join(dir, name), { recursive: true, force: true }); // what a start cut short left
          await rename(join(staging, name), join(dir, name));
        }
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    },
    // Unpacked to a file and handed over as a Blob backed by it, not by memory: PGlite keeps the
    // Blob it was given for as long as the database is open, so a Blob made from a buffer held the
    // whole 40 MB cluster in the process for good.
    async asTar() {
      const dir = await mkdtemp(join(tmpdir(), 'authlib-cluster-'));
      const dispose = () => rm(dir, { recursive: true, force: true });
      try {
        const file = join(dir, 'cluster.tar');
        await pipeline(unpacked(), createWriteStream(file, { mode: 0o600 }));
        return { tar: await openAsBlob(file, { type: 'application/x-tar' }), dispose };
      } catch (err) {
        await dispose();
        throw err;
      }
    },
  };
}

/** Whether `location` (a directory, or 'memory') holds no database yet. */
export function isNewDatabase(location: string): boolean {
  return location === 'memory' || !existsSync(join(location, 'PG_VERSION'));
}

/** After a start from the template failed: empties the new database's directory (all but our lock) for initdb. */
export async function clearNewDatabase(location: string): Promise<void> {
  if (location === 'memory' || !existsSync(location)) return;
  for (const entry of await readdir(location)) {
    if (entry !== LOCK_FILE) await rm(join(location, entry), { recursive: true, force: true });
  }
}
