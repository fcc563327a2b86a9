import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Examples import the package by name, as users do; in tests that name means the sources.
  resolve: {
    alias: [
      { find: /^express-authlib$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      { find: /^express-authlib\/testing$/, replacement: fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    // One worker per core. Files in a worker share one embedded PGlite (it costs seconds and
    // hundreds of MB to start), each file in a schema of its own; hence no per-file isolation.
    pool: 'forks',
    maxWorkers: 2,
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
