// requireAuth throughput against the same app without it, and against the usual alternatives,
// head to head: every variant runs in its own processes, pinned to one core, and is measured against
// bare Express (and the issue's comparisons against each other: a no-op middleware against a mounted
// instance, fast-jwt against requireAuth, a JWT against an API token) in quartets a b b a of short
// measurements, so that a change of the machine's speed during a quartet falls on both sides alike.
// `npm run bench`. Not part of `npm test`.
// Two figures per pair, each the median over its quartets of b's cost against a's: req/s, and the
// server's CPU time per request (its own CPU clock over the requests it served), which a busy
// machine disturbs far less than throughput. The whole measurement runs BENCH_RUNS (2) times over
// the same processes, and each run's medians are printed side by side, so a reader sees how stable
// they are. A second set of bare Express processes measured against the first ("bare-again")
// shows what the measure itself can tell apart: its figure is 1 when nothing is wrong.
// Each measurement follows BENCH_WARM (0.5) s of load that is not counted: a process that sat idle
// while the others were measured serves its first second up to a fifth slower (its caches and
// young generation cold), and bare Express, measured in every pair, was never idle that long.
// Two controls show where the cost of a mounted instance to routes it does not guard comes from:
// the library imported without an instance (its code in the heap), and bare Express holding as
// many MB of plain objects as an instance on PGlite adds to the heap (BENCH_HEAP_MB, 16).
// Each variant's live heap after a full collection is printed beside its RSS, and the collector's
// work is counted as well as timed (KB its scavenges copied and KB its full collections marked,
// per request): counts that a slow moment of the machine moves far less than it moves times.
// Every variant runs in BENCH_PROCESSES (2) processes (identical processes differ), one per half of
// each quartet, on plain Node (bench/plain-node.ts), as a production server runs.
//   BENCH_SECONDS (1) per measurement, BENCH_ROUNDS (6 quartets per pair), BENCH_RUNS (2), BENCH_PROCESSES (2),
//   BENCH_WARM (0.5 s), BENCH_VARIANTS=a,b (a subset; bare is always measured),
//   BENCH_PAIRS=goals (only the pairs the issue's goals read: more rounds in the same time),
//   BENCH_TRACE=1 (every measurement on stderr: variant, database and process, time, CPU µs per request, requests,
//     KB marked per request; to see the machine's noise, and to try other summaries on the same measurements),
//   BENCH_DSN (PostgreSQL; default postgres://postgres@127.0.0.1:5432/postgres, skipped when unreachable),
//   BENCH_NODE_FLAGS='--flag ...' (Node/V8 flags for every server process, alike: to find where a cost comes from),
//   BENCH_IDLE_SHRINK=1 (leave V8's memory reducer on: see IDLE_FLAGS),
//   BENCH_SERVER_LOG=<file> (the servers' own output, e.g. with BENCH_NODE_FLAGS=--trace-gc, appended to the file,
//     each line with the server's id and the time).
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { BENCH_PG_DSN, postgresReachable } from './postgres.js';
import { compiled } from './plain-node.js';
import { topFrames, type CpuProfile } from './profile.js';
import type { CollectorWork } from './server.js';
import { change, describeMachine, median, percentile, previousResults, saveResults } from './results.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
/** Seconds of load, not counted, before each measurement: see the comment at the top. */
const WARM = Number(process.env.BENCH_WARM ?? 0.5);
/**
 * Processes per variant. Identical processes differ: four bare Express servers measured in the
 * same rounds on this 2-core machine took 211 to 234 µs of CPU per request, each steady over six
 * rounds (where the heap and the code land in memory differs from one process to the next). With
 * one process per variant, that difference was read as the variant's.
 */
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 2);
const CONNECTIONS = 50;
/** The `heap` control's live plain objects: about what an instance on PGlite adds to the heap. */
const HEAP_MB = Number(process.env.BENCH_HEAP_MB ?? 16);
const DSN = BENCH_PG_DSN;
/** Comparisons the issue sets, measured head to head as well as each against bare Express. */
const HEAD_TO_HEAD: Array<[string, string]> = [
  ['noop', 'mounted'],
  ['fast-jwt', 'requireAuth-jwt'],
  ['fast-jwt', 'requireAuth-roles'],
  ['requireAuth-jwt', 'requireAuth-api-token'],
];
/** Variants without a guard, whose figure against bare Express is printed head to head. */
const CONTROLS = new Set(['bare-again', 'noop', 'imported', 'heap']);
/**
 * Every server runs with V8's memory reducer off. After about 8 s idle the reducer shrinks a
 * process's heap with full collections, and for the seconds of load that follow, V8 keeps the heap's
 * limit near twice the live heap: a mounted instance ran a full collection every 0.3 s at 33 MB,
 * where one that had not been shrunk ran one a second at 66 MB, each marking the whole live heap
 * (--trace-gc). Bare Express, measured in every pair against bare, sat idle that long before a
 * third of its measurements, the other variants before most of theirs: the bench charged them the
 * collector's idle work. A server under steady load never meets the reducer. With it off, a mounted
 * instance's collector marked 3.5 KB per request, against 8.3 with it on (bare Express 3.0 and 4.4):
 * see docs/guide/performance.md.
 */
