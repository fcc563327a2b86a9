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
  },
  {
    entry: { cli: 'cli/index.ts' },
    format: ['esm'],
    sourcemap: true,
    shims: true,
    target: 'node20',
  },
]);
