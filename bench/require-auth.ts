// requireAuth throughput against the same app without it, and against the usual alternatives,
// side by side: every variant runs in its own process, pinned to one core, and the rounds are
// interleaved (bare, guard A, guard B, ... then again) so that a slow moment of the machine
// falls on all of them alike. `npm run bench`. Not part of `npm test`.
// Two figures per variant, each a ratio to bare Express in the same round: req/s, and the server's
// CPU time per request (its own CPU clock over the requests it served), which a busy machine
// disturbs far less than throughput. The whole measurement runs BENCH_RUNS (2) times over the
// same processes, and each run's medians are printed side by side, so a reader sees how stable
// they are. Two controls show where the cost of a mounted instance to routes it does not guard
// comes from: the library imported without an instance (its code in the heap), and bare Express
// holding as many MB of plain objects as an instance on PGlite adds to the heap (BENCH_HEAP_MB, 16).
// Each variant's live heap after a full collection is printed beside its RSS: the collector marks
// it on every major cycle, whoever's objects they are. And the collector's work is counted as well as
// timed (KB its scavenges copied and KB its full collections marked, per request): counts that a
// slow moment of the machine moves far less than it moves times.
// Every variant runs in BENCH_PROCESSES (2) processes, and a round's figure is their mean.
//   BENCH_SECONDS (2) per measurement, BENCH_ROUNDS (6), BENCH_RUNS (2), BENCH_PROCESSES (2), BENCH_VARIANTS=a,b (a subset),
//   BENCH_DSN (PostgreSQL; default postgres://postgres@127.0.0.1:5432/postgres, skipped when unreachable),
//   BENCH_NODE_FLAGS='--flag ...' (Node/V8 flags for every server process, alike: to find where a cost comes from).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { BENCH_PG_DSN, postgresReachable } from './postgres.js';
import { topFrames, type CpuProfile } from './profile.js';
import type { CollectorWork } from './server.js';
import { change, describeMachine, median, previousResults, saveResults } from './results.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
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
const NODE_FLAGS = process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
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

