// Resident memory of an instance against bare Express, each in a process of its own
// (bench/pglite-memory-child.mjs: plain Node, importing the built package as installed, so no
// TypeScript loader's memory is counted), that serves a few requests and reports its resident set
// size after a collection. The embedded database is measured with the library's own settings
// (PGLITE_SETTINGS in src/db/connect.ts) and, for comparison, with PostgreSQL's defaults (an
// app's own PGlite instance passed as `db`). Each embedded variant runs both in memory
// (pglite://memory) and in a new directory. The `trim` rows run the same processes with glibc's
// MALLOC_TRIM_THRESHOLD_ set, an operator's setting (see docs/guide/operations.md): without it,
// memory freed after V8 compiles the database's WebAssembly on its background threads stays with
// the process. `npm run bench` (after `npm run build`).
//   BENCH_SAMPLE (3): processes per variant; the median is reported.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_PG_DSN, postgresReachable } from './postgres.js';
import { describeMachine, median, saveResults } from './results.js';

const SAMPLE = Number(process.env.BENCH_SAMPLE ?? 3);
type Variant = 'bare' | 'postgres' | 'pglite' | 'pglite-dir' | 'pglite-defaults' | 'bare trim' | 'pglite trim' | 'pglite-dir trim';
/** glibc returns freed memory at the top of a heap above this many bytes (its default adapts upward to 64 MB). */
const TRIM = '131072';

{
  const variants: Variant[] = ['bare', 'pglite', 'pglite-dir', 'pglite-defaults', 'bare trim', 'pglite trim', 'pglite-dir trim'];
  if (await postgresReachable()) variants.splice(1, 0, 'postgres');
  const scratch = mkdtempSync(join(tmpdir(), 'bench-mem-'));
  const mb = (n: number) => Math.round(n / 2 ** 20);
  const rows: Array<{ variant: Variant; rss_mb: number; heap_mb: number; external_mb: number; over_bare_mb: number }> = [];
  for (const variant of variants) {
    const runs = Array.from({ length: SAMPLE }, (_, i) => {
      const [kind, trim] = variant.split(' ');
      const out = execFileSync(process.execPath, ['--expose-gc', 'bench/pglite-memory-child.mjs', kind!], {
        encoding: 'utf8',
        env: {
          ...process.env,
          BENCH_DSN: BENCH_PG_DSN,
          BENCH_DIR: join(scratch, `${kind}-${trim ?? 'default'}-${i}`),
          ...(trim ? { MALLOC_TRIM_THRESHOLD_: TRIM } : {}),
        },
      });
      return JSON.parse(out.trim().split('\n').pop()!) as { rss: number; heapUsed: number; external: number };
    });
    rows.push({
      variant,
      rss_mb: mb(median(runs.map((r) => r.rss))),
      heap_mb: mb(median(runs.map((r) => r.heapUsed))),
      external_mb: mb(median(runs.map((r) => r.external))),
      over_bare_mb: 0,
    });
  }
  rmSync(scratch, { recursive: true, force: true });
  for (const r of rows) r.over_bare_mb = r.rss_mb - rows.find((b) => b.variant === (r.variant.endsWith(' trim') ? 'bare trim' : 'bare'))!.rss_mb;
  console.log(`\nresident memory after serving, median of ${SAMPLE} processes each; ${describeMachine()}`);
  console.log('variant            RSS MB  over bare  JS heap MB  external MB (WebAssembly memory, embedded files)');
  for (const r of rows)
    console.log(
      `${r.variant.padEnd(17)} ${String(r.rss_mb).padStart(7)}  ${String(r.over_bare_mb).padStart(9)}  ${String(r.heap_mb).padStart(10)}  ${String(r.external_mb).padStart(11)}`,
    );
  saveResults('pglite-memory', { sample: SAMPLE, rows });
}
