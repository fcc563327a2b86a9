import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_DSN } from './helpers/database.js';

// The README's quick start, run as written: its server.ts, then its shell lines, must end with a
// 200 from the admin route. It runs on embedded PGlite (as the quick start does), against the
// built package (dist/), so once per suite: the PostgreSQL run skips it.
const ROOT = process.cwd();
// Inside the repository, so that `import 'express-authlib'` resolves to this package's dist/ the way
// an installed copy would (a package may import itself by name), and express and tsx are found.
const DIR = join(ROOT, '.quick-start', String(process.pid));

afterAll(() => rmSync(DIR, { recursive: true, force: true }));

function quickStart(): { server: string; shell: string[] } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start\n'), readme.indexOf('\n## ', readme.indexOf('## Quick start\n') + 1));
  const blocks = [...section.matchAll(/```(ts|sh)\n([\s\S]*?)```/g)];
  return { server: blocks.find((b) => b[1] === 'ts')![2]!, shell: blocks.filter((b) => b[1] === 'sh').map((b) => b[2]!) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

describe.skipIf(TEST_DSN)('README quick start', () => {
  it('ends with a 200 from the admin route', async () => {
    const port = await freePort();
    const { server, shell } = quickStart();
    expect(shell).toHaveLength(2);
    const local = (text: string) =>
      text
        .replaceAll('3000', String(port))
        .replaceAll('npx authlib', `node ${JSON.stringify(join(ROOT, 'bin', 'authlib.js'))}`)
        .replaceAll('npx tsx', `${JSON.stringify(process.execPath)} --import tsx`);
    mkdirSync(DIR, { recursive: true });
    writeFileSync(join(DIR, 'server.ts'), local(server));
    // Installing is what this repository already did; everything else runs as written.
    const setup = local(shell[0]!)
      .split('\n')
      .filter((line) => !line.startsWith('npm '))
      .join('\n');
    const waitForServer = `for i in $(seq 1 120); do curl -s -o /dev/null localhost:${port}/ && break; sleep 0.25; done`;
    // The trap stops the server however the script ends.
    const script = ['set -e', "trap 'kill $(jobs -p) 2>/dev/null' EXIT", setup, waitForServer, local(shell[1]!)].join('\n');
    const child = spawn('bash', ['-c', script], { cwd: DIR, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('exit', (c) => {
        clearTimeout(killer);
        resolve(c);
      });
    });
    expect(code, out).toBe(0);
    expect(out).toMatch(/HTTP\/1\.1 200 OK/);
    expect(out).toContain('{"hello":"alice"}');
  }, 120_000);
});
