// The processes a bench measures run on plain Node, as a user's production server does, not under
// the TypeScript loader the bench itself runs in. The loader turns on source maps and keeps what it
// transforms: with it, importing the built package held 28 MB of live heap against 13 MB on plain
// Node (bare Express: 8 against 6), and a bigger live heap costs every request CPU in the collector,
// so measured under the loader the library looked to cost the host app more than it does.
import { build } from 'esbuild';
import { basename } from 'node:path';

const OUT_DIR = '.cache/bench';

/**
 * Compiles a bench entry (TypeScript) to `.cache/bench/<name>.mjs` and returns that path, to run
 * with `node`. Packages stay imports (`express-authlib` is the built package, as users import it);
 * only the bench's own modules are bundled.
 */
export async function compiled(entry: string): Promise<string> {
  const outfile = `${OUT_DIR}/${basename(entry).replace(/\.ts$/, '.mjs')}`;
  await build({ entryPoints: [entry], outfile, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'error' });
  return outfile;
}
