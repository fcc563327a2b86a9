import { createReadStream, createWriteStream, existsSync, openAsBlob, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createBrotliDecompress } from 'node:zlib';
import { PGLITE_PACKAGE } from './load-pglite.js';
import { LOCK_FILE } from './pglite-lock.js';

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
  tar: Blob;
  /** The schema the build migrated (the default dbSchema); a database for another schema drops it. */
  schema: string;
  /** Removes what `tar` reads from, once the database has loaded it. */
  dispose(): Promise<void>;
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
 * (scripts/pglite-template.mjs), as a tar for PGlite's `loadDataDir`: a new embedded database
 * starts from a copy instead of running initdb and every migration, which cost seconds of CPU.
 * Only for the exact PGlite version that made it (another version may keep its catalog
 * differently); undefined otherwise, and PGlite runs initdb as before.
 */
export async function pgliteTemplate(): Promise<PGliteTemplate | undefined> {
  const version = installedVersion();
  const found = version && templateFile(version);
  if (!found) return undefined;
  // Unpacked to a file and handed over as a Blob backed by it, not by memory: PGlite keeps the Blob
  // it was given for as long as the database is open, so a Blob made from a buffer held the whole
  // 40 MB cluster in the process for good (bench/pglite-memory.ts measures the difference).
  const dir = await mkdtemp(join(tmpdir(), 'authlib-cluster-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const file = join(dir, 'cluster.tar');
    await pipeline(createReadStream(found.file), createBrotliDecompress(), createWriteStream(file, { mode: 0o600 }));
    return { tar: await openAsBlob(file, { type: 'application/x-tar' }), schema: found.schema, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
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
