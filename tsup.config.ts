import { defineConfig } from 'tsup';

// One build for the library and its client (ESM + CommonJS + declarations) and one for the CLI,
// which only needs to run under Node and is never imported.
export default defineConfig([
  {
    // express-authlib/client shares this build: a second config would race this one's `clean`.
    // It imports nothing of Node (its own tsconfig and test/package.test.ts check), so the shims stay out of it.
    entry: { index: 'src/index.ts', client: 'src/client/index.ts' },
    format: ['esm', 'cjs'],
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
