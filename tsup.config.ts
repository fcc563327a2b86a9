import { defineConfig } from 'tsup';

// One build for the library (ESM + CommonJS + declarations) and one for the CLI,
// which only needs to run under Node and is never imported.
export default defineConfig([
  {
    entry: { index: 'src/index.ts' },
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
