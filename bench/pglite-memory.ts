// Resident memory of an instance against bare Express, each in a process of its own
// (bench/pglite-memory-child.mjs: plain Node, importing the built package as installed, so no
// TypeScript loader's memory is counted), that serves a few requests, times a few thousand
// database reads, and reports its resident set size after collections. The embedded database is
// measured with the library's own settings (src/db/pglite-settings.ts): in memory
// (pglite://memory); in a new directory; in a directory an earlier process started, as after a
// restart (pglite-dir-existing: the first start unpacks the cluster, and what that leaves in the
// allocator stays until the process ends). For comparison: PostgreSQL's defaults (an app's own
// PGlite instance passed as `db`), and PGlite alone with the library's settings and no library in
// the process, the floor for an instance on the embedded database: in memory (pglite-only), and
// opened on a directory another process initialised (pglite-only-dir). pglite-writes is the
// instance in memory after 20,000 writes as well (its µs figure is per write): the WAL they leave is
// the process's memory too.
// Every kind runs under three process settings, which are the operator's, not the library's (see
// docs/guide/production.md, "Memory on a small server"):
//   default  node as it starts;
//   trim     glibc's MALLOC_TRIM_THRESHOLD_ set: memory V8 freed after compiling the database's
//            WebAssembly on its background threads goes back to the system;
//   lean     trim, and node --liftoff-only: V8 keeps its baseline WebAssembly code and never
//            compiles PostgreSQL a second time.
// `npm run bench` (after `npm run build`).
//   BENCH_SAMPLE (3): processes per variant; the median is reported.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGLITE_INITDB_ARGS, PGLITE_MEMORY_SETTINGS, PGLITE_SETTINGS } from '../src/db/pglite-settings.js';
import { BENCH_PG_DSN, postgresReachable } from './postgres.js';
import { describeMachine, median, saveResults } from './results.js';

const SAMPLE = Number(process.env.BENCH_SAMPLE ?? 3);
/** glibc returns freed memory at the top of a heap above this many bytes (its default adapts upward to 64 MB). */
const TRIM = '131072';
const SETTINGS = {
  default: { args: [], env: {} },
  trim: { args: [], env: { MALLOC_TRIM_THRESHOLD_: TRIM } },
  lean: { args: ['--liftoff-only'], env: { MALLOC_TRIM_THRESHOLD_: TRIM } },
} as const;
type Setting = keyof typeof SETTINGS;
type Kind = 'bare' | 'postgres' | 'pglite' | 'pglite-writes' | 'pglite-dir' | 'pglite-dir-existing' | 'pglite-defaults' | 'pglite-only' | 'pglite-only-dir';
interface Measured {
  rss: number;
  heapUsed: number;
  external: number;
  /** µs per read of a user by id, through the library or straight on PGlite (none for bare Express). */
  readMicros?: number;
}

{
  const kinds: Kind[] = ['bare', 'pglite-only', 'pglite', 'pglite-writes', 'pglite-only-dir', 'pglite-dir', 'pglite-dir-existing', 'pglite-defaults'];
  if (await postgresReachable()) kinds.splice(1, 0, 'postgres');
  const scratch = mkdtempSync(join(tmpdir(), 'bench-mem-'));
  const mb = (n: number) => Math.round(n / 2 ** 20);
  const rows: Array<{ kind: Kind; setting: Setting; rss_mb: number; heap_mb: number; external_mb: number; over_bare_mb: number; read_us: number | null }> = [];
  for (const setting of Object.keys(SETTINGS) as Setting[]) {
    for (const kind of kinds) {
      if (setting !== 'default' && (kind === 'postgres' || kind === 'pglite-defaults' || kind === 'pglite-writes')) continue;
      const { args, env } = SETTINGS[setting];
      const runs = Array.from({ length: SAMPLE }, (_, i) => {
        const out = execFileSync(process.execPath, ['--expose-gc', ...args, 'bench/pglite-memory-child.mjs', kind], {
          encoding: 'utf8',
          env: {
            ...process.env,
            ...env,
            BENCH_DSN: BENCH_PG_DSN,
            BENCH_DIR: join(scratch, `${kind}-${setting}-${i}`),
            BENCH_PGLITE_SETTINGS: JSON.stringify(kind === 'pglite-only' ? PGLITE_MEMORY_SETTINGS : PGLITE_SETTINGS),
            BENCH_PGLITE_INITDB_ARGS: JSON.stringify(PGLITE_INITDB_ARGS),
          },
        });
        return JSON.parse(out.trim().split('\n').pop()!) as Measured;
      });
      const reads = runs.flatMap((r) => (r.readMicros === undefined ? [] : [r.readMicros]));
      rows.push({
        kind,
        setting,
        rss_mb: mb(median(runs.map((r) => r.rss))),
        heap_mb: mb(median(runs.map((r) => r.heapUsed))),
        external_mb: mb(median(runs.map((r) => r.external))),
        over_bare_mb: 0,
        read_us: reads.length ? Math.round(median(reads)) : null,
      });
    }
  }
  rmSync(scratch, { recursive: true, force: true });
  for (const r of rows) r.over_bare_mb = r.rss_mb - rows.find((b) => b.kind === 'bare' && b.setting === r.setting)!.rss_mb;
  console.log(`\nresident memory after serving, median of ${SAMPLE} processes each; ${describeMachine()}`);
  console.log('variant             setting  RSS MB  over bare  JS heap MB  external MB  µs per read');
  for (const r of rows)
    console.log(
      `${r.kind.padEnd(19)} ${r.setting.padEnd(7)} ${String(r.rss_mb).padStart(7)}  ${String(r.over_bare_mb).padStart(9)}  ${String(r.heap_mb).padStart(10)}  ${String(r.external_mb).padStart(11)}  ${String(r.read_us ?? '').padStart(11)}`,
    );
  saveResults('pglite-memory', { sample: SAMPLE, rows });
}
