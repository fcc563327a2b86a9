import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliDecompress } from 'node:zlib';
import { PGLITE_PACKAGE } from './load-pglite.js';
import { LOCK_FILE } from './pglite-lock.js';

const unbrotli = promisify(brotliDecompress);

/** The installed PGlite's version, from its package.json (which its `exports` do not list). */
function installedVersion(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve(PGLITE_PACKAGE);
    return (JSON.parse(readFileSync(join(dirname(dirname(entry)), 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The template the build made for `version`: beside the bundle in dist/, or in dist/ when running from the sources. */
function templateFile(version: string): string | undefined {
  const name = `pglite-template-${version}.tar.br`;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++) {
    for (const candidate of [join(dir, name), join(dir, 'dist', name)]) if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * An empty cluster, made by initdb at build time (scripts/pglite-template.mjs), as a tar for
 * PGlite's `loadDataDir`: a new embedded database starts from a copy instead of running initdb,
 * which costs seconds of CPU. Only for the exact PGlite version that made it (another version may
 * keep its catalog differently); undefined otherwise, and PGlite runs initdb as before.
 */
export async function pgliteTemplate(): Promise<Blob | undefined> {
  const version = installedVersion();
  const file = version && templateFile(version);
  if (!file) return undefined;
  return new Blob([await unbrotli(await readFile(file))], { type: 'application/x-tar' });
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
