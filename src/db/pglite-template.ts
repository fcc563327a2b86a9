import { createReadStream, createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { lstat, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import type * as Tar from 'tar';
import type { Logger } from '../logger.js';
import { PGLITE_PACKAGE } from './load-pglite.js';
import { lazyRequire } from '../lazy-require.js';
import { bundleFolders } from './bundle-folders.js';
import { readRegularFile } from './read-regular-file.js';

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
   * any existing database; resolves to the names it moved in (what a failed start removes), or
   * undefined when the directory already holds one of those names (nothing is moved: initdb).
   */
  unpackInto(dir: string): Promise<string[] | undefined>;
  /**
   * The cluster as a tar file for PGlite's `loadDataDir`, which an in-memory database has to start
   * from; `dispose` removes it once the database has loaded it.
   */
  asTar(): Promise<{ file: string; dispose(): Promise<void> }>;
}

/**
 * Whether a cluster made with PGlite `made` opens with the installed `installed`: the same release
 * line (the same major version, and for 0.x the same minor), which keeps PostgreSQL's major version
 * and its on-disk format. A patch release of PGlite opens it as it opens an app's own database made
 * by the previous patch; a cluster that does not start is set aside all the same.
 */
function sameReleaseLine(made: string, installed: string): boolean {
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
      // existing database (isNewDatabase). Before the first move, the staging directory gets the
      // list of names to move: a start cut short is undone from it (recoverCutShort).
      const staging = await mkdtemp(join(dir, STAGING));
      const moved: string[] = [];
      try {
        await untar(unpacked(), staging);
        const names = (await readdir(staging)).sort((a, b) => Number(a === 'PG_VERSION') - Number(b === 'PG_VERSION'));
        const present = new Set(await readdir(dir));
        if (names.some((name) => present.has(name))) return undefined;
        await writeFile(join(staging, MANIFEST), names.join('\n'));
        for (const name of names) {
          await rename(join(staging, name), join(dir, name));
          moved.push(name);
        }
        return names;
      } catch (err) {
        await removeEntries(dir, moved);
        throw err;
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    },
    // Unpacked to a file, which PGlite gets as a Blob backed by it, not by memory: PGlite keeps the
    // Blob it was given for as long as the database is open, so a Blob made from a buffer held the
    // whole 40 MB cluster in the process for good.
    async asTar() {
      const dir = await mkdtemp(join(tmpdir(), 'authlib-cluster-'));
      const dispose = () => rm(dir, { recursive: true, force: true });
      try {
        const file = join(dir, 'cluster.tar');
        await pipeline(unpacked(), createWriteStream(file, { mode: 0o600 }));
        return { file, dispose };
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

/** In a staging directory: the names to move into place, written before the first move. */
const MANIFEST = '.authlib-moving';
/** The list names the cluster's top-level entries (a few hundred bytes); anything larger is not ours. */
const MAX_MANIFEST_BYTES = 64 * 1024;

/** Removes `names` (entries the library put there) from `dir`; nothing else. */
export async function removeEntries(dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\')) continue;
    await rm(join(dir, name), { recursive: true, force: true });
  }
}

/**
 * Undoes what a start cut short left in `dir`: its staging directories and, in a directory that
 * is still no database (`newDatabase`), the entries it had already moved in: named in the staging
 * directory's list and no longer in it. In an existing database the moves were complete and are
 * the database: only the staging directory goes. Entries of the app's own, and files whose names
 * merely look like a staging directory's, are never touched.
 */
export async function recoverCutShort(dir: string, newDatabase: boolean): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!isStaging(name)) continue;
    const staging = join(dir, name);
    if (!(await lstat(staging)).isDirectory()) continue;
    if (newDatabase) {
      const list = await readRegularFile(join(staging, MANIFEST), MAX_MANIFEST_BYTES).catch(() => '');
      const left = new Set(await readdir(staging));
      await removeEntries(
        dir,
        list.split('\n').filter((moved) => moved && !left.has(moved)),
      );
    }
    await rm(staging, { recursive: true, force: true });
  }
}
