// requireAuth throughput against the same app without it, and against the usual alternatives,
// side by side in one run. `npm run bench`. Not part of `npm test`.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = 20;

interface Target {
  port: number;
  token: string;
  apiToken: string;
  stop(): void;
}

async function start(variant: string): Promise<Target> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/server.ts', variant], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${variant} exited with ${code}`)));
  });
  return { ...(JSON.parse(line) as Omit<Target, 'stop'>), stop: () => child.kill('SIGTERM') };
}

async function measure(port: number, headers: Record<string, string>) {
  const run = (duration: number) => autocannon({ url: `http://127.0.0.1:${port}/hello`, connections: CONNECTIONS, duration, headers });
  await run(1); // warm-up: JIT, caches, pools
  const result = await run(DURATION);
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`port ${port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const variants: Array<[string, (t: Target) => Record<string, string>]> = [
  ['bare', () => ({})],
  ['requireAuth-jwt', (t) => ({ authorization: `Bearer ${t.token}` })],
  ['requireAuth-api-token', (t) => ({ 'x-api-token': t.apiToken })],
  ['express-jwt', (t) => ({ authorization: `Bearer ${t.token}` })],
  ['jsonwebtoken-string-secret', (t) => ({ authorization: `Bearer ${t.token}` })],
  // An unguarded host route that awaits 20 promises, without and with the library mounted.
  ['bare-async', () => ({})],
  ['mounted-async', () => ({})],
];

// BENCH_VARIANTS=bare,bare-async,mounted-async runs a subset (the first listed is the baseline).
const only = process.env.BENCH_VARIANTS?.split(',');
const rows: Array<{ variant: string; rps: number; p50: number; p99: number }> = [];
for (const [variant, headers] of only ? only.map((name) => variants.find(([v]) => v === name)!) : variants) {
  // Every guarded variant verifies a token minted by an AuthManager with the same secret in its process.
  const target = await start(variant);
  try {
    rows.push({ variant, ...(await measure(target.port, headers(target))) });
  } finally {
    target.stop();
  }
}

const bare = rows[0]!.rps;
console.log(
  `\nGET /hello, ${CONNECTIONS} connections, ${DURATION} s each, Node ${process.version}, database: ${process.env.BENCH_DSN ? 'PostgreSQL' : 'PGlite'}`,
);
console.log('variant                      req/s     p50 ms  p99 ms  ratio to bare');
for (const r of rows) {
  console.log(
    `${r.variant.padEnd(28)} ${r.rps.toFixed(0).padStart(8)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${(r.rps / bare).toFixed(2)}x`,
  );
}
const byName = (name: string) => rows.find((r) => r.variant === name)?.rps ?? NaN;
console.log(`unguarded host route with the library mounted: ${(byName('mounted-async') / byName('bare-async')).toFixed(2)}x of the same route without it`);
