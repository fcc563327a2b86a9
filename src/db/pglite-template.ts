import { createReadStream, createWriteStream, existsSync, openAsBlob, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createBrotliDecompress } from 'node:zlib';
import type * as Tar from 'tar';
import type { Logger } from '../logger.js';
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

/**
 * Whether a cluster made with PGlite `made` opens with the installed `installed`: the same release
 * line (the same major version, and for 0.x the same minor), which keeps PostgreSQL's major version
 * and its on-disk format. A patch release of PGlite opens it as it opens an app's own database made
 * by the previous patch; a cluster that does not start is set aside all the same.
 */
export function sameReleaseLine(made: string, installed: string): boolean {
  const [a, b] = [made, installed].map((v) => /^(\d+)\.(\d+)\./.exec(v));
  if (!a || !b) return false;
  return a[1] === b[1] && (a[1] !== '0' || a[2] === b[2]);
}

const TEMPLATE_NAME = /^pglite-template-(\d+\.\d+\.\d+)-(.+)\.tar\.br$/;

/**
 * The template the build made for the release line of PGlite `version`, beside the bundle in dist/
 * (or in dist/ when running from the sources); `folders` replaces where to look (tests).
 */
function templateFile(version: string, folders = bundleFolders()): { file: string; schema: string } | undefined {
  for (const folder of folders) {
    if (!existsSync(folder)) continue;
    for (const name of readdirSync(folder)) {
      const match = TEMPLATE_NAME.exec(name);
      if (match && sameReleaseLine(match[1]!, version)) return { file: join(folder, name), schema: match[2]! };
    }
  }
  return undefined;
}

/** This module's folder and the two above it, each with its dist/. */
function bundleFolders(): string[] {
  const folders: string[] = [];
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++) {
    folders.push(dir, join(dir, 'dist'));
    dir = dirname(dir);
  }
  return folders;
}

/**
 * A cluster made by initdb at build time and migrated into the default schema by the library
 * (scripts/pglite-template.mjs), kept as a brotli-compressed tar: a new embedded database starts
 * from a copy instead of running initdb and every migration, which cost seconds of CPU. Only for
 * PGlite's release line that made it (`sameReleaseLine`; another may keep its catalog
 * differently); undefined otherwise, and PGlite runs initdb as before.
 */
export async function pgliteTemplate(logger?: Logger, folders?: string[]): Promise<PGliteTemplate | undefined> {
  const version = installedVersion();
  const found = version ? templateFile(version, folders) : undefined;
  if (!found) {
    logger?.debug({ pglite: version ?? null }, 'express-authlib: no pre-built cluster for this PGlite release line; running initdb and the migrations');
    return undefined;
  }
  const unpacked = () => createReadStream(found.file).pipe(createBrotliDecompress());
  return {
    schema: found.schema,
    // Streamed to disk, file by file. Handed to PGlite's loadDataDir instead, the 40 MB cluster is
    // read whole, copied file by file, then copied again into place: the copies leave about 100 MB
    // that the C allocator keeps for the life of the process (bench/pglite-memory.ts).
    async unpackInto(dir) {
      // Unpacked beside, then moved in with PG_VERSION last: a directory that holds PG_VERSION is an
      // existing database (isNewDatabase), so a start cut short leaves one that the next start
      // recognises by the staging directory, removed last (readyForCluster), and fills again.
      const staging = await mkdtemp(join(dir, STAGING));
      await untar(unpacked(), staging);
      const names = (await readdir(staging)).sort((a, b) => Number(a === 'PG_VERSION') - Number(b === 'PG_VERSION'));
      for (const name of names) await rename(join(staging, name), join(dir, name));
      await rm(staging, { recursive: true, force: true });
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

/** A staging directory of ours: the prefix and mkdtemp's six characters. */
const isStaging = (name: string) => name.startsWith(STAGING) && /^[A-Za-z0-9]{6}$/.test(name.slice(STAGING.length));

/**
 * Whether the pre-built cluster may go into `dir`, a directory without a database: only when it
 * holds nothing of anyone else's. What a start of ours cut short left (recognised by its staging
 * directory: unpacking starts only in a directory holding nothing else, and removes the staging
 * directory last) is cleared away first. Anything else is the app's own and is never touched: PGlite
 * runs initdb beside it, as it did before there was a template.
 */
export async function readyForCluster(dir: string): Promise<boolean> {
  const names = (await readdir(dir)).filter((name) => name !== LOCK_FILE);
  if (!names.some(isStaging)) return names.length === 0;
  for (const name of names) await rm(join(dir, name), { recursive: true, force: true });
  return true;
}

/** An existing database's directory: the staging directory a start cut short after PG_VERSION left. */
export async function removeStaleStaging(dir: string): Promise<void> {
  for (const name of await readdir(dir)) if (isStaging(name)) await rm(join(dir, name), { recursive: true, force: true });
}

/**
 * After a start from the template failed: empties the new database's directory (all but our lock)
 * for initdb. Only ever after `readyForCluster`, so everything in it is what the start put there.
 */
export async function clearNewDatabase(location: string): Promise<void> {
  if (location === 'memory' || !existsSync(location)) return;
  for (const entry of await readdir(location)) {
    if (entry !== LOCK_FILE) await rm(join(location, entry), { recursive: true, force: true });
  }
}
