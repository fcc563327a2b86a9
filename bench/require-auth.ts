// requireAuth throughput against the same app without it, and against the usual alternatives,
// side by side: every variant runs in its own process, pinned to one core, and the rounds are
// interleaved (bare, guard A, guard B, ... then again) so that a slow moment of the machine
// falls on all of them alike. `npm run bench`. Not part of `npm test`.
//   BENCH_SECONDS (3) per measurement, BENCH_ROUNDS (3), BENCH_VARIANTS=a,b (a subset),
//   BENCH_DSN (PostgreSQL; default postgres://postgres@127.0.0.1:5432/postgres, skipped when unreachable).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { BENCH_PG_DSN, postgresReachable } from './postgres.js';
import { topFrames, type CpuProfile } from './profile.js';
import { change, describeMachine, median, previousResults, saveResults } from './results.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const DSN = BENCH_PG_DSN;
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
  ['requireAuth-jwt', 'requireAuth(), access JWT', jwtHeader],
  ['requireAuth-jwt-eddsa', 'requireAuth(), access JWT (EdDSA signingKeys)', jwtHeader],
  ['requireAuth-jwt-es256', 'requireAuth(), access JWT (ES256 signingKeys)', jwtHeader],
  ['requireAuth-roles', "requireAuth({ roles: ['user'] }), access JWT", jwtHeader],
  ['requireAuth-api-token', 'requireAuth(), API token', (t) => ({ 'x-api-token': t.apiToken })],
  ['requireAuth-group', 'requireAuth({ group }), access JWT', jwtHeader],
  ['requireAuth-permission-group', 'requireAuth({ permission, group }), access JWT', jwtHeader],
];
const PEERS: Array<[string, string]> = [
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
  const args = ['--import', 'tsx', 'bench/server.ts', v.name, v.database === 'none' ? 'pglite' : v.database];
  const [cmd, ...rest] = [...PIN, process.execPath, ...args];
  const child = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, BENCH_DSN: DSN } });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${v.name} exited with ${code}`)));
  });
  return { ...(JSON.parse(line) as Omit<Target, 'child'>), child };
}

async function load(port: number, headers: Record<string, string>, duration: number) {
  const result = await autocannon({ url: `http://127.0.0.1:${port}/hello`, connections: CONNECTIONS, duration, headers });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`port ${port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

function ask<T>(child: ChildProcess, question: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (msg: T) => resolve(msg));
    child.send(question);
  });
}
const rssOf = async (child: ChildProcess) => (await ask<{ rss: number }>(child, 'rss')).rss;

// Start every target first (idle processes cost nothing but memory), warm each up, then interleave.
const targets = new Map<Variant, Target>();
for (const v of variants) targets.set(v, await start(v));
for (const v of variants) await load(targets.get(v)!.port, v.headers(targets.get(v)!), 1);

const samples = new Map<Variant, Array<{ rps: number; p50: number; p99: number }>>(variants.map((v) => [v, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round so that no variant always follows the same one.
  const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
  for (const v of order) samples.get(v)!.push(await load(targets.get(v)!.port, v.headers(targets.get(v)!), SECONDS));
}
// BENCH_PROFILE=1: one more measurement of each variant under a CPU profile, and its top frames.
const profiles = new Map<Variant, ReturnType<typeof topFrames>>();
if (process.env.BENCH_PROFILE) {
  for (const v of variants) {
    const { child, port } = targets.get(v)!;
    await ask(child, 'profile-start');
    await load(port, v.headers(targets.get(v)!), SECONDS);
    const { profile } = await ask<{ profile: CpuProfile }>(child, 'profile-stop');
    profiles.set(v, topFrames(profile, 12));
    // BENCH_PROFILE=<directory> also keeps the profiles, to open in Chrome's DevTools.
    if (process.env.BENCH_PROFILE !== '1') writeFileSync(join(process.env.BENCH_PROFILE, `${v.name}-${v.database}.cpuprofile`), JSON.stringify(profile));
  }
}
const rss = new Map<Variant, number>();
for (const v of variants) rss.set(v, await rssOf(targets.get(v)!.child));
for (const t of targets.values()) t.child.kill('SIGTERM');

interface Row {
  variant: string;
  label: string;
  database: Database;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  ratio: number;
  rss_mb: number;
}
const bareRps = median(samples.get(variants[0]!)!.map((s) => s.rps));
const rows: Row[] = variants.map((v) => {
  const s = samples.get(v)!;
  const rps = median(s.map((x) => x.rps));
  return {
    variant: v.name,
    label: v.label,
    database: v.database,
    rps: Math.round(rps),
    p50_ms: median(s.map((x) => x.p50)),
    p99_ms: median(s.map((x) => x.p99)),
    ratio: Number((rps / bareRps).toFixed(3)),
    rss_mb: Math.round(rss.get(v)! / 2 ** 20),
  };
});

const previous = previousResults<{ rows: Row[] }>('require-auth');
const before = (r: Row) => previous?.rows.find((p) => p.variant === r.variant && p.database === r.database)?.ratio;
console.log(`\nGET /hello, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${SECONDS} s, server pinned to one core; ${describeMachine()}`);
console.log('guard                                           database   req/s   p50 ms  p99 ms  RSS MB  ratio to bare  vs last run');
for (const r of rows) {
  console.log(
    `${r.label.padEnd(47)} ${r.database.padEnd(8)} ${String(r.rps).padStart(7)}  ${String(r.p50_ms).padStart(6)}  ${String(r.p99_ms).padStart(6)}  ${String(r.rss_mb).padStart(6)}  ${r.ratio.toFixed(2).padStart(12)}x  ${change(r.ratio, before(r))}`,
  );
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
saveResults('require-auth', { connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, rows });
