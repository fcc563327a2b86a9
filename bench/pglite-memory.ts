// Resident memory of an instance against bare Express, each in a process of its own
// (bench/pglite-memory-child.mjs: plain Node, importing the built package as installed, so no
// TypeScript loader's memory is counted), that serves a few requests and reports its resident set
// size after a collection. The embedded database is measured with the library's own settings
// (PGLITE_SETTINGS in src/db/connect.ts) and, for comparison, with PostgreSQL's defaults (an
// app's own PGlite instance passed as `db`). `npm run bench` (after `npm run build`).
//   BENCH_SAMPLE (3): processes per variant; the median is reported.
import { execFileSync } from 'node:child_process';
import { BENCH_PG_DSN, postgresReachable } from './postgres.js';
import { describeMachine, median, saveResults } from './results.js';

const SAMPLE = Number(process.env.BENCH_SAMPLE ?? 3);
type Variant = 'bare' | 'postgres' | 'pglite' | 'pglite-defaults';

{
  const variants: Variant[] = ['bare', 'pglite', 'pglite-defaults'];
  if (await postgresReachable()) variants.splice(1, 0, 'postgres');
  const mb = (n: number) => Math.round(n / 2 ** 20);
  const rows: Array<{ variant: Variant; rss_mb: number; heap_mb: number; external_mb: number; over_bare_mb: number }> = [];
  for (const variant of variants) {
    const runs = Array.from({ length: SAMPLE }, () => {
      const out = execFileSync(process.execPath, ['--expose-gc', 'bench/pglite-memory-child.mjs', variant], {
        encoding: 'utf8',
        env: { ...process.env, BENCH_DSN: BENCH_PG_DSN },
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
  for (const r of rows) r.over_bare_mb = r.rss_mb - rows[0]!.rss_mb;
  console.log(`\nresident memory after serving, median of ${SAMPLE} processes each; ${describeMachine()}`);
  console.log('variant           RSS MB  over bare  JS heap MB  external MB (WebAssembly memory, embedded files)');
  for (const r of rows)
    console.log(
      `${r.variant.padEnd(16)} ${String(r.rss_mb).padStart(7)}  ${String(r.over_bare_mb).padStart(9)}  ${String(r.heap_mb).padStart(10)}  ${String(r.external_mb).padStart(11)}`,
    );
  saveResults('pglite-memory', { sample: SAMPLE, rows });
}
