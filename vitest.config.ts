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
    // V8's optimising WebAssembly compiler stays on. It once reworked PostgreSQL's hot code again
    // for every embedded database a test opened, so the workers ran with the baseline compiler only;
    // now that the library compiles PGlite once per process and its threads share the code, the
    // optimised code is made once per worker. Ten of the busiest files ran in 89 s (160 s of CPU)
    // with it against 96 s (174 s) without; the whole PGlite run, 313 s against 316.
    execArgv: [],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
