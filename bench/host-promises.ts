// What the library costs the host app's own code: CPU time per call of an async function that
// awaits 20 promises (as a route that queries a database does), in a process without the library
// and in one where it is mounted and has served a request. Run by `npm run bench`.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { compiled } from './plain-node.js';

const N = 200_000;
const ROUNDS = 5;

async function hostWork(): Promise<number> {
  let sum = 0;
  for (let i = 0; i < 20; i++) sum += await Promise.resolve(i);
  return sum;
}

/** Median CPU microseconds per call over ROUNDS rounds of N calls (CPU time: less noisy than wall time). */
async function measure(): Promise<number> {
  const rounds: number[] = [];
  for (let r = 0; r <= ROUNDS; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < N; i++) await hostWork();
    const used = process.cpuUsage(start);
    if (r > 0) rounds.push((used.user + used.system) / N); // round 0 warms the JIT
  }
  return rounds.sort((a, b) => a - b)[Math.floor(rounds.length / 2)]!;
}

if (process.argv[2] === 'child') {
  if (process.argv[3] === 'mounted') {
    const { default: express } = await import('express');
    const { AuthManager } = await import('express-authlib');
    const app = express();
    const auth = new AuthManager(app, { dbDsn: 'pglite://memory', jwtSecret: randomBytes(48).toString('base64url'), rateLimit: false, bcryptRounds: 4 });
    await auth.ready;
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    await fetch(`http://127.0.0.1:${port}/api/v1/users/auth-methods`);
    server.close();
    console.log(await measure());
    await auth.close();
  } else {
    console.log(await measure());
  }
} else {
  // The children run on plain Node, as a production server does (see bench/plain-node.ts).
  const child = await compiled('bench/host-promises.ts');
  const run = (mode: string) => Number(execFileSync(process.execPath, [child, 'child', mode], { encoding: 'utf8' }).trim().split('\n').pop());
  const bare = run('bare');
  const mounted = run('mounted');
  console.log(`\nhost async function (20 awaits), CPU µs per call, median of ${ROUNDS} x ${N.toLocaleString()} calls, Node ${process.version}`);
  console.log(`without the library       ${bare.toFixed(3)}`);
  console.log(`library mounted and used  ${mounted.toFixed(3)}   ${(bare / mounted).toFixed(2)}x the speed without it`);
}
