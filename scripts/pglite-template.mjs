// Part of `npm run build`: writes dist/pglite-template-<version>.tar.br, an empty PostgreSQL cluster
// made by initdb with the PGlite version this repository builds with. A new embedded database
// (pglite://memory, or a directory with no database in it) starts from a copy of it instead of
// running initdb, which costs seconds of CPU on every first start (src/db/pglite-template.ts).
// Only the cluster: no schema, no migration, so it fits any dbSchema and sql/ stays the one source
// of the schema. Cached in .cache/ by version: initdb runs once per PGlite version, not per build.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const pkgDir = dirname(dirname(require.resolve('@electric-sql/pglite')));
const { version } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const name = `pglite-template-${version}.tar.br`;
const cached = join(root, '.cache', name);

if (!existsSync(cached)) {
  const started = Date.now();
  const { PGlite } = require('@electric-sql/pglite');
  const pglite = new PGlite();
  await pglite.waitReady;
  const tar = Buffer.from(await (await pglite.dumpDataDir('none')).arrayBuffer());
  await pglite.close();
  // Quality 9 with a 16 MB window: the three databases of a cluster are much alike (40 MB -> 1.5 MB
  // in about a second; quality 11 saves another 0.2 MB for a minute of CPU).
  const packed = brotliCompressSync(tar, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: tar.length },
  });
  mkdirSync(dirname(cached), { recursive: true });
  writeFileSync(`${cached}.tmp`, packed);
  renameSync(`${cached}.tmp`, cached);
  console.log(`pglite template: ${name}, ${(packed.length / 2 ** 20).toFixed(2)} MB, made in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
copyFileSync(cached, join(root, 'dist', name));
