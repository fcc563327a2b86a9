// How long POST /request-password-reset takes for a known and for an unknown email: the two must
// not differ (no enumeration by timing). Median of 50 each, interleaved, measured from another
// process (as a client would). The mailer waits 50 ms per mail, as a real SMTP server might: the
// answer must not wait for it. `npm run bench`; not part of `npm test`.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { compiled } from './plain-node.js';
import express from 'express';
import { AuthManager } from 'express-authlib';
import { dropBenchSchema } from './drop-schema.js';

const database = process.env.BENCH_DSN ? 'PostgreSQL' : 'PGlite';

if (process.argv[2] === 'serve') {
  // The server: prints its port, then serves until stdin closes; prints how many mails it sent.
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  let sent = 0;
  const app = express();
  const auth = new AuthManager(app, {
    dbDsn: process.env.BENCH_DSN ?? 'pglite://memory',
    dbSchema: schema,
    jwtSecret: randomBytes(48),
    rateLimit: false,
    bcryptRounds: 4,
    mailer: {
      async send() {
        await new Promise((resolve) => setTimeout(resolve, 50));
        sent += 1;
      },
    },
  });
  await auth.ready;
  await auth.users.create({ username: 'known', email: 'known@example.com', password: 'benchmark passphrase' });
  const server = app.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
  process.stdin.resume();
  process.stdin.on('end', async () => {
    server.close();
    await auth.close(); // waits for the mail still being sent
    await dropBenchSchema(schema);
    console.log(JSON.stringify({ sent }));
  });
} else {
  const child = spawn(process.execPath, [await compiled('bench/password-reset.ts'), 'serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { port } = JSON.parse(String((await lines.next()).value)) as { port: number };
  const ask = async (email: string) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/users/request-password-reset`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email }),
    });
    if (res.status !== 202) throw new Error(`unexpected ${res.status}`);
    await res.arrayBuffer();
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const timed = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };

  for (let i = 0; i < 10; i++) {
    await ask('known@example.com');
    await ask(`warmup${i}@example.com`);
  }
  /** Interleaved known/unknown pairs; with `gapMs`, each request starts after the previous one's background work (token, mail) is over. */
  const measure = async (gapMs: number, tag: string) => {
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 50; i++) {
      if (gapMs) await new Promise((resolve) => setTimeout(resolve, gapMs));
      known.push(await timed(() => ask('known@example.com')));
      if (gapMs) await new Promise((resolve) => setTimeout(resolve, gapMs));
      unknown.push(await timed(() => ask(`nobody-${tag}${i}@example.com`)));
    }
    return { known: median(known), unknown: median(unknown) };
  };
  const alone = await measure(150, 'a');
  const backToBack = await measure(0, 'b');
  child.stdin.end();
  const { sent } = JSON.parse(String((await lines.next()).value)) as { sent: number };

  console.log(`\nPOST /request-password-reset, database: ${database}, median of 50 each, from another process (the mailer takes 50 ms, after the answer)`);
  for (const [label, r] of [
    ['each request alone', alone],
    ['back to back (known, unknown, known ...)', backToBack],
  ] as const) {
    console.log(`${label}: known email ${r.known.toFixed(2)} ms, unknown email ${r.unknown.toFixed(2)} ms (${(r.unknown / r.known).toFixed(2)}x known)`);
  }
  console.log(`mails sent: ${sent} (one per known-email request: 110)`);
}
