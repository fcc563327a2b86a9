// How long an app waits for `auth.ready` from a cold process: importing the package (the built
// dist/, as installed), opening the database (for PGlite: loading and booting the WebAssembly
// PostgreSQL), bringing the schema up to date, the rest of the start-up, and in all. Every run is a
// fresh child process (bench/cold-start-child.mjs, plain node); medians of BENCH_COLD_RUNS (5) runs
// for: the import alone; pglite://<dir> new and existing; pglite://memory (always new); PostgreSQL
// (BENCH_DSN) with a new schema and with an existing one. `npm run bench`; not part of `npm test`.
// Builds dist/ first when the sources are newer.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { BENCH_PG_DSN, postgresReachable } from './postgres.js';
import { change, describeMachine, median, previousResults, saveResults } from './results.js';

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 5);
const CHILD = new URL('./cold-start-child.mjs', import.meta.url);
const ROOT = new URL('..', import.meta.url);

const FIGURES = ['import_ms', 'open_ms', 'migrate_ms', 'setup_ms', 'ready_ms', 'total_ms', 'cpu_ms'] as const;
type Figure = (typeof FIGURES)[number];
type Sample = Partial<Record<Figure, number>>;
interface Row {
  scenario: string;
  runs: number;
  median: Sample;
}

/** The newest modification time of the files under `dir`. */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

function buildIfStale(): void {
  const root = ROOT.pathname;
  let built = 0;
  try {
    built = statSync(join(root, 'dist', 'index.js')).mtimeMs;
  } catch {
    // not built yet
  }
  if (built >= Math.max(newest(join(root, 'src')), newest(join(root, 'sql')))) return;
  console.log('building dist/ (the sources are newer)...');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** One child process; resolves with the figures it printed. */
function once(config: object): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD.pathname], {
      cwd: ROOT.pathname,
      env: { ...process.env, BENCH_COLD: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1);
      if (code !== 0 || !line) reject(new Error(`cold start ${JSON.stringify(config)} exited with ${code}: ${out}`));
      else resolve(JSON.parse(line) as Sample);
    });
  });
}

/** RUNS cold starts, each after `before` (untimed); the median of each figure. */
async function scenario(name: string, config: (run: number) => object, before?: (run: number) => Promise<void>): Promise<Row> {
  const samples: Sample[] = [];
  for (let run = 0; run < RUNS; run++) {
    await before?.(run);
    samples.push(await once(config(run)));
  }
  const med: Sample = {};
  for (const f of FIGURES) {
    const values = samples.map((s) => s[f]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (values.length > 0) med[f] = Math.round(median(values));
  }
  const row = { scenario: name, runs: RUNS, median: med };
  console.log(
    `${name}: ${FIGURES.filter((f) => f in med)
      .map((f) => `${f} ${med[f]}`)
      .join(', ')}`,
  );
  return row;
}

buildIfStale();
const rows: Row[] = [];
const dir = mkdtempSync(join(tmpdir(), 'authlib-cold-'));
try {
  rows.push(await scenario('import only', () => ({ importOnly: true })));

  rows.push(await scenario('pglite://<dir>, new', (run) => ({ dbDsn: `pglite://${join(dir, `new-${run}`)}` })));
  const existing = join(dir, 'existing');
  await once({ dbDsn: `pglite://${existing}` }); // creates and migrates it, untimed
  rows.push(await scenario('pglite://<dir>, existing', () => ({ dbDsn: `pglite://${existing}` })));
  rows.push(await scenario('pglite://memory', () => ({ dbDsn: 'pglite://memory' })));

  if (await postgresReachable()) {
    const client = new pg.Client({ connectionString: BENCH_PG_DSN });
    await client.connect();
    const schemas: string[] = [];
    const fresh = () => {
      const s = `bench_cold_${randomBytes(4).toString('hex')}`;
      schemas.push(s);
      return s;
    };
    try {
      const names: string[] = [];
      rows.push(
        await scenario(
          'PostgreSQL, new schema',
          (run) => ({ dbDsn: BENCH_PG_DSN, dbSchema: names[run] }),
          async (run) => {
            names[run] = fresh();
          },
        ),
      );
      const kept = fresh();
      await once({ dbDsn: BENCH_PG_DSN, dbSchema: kept });
      rows.push(await scenario('PostgreSQL, existing schema', () => ({ dbDsn: BENCH_PG_DSN, dbSchema: kept })));
    } finally {
      for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await client.end();
    }
  } else {
    console.log('PostgreSQL at BENCH_DSN not reachable: its rows are skipped');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const previous = previousResults<{ rows: Row[] }>('cold-start');
const LABELS: Record<Figure, string> = {
  import_ms: 'import',
  open_ms: 'open db',
  migrate_ms: 'migrate',
  setup_ms: 'rest',
  ready_ms: 'to ready',
  total_ms: 'total',
  cpu_ms: 'CPU',
};
console.log(
  `\ncold start, medians of ${RUNS} fresh processes, ms (to ready: from new AuthManager; total: from process start; CPU: the process's CPU time to ready); ${describeMachine()}`,
);
console.log(`${'scenario'.padEnd(30)} ${FIGURES.map((f) => LABELS[f].padStart(8)).join(' ')}   vs last run`);
for (const r of rows) {
  const before = previous?.rows.find((p) => p.scenario === r.scenario)?.median;
  const vs = (['total_ms', 'import_ms', 'cpu_ms'] as const)
    .filter((f) => f !== 'import_ms' || r.median.total_ms === undefined)
    .map((f) => {
      const c = change(r.median[f] ?? NaN, before?.[f]);
      return c ? `${LABELS[f]} ${c} (was ${before?.[f]})` : '';
    })
    .filter(Boolean)
    .join(', ');
  const cells = FIGURES.map((f) => (r.median[f] === undefined ? '' : String(r.median[f])).padStart(8)).join(' ');
  console.log(`${r.scenario.padEnd(30)} ${cells}   ${vs}`);
}
saveResults('cold-start', { runs: RUNS, rows });