const IDLE_FLAGS = process.env.BENCH_IDLE_SHRINK ? [] : ['--no-memory-reducer'];
const NODE_FLAGS = [...IDLE_FLAGS, ...(process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [])];
// The server on the second core, the load generator on the first, when the machine has two.
const PIN = process.platform === 'linux' ? ['taskset', '-c', '1'] : [];

type Database = 'pglite' | 'postgres' | 'none';
interface Variant {
  name: string;
  label: string;
  database: Database;
  headers(t: Target): Record<string, string>;
}
interface Target {
  /** variant/database#process, for BENCH_TRACE. */
  id: string;
  port: number;
  token: string;
  apiToken: string;
  child: ChildProcess;
}

const jwtHeader = (t: Target) => ({ authorization: `Bearer ${t.token}` });
const LIBRARY: Array<[string, string, (t: Target) => Record<string, string>]> = [
  ['mounted', 'the library mounted, this route not guarded', jwtHeader],
  ['requireAuth-jwt', 'requireAuth(), access JWT', jwtHeader],
  ['requireAuth-jwt-eddsa', 'requireAuth(), access JWT (EdDSA signingKeys)', jwtHeader],
  ['requireAuth-jwt-es256', 'requireAuth(), access JWT (ES256 signingKeys)', jwtHeader],
  ['requireAuth-roles', "requireAuth({ roles: ['user'] }), access JWT", jwtHeader],
  ['requireAuth-api-token', 'requireAuth(), API token', (t) => ({ 'x-api-token': t.apiToken })],
  ['requireAuth-group', 'requireAuth({ group }), access JWT', jwtHeader],
  ['requireAuth-permission-group', 'requireAuth({ permission, group }), access JWT', jwtHeader],
];
const PEERS: Array<[string, string]> = [
  // The measure's own noise: a second set of bare Express processes, measured against the first.
  ['bare-again', 'bare Express again (the measure itself)'],
  ['noop', 'a no-op middleware (reads the header, sets req.auth)'],
  // Controls for what a mounted instance costs routes it does not guard: no guard, no database.
  ['imported', 'the library imported, no instance'],
  ['heap', `bare + ${HEAP_MB} MB of plain objects, no library`],
  ['express-jwt', 'express-jwt 8 (signature only)'],
  ['passport-jwt', 'passport-jwt 4 (signature only)'],
  ['fast-jwt', 'fast-jwt 6 with its verify cache'],
  ['jsonwebtoken-string-secret', 'hand-written jwt.verify'],
];

