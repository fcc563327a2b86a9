// A storm of logins (bcrypt cost 12, K in flight) against the latency of everything else, and how
// many logins per second two cores deliver compared with one core running bcryptjs.
// `npm run bench`. Not part of `npm test`. BENCH_STORM_SECONDS (10), BENCH_DSN as in require-auth.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import bcrypt from 'bcryptjs';
import { BENCH_PG_DSN, postgresReachable } from './postgres.js';
import { DEFAULT_BCRYPT_ROUNDS } from 'express-authlib';
import { change, describeMachine, median, percentile, previousResults, saveResults } from './results.js';
import { compiled } from './plain-node.js';

const K = 4;
const STORM_SECONDS = Number(process.env.BENCH_STORM_SECONDS ?? 10);
const PING_EVERY_MS = 5;
const DSN = BENCH_PG_DSN;
const PASSWORD = 'benchmark password 123';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One core of bcryptjs: how many cost-12 verifications per second the main thread manages alone. */
function oneCoreBcryptjs(): number {
  const hash = bcrypt.hashSync(PASSWORD, DEFAULT_BCRYPT_ROUNDS);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 3000) {
    bcrypt.compareSync(PASSWORD, hash);
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function start(database: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [await compiled('bench/login-server.ts'), database], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_DSN: DSN, BENCH_PASSWORD: PASSWORD },
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`login server exited with ${code}`)));
  });
  return { port: (JSON.parse(line) as { port: number }).port, child };
}

/** Pings every PING_EVERY_MS until `until` resolves; each ping's latency in ms. */
async function pingWhile(port: number, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.then(() => (done = true));
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  while (!done) {
    const t0 = performance.now();
    pending.push(
      fetch(`http://127.0.0.1:${port}/ping`)
        .then((r) => r.arrayBuffer())
        .then(() => void latencies.push(performance.now() - t0)),
    );
    await sleep(PING_EVERY_MS);
  }
  await Promise.all(pending);
  return latencies;
}

async function login(port: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/users/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench', password: PASSWORD }),
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`login answered ${res.status}`);
}

async function storm(port: number) {
  await login(port); // warm-up: workers started
  const idle = await pingWhile(port, sleep(3000));
  let logins = 0;
  const t0 = performance.now();
  const deadline = t0 + STORM_SECONDS * 1000;
  const loops = Array.from({ length: K }, async () => {
    while (performance.now() < deadline) {
      await login(port);
      logins++;
    }
  });
  const busy = await pingWhile(port, Promise.all(loops));
  const seconds = (performance.now() - t0) / 1000;
  return {
    logins_per_s: logins / seconds,
    idle_p50_ms: median(idle),
    idle_p99_ms: percentile(idle, 99),
    storm_p50_ms: median(busy),
    storm_p99_ms: percentile(busy, 99),
  };
}

const baseline = oneCoreBcryptjs();
const databases = (await postgresReachable()) ? ['pglite', 'postgres'] : ['pglite'];
const rows = [];
for (const database of databases) {
  const { port, child } = await start(database);
  try {
    const r = await storm(port);
    rows.push({ database, ...r, ratio_to_one_core_bcryptjs: Number((r.logins_per_s / baseline).toFixed(2)) });
  } finally {
    child.kill('SIGTERM');
  }
}

const previous = previousResults<{ rows: typeof rows }>('login-storm');
console.log(
  `\nlogin storm: ${K} logins in flight for ${STORM_SECONDS} s at bcrypt cost ${DEFAULT_BCRYPT_ROUNDS}, GET /ping every ${PING_EVERY_MS} ms; ${describeMachine()}`,
);
console.log(`one core of bcryptjs: ${baseline.toFixed(2)} verifications/s`);
console.log('database   logins/s  x one-core bcryptjs  /ping p50 idle  p99 idle  p50 storm  p99 storm  vs last run (p99 storm, logins/s)');
for (const r of rows) {
  const last = previous?.rows.find((p) => p.database === r.database);
  console.log(
    `${r.database.padEnd(9)} ${r.logins_per_s.toFixed(2).padStart(9)}  ${r.ratio_to_one_core_bcryptjs.toFixed(2).padStart(18)}x  ${r.idle_p50_ms.toFixed(2).padStart(13)}  ${r.idle_p99_ms.toFixed(2).padStart(8)}  ${r.storm_p50_ms.toFixed(2).padStart(9)}  ${r.storm_p99_ms.toFixed(2).padStart(9)}  ${change(r.storm_p99_ms, last?.storm_p99_ms)} ${change(r.logins_per_s, last?.logins_per_s)}`,
  );
}
saveResults('login-storm', { k: K, seconds: STORM_SECONDS, bcrypt_cost: DEFAULT_BCRYPT_ROUNDS, one_core_bcryptjs_per_s: baseline, rows });
