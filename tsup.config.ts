import { defineConfig } from 'tsup';

// One build for the library (ESM + CommonJS + declarations) and one for the CLI, which only needs
// to run under Node and is never imported. The library build has three entries: `express-authlib`,
// `express-authlib/testing` and `express-authlib/client`, split into shared chunks in both formats,
// so the first two share one copy of every module (one AuthManager class, one lock per embedded
// database). The client imports nothing of Node (its own tsconfig and test/package.test.ts check);
// a second config for it would race this one's `clean`.
export default defineConfig([
  {
    entry: { index: 'src/index.ts', testing: 'src/testing/index.ts', client: 'src/client/index.ts' },
    format: ['esm', 'cjs'],
    splitting: true,
    dts: true,
    sourcemap: true,
    clean: true,
    shims: true,
    target: 'node20',
    // Bundled, not imported: kysely and zod are each hundreds of small ES modules, and resolving and
    // linking them was most of the package's import time (kysely alone ~0.3 s of the ~0.5 s).
    // Bundled they load in a fraction of that. Both are pure JavaScript without module state shared
    // with the app: a Kysely instance the app passes as `db` works with the bundled query builders
    // (kysely recognises its nodes and executors by shape), and zod's schemas never leave the library
    // (no declaration names zod, so it is a dev dependency; kysely stays a dependency for its types).
    // zod is imported as `* as z` (the lint enforces it) so that only what is used is bundled.
    noExternal: ['kysely', 'zod'],
  },
  {
    // The CLI, and the thread an embedded database runs in (src/db/pglite-worker.ts), which the
    // library starts by its file name beside the bundle, from ESM and CommonJS alike. Each is one
    // file with no chunk shared between them, so the thread's file can be copied beside an app's
    // own bundle (docs/guide/production.md).
    entry: { cli: 'cli/index.ts', 'pglite-worker': 'src/db/pglite-worker.ts' },
    format: ['esm'],
    splitting: false,
    // As the library: zod is not installed with the package (only bundled), and kysely loads faster so.
    noExternal: ['kysely', 'zod'],
    // No map: the CLI reports one line and no stack, and with kysely and zod inside, its map was 3 MB.
    sourcemap: false,
    shims: true,
    target: 'node20',
  },
]);