async function start(v: Variant): Promise<Target> {
  const args = [...NODE_FLAGS, '--import', 'tsx', 'bench/server.ts', v.name, v.database === 'none' ? 'pglite' : v.database];
  const [cmd, ...rest] = [...PIN, process.execPath, ...args];
  const child = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, BENCH_DSN: DSN, BENCH_HEAP_MB: String(HEAP_MB) } });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${v.name} exited with ${code}`)));
  });
  return { ...(JSON.parse(line) as Omit<Target, 'child'>), child };
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
  const before = await clocksOf(t.child);
  const { requests, ...rest } = await load(t.port, headers, duration);
  const after = await clocksOf(t.child);
  return {
    ...rest,
    cpu: (after.cpu - before.cpu) / requests,
    gc: (after.gc - before.gc) / requests,
    copiedKb: after.work.copied / 1024 / requests,
    markedKb: after.work.marked / 1024 / requests,
  };
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

// Start every target first (idle processes cost nothing but memory), warm each up, then interleave.
const targets = new Map<Variant, Target[]>();
for (const v of variants) targets.set(v, await Promise.all(Array.from({ length: PROCESSES }, () => start(v))));
for (const v of variants) for (const t of targets.get(v)!) await load(t.port, v.headers(t), 1);

/** A variant's figure for one round: each of its processes measured in turn, and their mean. */
async function measureVariant(v: Variant): Promise<Sample> {
  const samples: Sample[] = [];
  for (const t of targets.get(v)!) samples.push(await measure(t, v.headers(t), SECONDS));
  const mean = (key: keyof Sample) => samples.reduce((sum, x) => sum + x[key], 0) / samples.length;
  return { rps: mean('rps'), p50: mean('p50'), p99: mean('p99'), cpu: mean('cpu'), gc: mean('gc'), copiedKb: mean('copiedKb'), markedKb: mean('markedKb') };
}

// runs[r]: each variant's samples of run r.
const runs: Array<Map<Variant, Sample[]>> = [];
for (let run = 0; run < RUNS; run++) {
  const samples = new Map<Variant, Sample[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so that no variant always follows the same one.
    const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
    for (const v of order) samples.get(v)!.push(await measureVariant(v));
  }
  runs.push(samples);
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
  /** req/s as a ratio to bare Express, the median of the first run's rounds (then each later run's). */
  ratios: number[];
  /** The server's CPU µs per request, each run's median. */
  cpu_us: number[];
  /** Of the CPU per request, the collector's pauses (µs), each run's median. */
  gc_us: number[];
  /** KB the collector's scavenges copied per request (a count, not a time: far steadier on a busy machine), each run's median. */
  copied_kb: number[];
  /** KB the collector's full collections marked per request, each run's median. */
  marked_kb: number[];
  /** Bare Express's CPU per request over this variant's (1 = costs nothing more), per run. */
  cpu_ratios: number[];
  rss_mb: number;
  /** The live JavaScript heap after a full collection, MB: what the collector marks on each major cycle. */
  live_heap_mb: number;
  /** The first run's ratio, for the comparison with the last saved run. */
  ratio: number;
}
const bare = variants[0]!;
const round3 = (n: number) => Number(n.toFixed(3));
const rows: Row[] = variants.map((v) => {
  const all = runs.flatMap((r) => r.get(v)!);
  const ratios = runs.map((r) => round3(median(r.get(v)!.map((x) => x.rps)) / median(r.get(bare)!.map((x) => x.rps))));
  const cpu = runs.map((r) => median(r.get(v)!.map((x) => x.cpu)));
  const cpuRatios = runs.map((r, i) => round3(median(r.get(bare)!.map((x) => x.cpu)) / cpu[i]!));
  return {
    variant: v.name,
    label: v.label,
    database: v.database,
    rps: Math.round(median(all.map((x) => x.rps))),
    p50_ms: median(all.map((x) => x.p50)),
    p99_ms: median(all.map((x) => x.p99)),
    ratios,
    cpu_us: cpu.map((c) => Number(c.toFixed(1))),
    gc_us: runs.map((r) => Number(median(r.get(v)!.map((x) => x.gc)).toFixed(1))),
    copied_kb: runs.map((r) => Number(median(r.get(v)!.map((x) => x.copiedKb)).toFixed(2))),
    marked_kb: runs.map((r) => Number(median(r.get(v)!.map((x) => x.markedKb)).toFixed(2))),
    cpu_ratios: cpuRatios,
    rss_mb: Math.round(rss.get(v)! / 2 ** 20),
    live_heap_mb: Number((liveHeap.get(v)! / 2 ** 20).toFixed(1)),
    ratio: ratios[0]!,
  };
});

const previous = previousResults<{ rows: Row[] }>('require-auth');
const before = (r: Row) => previous?.rows.find((p) => p.variant === r.variant && p.database === r.database)?.ratio;
const list = (xs: number[], digits = 2) => xs.map((x) => x.toFixed(digits)).join(' / ');
console.log(
  `\nGET /hello, ${CONNECTIONS} connections, ${RUNS} runs of ${ROUNDS} interleaved rounds of ${SECONDS} s on each of ${PROCESSES} processes per variant, servers pinned to one core${NODE_FLAGS.length ? `, servers run with ${NODE_FLAGS.join(' ')}` : ''}; ${describeMachine()}`,
);
console.log("Ratios to bare Express in the same round, one figure per run: req/s, and CPU time per request (bare's over the variant's).");
console.log(
  'guard                                           database   req/s  p99 ms  RSS MB  heap MB  req/s ratio   CPU µs/req    GC µs/req   CPU ratio    KB copied/req  KB marked/req  vs last run',
);
for (const r of rows) {
  console.log(
    `${r.label.padEnd(47)} ${r.database.padEnd(8)} ${String(r.rps).padStart(7)}  ${String(r.p99_ms).padStart(6)}  ${String(r.rss_mb).padStart(6)}  ${r.live_heap_mb.toFixed(1).padStart(7)}  ${list(r.ratios).padStart(11)}  ${list(r.cpu_us, 1).padStart(11)}  ${list(r.gc_us, 1).padStart(11)}  ${list(r.cpu_ratios).padStart(11)}  ${list(r.copied_kb, 1).padStart(13)}  ${list(r.marked_kb, 1).padStart(13)}  ${change(r.ratio, before(r))}`,
  );
}
// The issue's goals, each as the two figures it compares (per run), on each database.
const find = (variant: string, database: Database) => rows.find((r) => r.variant === variant && r.database === database);
const versus = (label: string, a: Row | undefined, b: Row | undefined) => {
  if (!a || !b) return;
  const rps = a.ratios.map((x, i) => x / b.ratios[i]!);
  const cpu = a.cpu_ratios.map((x, i) => x / b.cpu_ratios[i]!);
  console.log(`${label.padEnd(62)} req/s ${list(rps)}   CPU ${list(cpu)}`);
};
console.log('');
versus('the library imported, no instance / bare', find('imported', 'none'), find('bare', 'none'));
versus(`${HEAP_MB} MB of plain objects / bare`, find('heap', 'none'), find('bare', 'none'));
for (const database of databases) {
  versus(`unguarded route with the library mounted / bare (${database})`, find('mounted', database), find('bare', 'none'));
  versus(`unguarded route with the library mounted / no-op middleware (${database})`, find('mounted', database), find('noop', 'none'));
  versus(`unguarded route with the library mounted / ${HEAP_MB} MB of objects (${database})`, find('mounted', database), find('heap', 'none'));
  versus(`requireAuth() JWT / fast-jwt (${database})`, find('requireAuth-jwt', database), find('fast-jwt', 'none'));
  versus(`requireAuth({ roles }) / fast-jwt (${database})`, find('requireAuth-roles', database), find('fast-jwt', 'none'));
  versus(`requireAuth() API token / JWT (${database})`, find('requireAuth-api-token', database), find('requireAuth-jwt', database));
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
saveResults('require-auth', { connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, runs: RUNS, processes: PROCESSES, node_flags: NODE_FLAGS, rows });