const databases: Database[] = (await postgresReachable()) ? ['pglite', 'postgres'] : ['pglite'];
if (!databases.includes('postgres')) console.log(`PostgreSQL at BENCH_DSN not reachable: PGlite only`);

let variants: Variant[] = [
  { name: 'bare', label: 'nothing (bare Express)', database: 'none', headers: () => ({}) },
  ...PEERS.map(([name, label]) => ({ name, label, database: 'none' as const, headers: jwtHeader })),
  ...databases.flatMap((database) => LIBRARY.map(([name, label, headers]) => ({ name, label, database, headers }))),
];
const only = process.env.BENCH_VARIANTS?.split(',');
if (only) variants = variants.filter((v) => v.name === 'bare' || only.includes(v.name));

const SERVER = await compiled('bench/server.ts');
const SERVER_LOG = process.env.BENCH_SERVER_LOG;

async function start(v: Variant, p: number): Promise<Target> {
  const id = `${v.name}/${v.database}#${p}`;
  const args = [...NODE_FLAGS, SERVER, v.name === 'bare-again' ? 'bare' : v.name, v.database === 'none' ? 'pglite' : v.database];
  const [cmd, ...rest] = [...PIN, process.execPath, ...args];
  const child = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, BENCH_DSN: DSN, BENCH_HEAP_MB: String(HEAP_MB) } });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l.startsWith('{')) resolve(l);
      else if (SERVER_LOG) appendFileSync(SERVER_LOG, `${id} ${Date.now()} ${l}\n`);
    });
    child.once('exit', (code) => reject(new Error(`${v.name} exited with ${code}`)));
  });
  return { ...(JSON.parse(line) as Omit<Target, 'child' | 'id'>), child, id };
}

