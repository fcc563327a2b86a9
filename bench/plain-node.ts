// The processes a bench measures run on plain Node, as a user's production server does, not under
// the TypeScript loader the bench itself runs in. The loader turns on source maps and keeps what it
// transforms: with it, importing the built package held 28 MB of live heap against 13 MB on plain
// Node (bare Express: 8 against 6), and a bigger live heap costs every request CPU in the collector,
// so measured under the loader the library looked to cost the host app more than it does.
import { basename } from 'node:path';

const OUT_DIR = '.cache/bench';
/**
 * The package itself, named explicitly: tsconfig.json maps `express-authlib` to the sources (for the
 * tests and examples), and esbuild follows that mapping before `packages: 'external'` applies. Without
 * this line every bench server bundled the library's sources, and its static imports of zod and
 * kysely loaded into every server, bare Express included.
 */
const PACKAGE = ['express-authlib', 'express-authlib/*'];
/** Once per entry and bench run: a bench that starts a server per database or per size reuses the build. */
const builds = new Map<string, Promise<string>>();

/**
 * Compiles a bench entry (TypeScript) to `.cache/bench/<name>.mjs` and returns that path, to run
 * with `node`. Packages stay imports, `express-authlib` too (the built package, as users import
 * it): only the bench's own modules are bundled.
 */
export function compiled(entry: string): Promise<string> {
  let done = builds.get(entry);
  if (!done) {
    const outfile = `${OUT_DIR}/${basename(entry).replace(/\.ts$/, '.mjs')}`;
    // esbuild is imported here, not at the top: a bench that runs its own file as the child (host
    // promises, password reset) would otherwise load it into the process it measures.
    done = import('esbuild')
      .then(({ build }) =>
        build({
          entryPoints: [entry],
          outfile,
          bundle: true,
          packages: 'external',
          external: PACKAGE,
          platform: 'node',
          format: 'esm',
          target: 'node20',
          logLevel: 'error',
        }),
      )
      .then(() => outfile);
    builds.set(entry, done);
  }
  return done;
}
