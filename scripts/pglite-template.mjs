// Part of `npm run build`, after tsup: writes dist/pglite-template-<pglite version>-<schema>.tar.br, a
// PostgreSQL cluster as a new embedded database needs it: made by initdb with the PGlite version this
// repository builds with, then migrated by the library just built (dist/) into the default dbSchema.
// A new embedded database (pglite://memory, or a directory with no database in it) starts from a
// copy of it (src/db/pglite-template.ts) instead of running initdb and every migration, which cost
// seconds of CPU on each first start. Cached in .cache/ by PGlite version and the contents of sql/.
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const pkgDir = dirname(dirname(require.resolve('@electric-sql/pglite')));
const { version } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const { AuthManager, DEFAULT_DB_SCHEMA } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);

const sqlDir = join(root, 'sql');
// The cache key: the migrations, this recipe, and the settings the library makes a cluster with.
const sqlHash = createHash('sha256');
for (const file of readdirSync(sqlDir).sort())
  sqlHash
    .update(`${file}\0`)
    .update(readFileSync(join(sqlDir, file)))
    .update('\0');
sqlHash.update(readFileSync(fileURLToPath(import.meta.url))).update(readFileSync(join(root, 'src', 'db', 'pglite-settings.ts')));
const name = `pglite-template-${version}-${DEFAULT_DB_SCHEMA}.tar.br`;
const cached = join(root, '.cache', `${sqlHash.digest('hex').slice(0, 16)}-${name}`);

if (!existsSync(cached)) {
  const started = Date.now();
  const { PGlite } = require('@electric-sql/pglite');
  const { pg_trgm } = require('@electric-sql/pglite/contrib/pg_trgm');
  // Made by the library itself, on a directory of its own: initdb with the library's arguments
  // (1 MB WAL segments), its settings, its migrations. dist/ holds no cluster yet, so it runs initdb.
  const dir = mkdtempSync(join(tmpdir(), 'authlib-template-'));
  let tar;
  try {
    const auth = new AuthManager(null, { dbDsn: `pglite://${dir}`, jwtSecret: randomBytes(32), logger: false });
    await auth.ready;
    await auth.close();
    const pglite = new PGlite(dir, { extensions: { pg_trgm } });
    await pglite.waitReady;
    tar = Buffer.from(await (await pglite.dumpDataDir('none')).arrayBuffer());
    await pglite.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Quality 9 with a 16 MB window: the three databases of a cluster are much alike (30 MB -> 1.5 MB
  // in about a second; quality 11 saves another 0.2 MB for a minute of CPU).
  const packed = brotliCompressSync(tar, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: tar.length },
  });
  rmSync(join(root, '.cache'), { recursive: true, force: true }); // older versions and migration sets
  mkdirSync(dirname(cached), { recursive: true });
  writeFileSync(`${cached}.tmp`, packed);
  renameSync(`${cached}.tmp`, cached);
  console.log(`pglite template: ${name}, ${(packed.length / 2 ** 20).toFixed(2)} MB, made in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
copyFileSync(cached, join(root, 'dist', name));