async function load(port: number, headers: Record<string, string>, duration: number) {
  const result = await autocannon({ url: `http://127.0.0.1:${port}/hello`, connections: CONNECTIONS, duration, headers });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`port ${port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total };
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  /** The server's CPU time per request, µs. */
  cpu: number;
  /** Of which the collector's pauses, µs per request. */
  gc: number;
  /** The collector's work, counted: KB its scavenges copied, and KB its full collections marked, per request. */
  copiedKb: number;
  markedKb: number;
}

/** One measurement: the load, and the server's CPU clock read before and after it. */
async function measure(t: Target, headers: Record<string, string>, duration: number): Promise<Sample> {
  if (WARM > 0) await load(t.port, headers, WARM);
  const before = await clocksOf(t.child);
  const { requests, ...rest } = await load(t.port, headers, duration);
  const after = await clocksOf(t.child);
  const perRequest = (n: number) => n / requests;
  const sample = {
    ...rest,
    cpu: perRequest(after.cpu - before.cpu),
    gc: perRequest(after.gc - before.gc),
    copiedKb: perRequest(after.work.copied / 1024),
    markedKb: perRequest(after.work.marked / 1024),
  };
  if (process.env.BENCH_TRACE) console.error(`TRACE ${t.id} ${Date.now()} ${sample.cpu.toFixed(2)} ${requests} ${sample.markedKb.toFixed(2)}`);
  return sample;
}

function ask<T>(child: ChildProcess, question: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (msg: T) => resolve(msg));
    child.send(question);
  });
}
const rssOf = async (child: ChildProcess) => (await ask<{ rss: number }>(child, 'rss')).rss;
const liveHeapOf = async (child: ChildProcess) => (await ask<{ heap: number }>(child, 'heap')).heap;
/** The server's clocks, and the collector's work since the last time they were read. */
const clocksOf = (child: ChildProcess) => ask<{ cpu: number; gc: number; work: CollectorWork }>(child, 'cpu');

// Start every target first (idle processes cost nothing but memory), warm each up, then measure.
const targets = new Map<Variant, Target[]>();
for (const v of variants) targets.set(v, await Promise.all(Array.from({ length: PROCESSES }, (_, p) => start(v, p))));
for (const v of variants) for (const t of targets.get(v)!) await load(t.port, v.headers(t), 1);

/**
 * One head-to-head measurement of `b` against `a`: their processes measured in turn as a b b a
 * (a0 b0 b1 a1 with two processes), so that a drift of the machine's speed during it falls on both
 * alike. Returns each side's samples and the ratios of their means (a's over b's for CPU per
 * request, b's over a's for req/s: 1 = b costs nothing more than a).
 */
async function quartet(a: Variant, b: Variant) {
  const samples = new Map<Variant, Sample[]>([
    [a, []],
    [b, []],
  ]);
  for (let p = 0; p < PROCESSES; p++) {
    for (const v of p % 2 === 0 ? [a, b] : [b, a]) {
      const t = targets.get(v)![p]!;
      samples.get(v)!.push(await measure(t, v.headers(t), SECONDS));
    }
  }
  const mean = (v: Variant, key: keyof Sample) => samples.get(v)!.reduce((sum, x) => sum + x[key], 0) / PROCESSES;
  return { samples, cpuRatio: mean(a, 'cpu') / mean(b, 'cpu'), rpsRatio: mean(b, 'rps') / mean(a, 'rps') };
}

// Every variant against bare Express, and the issue's own comparisons head to head.
const byName = (name: string, database: Database) => variants.find((v) => v.name === name && v.database === database);
// BENCH_PAIRS=goals: only the pairs the issue's goals read (the controls and the mounted instance
// against bare Express, the guards head to head), so that the same time buys more rounds of each.
const GOALS_ONLY = process.env.BENCH_PAIRS === 'goals';
const pairs: Array<[Variant, Variant]> = variants
  .filter((v) => v !== variants[0] && (!GOALS_ONLY || CONTROLS.has(v.name) || v.name === 'mounted'))
  .map((v) => [variants[0]!, v]);
for (const database of databases) {
  for (const [a, b] of HEAD_TO_HEAD) {
    // A peer runs without a database; the library's variants run on each.
    const side = (name: string) => byName(name, 'none') ?? byName(name, database);
    const pair = [side(a), side(b)];
    if (pair[0] && pair[1]) pairs.push(pair as [Variant, Variant]);
  }
}

interface PairRun {
  cpu: number[];
  rps: number[];
}
// runs[r]: each variant's samples and each pair's ratios (one per round) in run r.
const runs: Array<{ samples: Map<Variant, Sample[]>; pairs: Map<[Variant, Variant], PairRun> }> = [];
for (let run = 0; run < RUNS; run++) {
  if (process.env.BENCH_TRACE) console.error(`TRACE run ${run + 1}`);
  const samples = new Map<Variant, Sample[]>(variants.map((v) => [v, []]));
  const ratios = new Map<[Variant, Variant], PairRun>(pairs.map((p) => [p, { cpu: [], rps: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so that no pair always follows the same one.
    const order = pairs.map((_, i) => pairs[(i + round) % pairs.length]!);
    for (const pair of order) {
      const q = await quartet(...pair);
      for (const [v, xs] of q.samples) samples.get(v)!.push(...xs);
      ratios.get(pair)!.cpu.push(q.cpuRatio);
      ratios.get(pair)!.rps.push(q.rpsRatio);
    }
  }
  runs.push({ samples, pairs: ratios });
}
// BENCH_PROFILE=1: one more measurement of each variant under a CPU profile, and its top frames.
const profiles = new Map<Variant, ReturnType<typeof topFrames>>();
if (process.env.BENCH_PROFILE) {
  for (const v of variants) {
    const [first] = targets.get(v)!;
    const { child, port } = first!;
    await ask(child, 'profile-start');
    await load(port, v.headers(first!), SECONDS);
    const { profile } = await ask<{ profile: CpuProfile }>(child, 'profile-stop');
    profiles.set(v, topFrames(profile, 12));
    // BENCH_PROFILE=<directory> also keeps the profiles, to open in Chrome's DevTools.
    if (process.env.BENCH_PROFILE !== '1') writeFileSync(join(process.env.BENCH_PROFILE, `${v.name}-${v.database}.cpuprofile`), JSON.stringify(profile));
  }
}
// Memory is the median over a variant's processes.
const rss = new Map<Variant, number>();
for (const v of variants) rss.set(v, median(await Promise.all(targets.get(v)!.map((t) => rssOf(t.child)))));
// After the RSS (a full collection returns memory to the system), the live heap each variant's collector marks.
const liveHeap = new Map<Variant, number>();
for (const v of variants) liveHeap.set(v, median(await Promise.all(targets.get(v)!.map((t) => liveHeapOf(t.child)))));
for (const t of [...targets.values()].flat()) t.child.kill('SIGTERM');

interface Row {
  variant: string;
  label: string;
  database: Database;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  /** req/s as a ratio to bare Express: each run's median over its head-to-head rounds. */
  ratios: number[];
  /** The server's CPU µs per request, each run's median. */
  cpu_us: number[];
  /** Of the CPU per request, the collector's pauses (µs), each run's median. */
  gc_us: number[];
  /** KB the collector's scavenges copied per request (a count, not a time: far steadier on a busy machine), each run's median. */
  copied_kb: number[];
  /** KB the collector's full collections marked per request, each run's median. */
  marked_kb: number[];
  /** Bare Express's CPU per request over this variant's, measured head to head (1 = costs nothing more), per run. */
  cpu_ratios: number[];
  rss_mb: number;
  /** The live JavaScript heap after a full collection, MB: what the collector marks on each major cycle. */
  live_heap_mb: number;
  /** The first run's ratio, for the comparison with the last saved run. */
  ratio: number;
}
const bare = variants[0]!;
const round3 = (n: number) => Number(n.toFixed(3));
/** A pair's figures per run: the median over its rounds of the head-to-head ratios. */
const pairMedians = (pair: [Variant, Variant], key: keyof PairRun) => runs.map((r) => round3(median(r.pairs.get(pair)![key])));
const rows: Row[] = variants.map((v) => {
  const all = runs.flatMap((r) => r.samples.get(v)!);
  const perRun = (key: keyof Sample, digits: number) => runs.map((r) => Number(median(r.samples.get(v)!.map((x) => x[key])).toFixed(digits)));
  const pair = pairs.find(([a, b]) => a === bare && b === v);
  // A variant measured only head to head (BENCH_PAIRS=goals) has no ratio to bare: NaN, printed as '-'.
  const ratios = pair ? pairMedians(pair, 'rps') : runs.map(() => (v === bare ? 1 : NaN));
  return {
    variant: v.name,
    label: v.label,
    database: v.database,
    rps: Math.round(median(all.map((x) => x.rps))),
    p50_ms: median(all.map((x) => x.p50)),
    p99_ms: median(all.map((x) => x.p99)),
    ratios,
    cpu_us: perRun('cpu', 1),
    gc_us: perRun('gc', 1),
    copied_kb: perRun('copiedKb', 2),
    marked_kb: perRun('markedKb', 2),
    cpu_ratios: pair ? pairMedians(pair, 'cpu') : runs.map(() => (v === bare ? 1 : NaN)),
    rss_mb: Math.round(rss.get(v)! / 2 ** 20),
    live_heap_mb: Number((liveHeap.get(v)! / 2 ** 20).toFixed(1)),
    ratio: ratios[0]!,
  };
});

// A last run whose servers ran with other flags measured something else: no change is printed against it.
const last = previousResults<{ rows: Row[]; node_flags?: string[] }>('require-auth');
const previous = last && (last.node_flags ?? []).join(' ') === NODE_FLAGS.join(' ') ? last : undefined;
const before = (r: Row) => previous?.rows.find((p) => p.variant === r.variant && p.database === r.database)?.ratio;
const list = (xs: number[], digits = 2) => xs.map((x) => (Number.isNaN(x) ? '-' : x.toFixed(digits))).join(' / ');
console.log(
  `\nGET /hello, ${CONNECTIONS} connections, ${RUNS} runs of ${ROUNDS} quartets a b b a per pair, each measurement ${SECONDS} s after ${WARM} s of warm-up, ${PROCESSES} processes per variant, servers pinned to one core${NODE_FLAGS.length ? `, servers run with ${NODE_FLAGS.join(' ')}` : ''}; ${describeMachine()}`,
);
console.log("Ratios to bare Express measured head to head, one figure per run: req/s, and CPU time per request (bare's over the variant's).");
console.log(
  'guard                                           database   req/s  p99 ms  RSS MB  heap MB  req/s ratio   CPU µs/req    GC µs/req   CPU ratio    KB copied/req  KB marked/req  vs last run',
);
for (const r of rows) {
  console.log(
    `${r.label.padEnd(47)} ${r.database.padEnd(8)} ${String(r.rps).padStart(7)}  ${String(r.p99_ms).padStart(6)}  ${String(r.rss_mb).padStart(6)}  ${r.live_heap_mb.toFixed(1).padStart(7)}  ${list(r.ratios).padStart(11)}  ${list(r.cpu_us, 1).padStart(11)}  ${list(r.gc_us, 1).padStart(11)}  ${list(r.cpu_ratios).padStart(11)}  ${list(r.copied_kb, 1).padStart(13)}  ${list(r.marked_kb, 1).padStart(13)}  ${change(r.ratio, before(r))}`,
  );
}
// The head-to-head pairs: the issue's goals, and the controls, each as its median per run and the
// middle half of its rounds (how far one round's figure can be trusted).
const spread = (xs: number[]) => `${percentile(xs, 25).toFixed(2)}-${percentile(xs, 75).toFixed(2)}`;
const headToHead = pairs
  .filter(([a, b]) => a !== bare || CONTROLS.has(b.name) || b.name === 'mounted')
  .map((pair) => ({
    a: pair[0].name,
    b: pair[1].name,
    database: pair[1].database,
    cpu_ratios: pairMedians(pair, 'cpu'),
    rps_ratios: pairMedians(pair, 'rps'),
    cpu_spread: runs.map((r) => spread(r.pairs.get(pair)!.cpu)),
  }));
console.log(
  `\nHead to head: b measured against a in the same seconds (a b b a), 1 = b costs nothing more than a; per run, the median and the middle half of its ${ROUNDS} rounds`,
);
for (const h of headToHead) {
  const label = `${h.b} / ${h.a}${h.database === 'none' ? '' : ` (${h.database})`}`;
  console.log(`${label.padEnd(52)} CPU ${list(h.cpu_ratios)}  (${h.cpu_spread.join(' / ')})   req/s ${list(h.rps_ratios)}`);
}
// The verified-token cache makes the signature's cost a one-off per token: the algorithms should be within a few percent.
for (const database of databases) {
  const hs = rows.find((r) => r.variant === 'requireAuth-jwt' && r.database === database);
  for (const alg of ['eddsa', 'es256']) {
    const other = rows.find((r) => r.variant === `requireAuth-jwt-${alg}` && r.database === database);
    if (hs && other) console.log(`${alg === 'eddsa' ? 'EdDSA' : 'ES256'} vs HS256 (${database}): ${((other.rps / hs.rps - 1) * 100).toFixed(1)}% req/s`);
  }
}
for (const [v, frames] of profiles) {
  console.log(`\nCPU profile, ${v.label} (${v.database}): self time as a share of busy time`);
  for (const f of frames) console.log(`  ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.frame}`);
}
saveResults('require-auth', {
  connections: CONNECTIONS,
  seconds: SECONDS,
  rounds: ROUNDS,
  runs: RUNS,
  processes: PROCESSES,
  node_flags: NODE_FLAGS,
  rows,
  head_to_head: headToHead,
});
