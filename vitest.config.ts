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
    globalSetup: ['test/global-setup.ts'],
    // One worker per core on the embedded database, whose queries run in the workers' own threads:
    // the two cores are busy throughout, and a third worker was no faster (318 s against 316 for
    // the whole run). On PostgreSQL the workers wait on the server's processes, and with two of them
    // a fifth of the machine's CPU sat idle: a third worker took the run from 197 s to 170. Files in
    // a worker share one embedded PGlite (it costs seconds and hundreds of MB to start), and the
    // migrated schemas of their test apps (test/helpers/schema-pool.ts); hence no per-file isolation.
    pool: 'forks',
    maxWorkers: process.env.AUTHLIB_TEST_DSN ? 3 : 2,
    isolate: false,
    // V8's baseline WebAssembly compiler only: each embedded database a test opens (many start a
    // fresh pglite://memory one) otherwise has V8's optimising compiler rework PostgreSQL's hot code
    // in background threads, CPU the two cores are short of; the queries themselves are no slower
    // for it (measured on the suite's busiest files). Same code, same results.
    execArgv: ['--liftoff-only'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
