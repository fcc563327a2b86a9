import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import bcryptjs from 'bcryptjs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BcryptHasher } from '../src/passwords/hasher.js';
import { BcryptWorkerPool } from '../src/passwords/worker-pool.js';
import { ServiceUnavailableError } from '../src/errors.js';
import { TEST_DSN } from './helpers/database.js';

// The native binding's binary comes per platform: where it loads, the workers must use it.
const nativeInstalled = (() => {
  try {
    createRequire(import.meta.url)('@node-rs/bcrypt');
    return true;
  } catch {
    return false;
  }
})();

const pool = new BcryptWorkerPool(2);
afterAll(() => pool.close());

// Nothing here depends on the database: once, on the PGlite run (CI runs the suite on both).
describe.skipIf(TEST_DSN)('password hashing workers', () => {
  it('use the native bcrypt binding where it is installed', async () => {
    expect(await pool.usesNative()).toBe(nativeInstalled);
  });

  it('hashes that bcryptjs verifies, and verify hashes bcryptjs made ($2a$, $2b$, $2y$)', async () => {
    const made = await pool.hash('correct horse', 4);
    expect(made).toMatch(/^\$2b\$04\$/);
    expect(bcryptjs.compareSync('correct horse', made)).toBe(true);
    expect(bcryptjs.compareSync('correct horsE', made)).toBe(false);
    const byJs = bcryptjs.hashSync('battery staple', 4);
    for (const prefix of ['$2a$', '$2b$', '$2y$']) {
      const hash = prefix + byJs.slice(4);
      expect(await pool.compare('battery staple', hash)).toBe(true);
      expect(await pool.compare('battery stapler', hash)).toBe(false);
    }
  });

  it('a password with a NUL does not match the hash of what precedes the NUL', async () => {
    const short = bcryptjs.hashSync('abc', 4);
    expect(await pool.compare('abc\0anything', short)).toBe(false);
    const withNul = await pool.hash('abc\0def', 4);
    expect(await pool.compare('abc\0def', withNul)).toBe(true);
    expect(await pool.compare('abc', withNul)).toBe(false);
  });

  it('every byte of a long password counts (pre-hashed before bcrypt sees it)', async () => {
    const hasher = new BcryptHasher(4, new BcryptWorkerPool(1));
    try {
      const long = 'x'.repeat(100);
      const stored = await hasher.hash(long + 'a');
      expect(await hasher.verify(long + 'a', stored)).toBe(true);
      expect(await hasher.verify(long + 'b', stored)).toBe(false);
    } finally {
      await hasher.close?.();
    }
  });

  it.runIf(process.platform === 'linux')('run at a lower priority than the event loop thread', async () => {
    await Promise.all([pool.compare('warm', bcryptjs.hashSync('warm', 4)), pool.compare('warm', bcryptjs.hashSync('warm', 4))]);
    // Per-thread nice values of this process: the event loop thread keeps 0, the hash workers have 10.
    const threads = execFileSync('ps', ['-L', '-o', 'ni=', '-p', String(process.pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number);
    expect(threads[0]).toBe(0);
    expect(threads.filter((n) => n === 10).length).toBeGreaterThanOrEqual(2);
  });
});

describe.skipIf(TEST_DSN)('closing the pool', () => {
  it('a hash under way when the pool closes rejects as the shutdown does (503), not as a failure (500)', async () => {
    const closing = new BcryptWorkerPool(1);
    await closing.hash('warm the worker', 4);
    // Cost 14 takes over a second: it is still running when close() terminates its worker.
    const running = closing.hash('a hash cut short', 14);
    const queued = closing.hash('a hash never started', 4);
    // Both are watched before close(): it rejects the queued hash at once and then waits for the
    // worker to end, and a rejection with no handler for that long is reported as unhandled.
    const outcomes = [running, queued].map((hash) => expect(hash).rejects.toBeInstanceOf(ServiceUnavailableError));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await closing.close();
    await Promise.all(outcomes);
    await expect(closing.hash('after close', 4)).rejects.toBeInstanceOf(ServiceUnavailableError);
  });
});

describe.skipIf(TEST_DSN)('idle password workers', () => {
  it('end after the idle time, each counted from its own last hash, and come back for the next hash', async () => {
    // The pool's clock is faked: with real timers, a machine slow enough to take the idle time over
    // one hash (CI under load did) retired a worker before the check, and the test failed. The
    // workers and their messages stay real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const brief = new BcryptWorkerPool(2, 300);
    try {
      await Promise.all([brief.hash('one password', 4), brief.hash('two password', 4)]);
      expect(brief.workers).toBe(2);
      vi.advanceTimersByTime(150);
      expect(brief.workers).toBe(2);
      // Work within the idle time keeps that worker: its idle time starts again.
      await brief.hash('three password', 4);
      expect(brief.workers).toBe(2);
      vi.advanceTimersByTime(200); // 350 ms: the worker idle since the first hashes ends, the other stays
      expect(brief.workers).toBe(1);
      vi.advanceTimersByTime(150); // 500 ms, 350 since the third hash
      expect(brief.workers).toBe(0);
      const again = await brief.hash('four password', 4);
      expect(await brief.compare('four password', again)).toBe(true);
      expect(brief.workers).toBe(1);
    } finally {
      vi.useRealTimers();
      await brief.close();
    }
  });
});

describe.skipIf(TEST_DSN)('a process that may not start threads', () => {
  it('under Node’s permission model without --allow-worker, hashes on the app’s thread: register 201, login 200, a wrong password 401', async () => {
    // Plain Node on the built package, as an app runs it. A refused worker used to reject the hash
    // with ERR_ACCESS_DENIED, which every register and login answered with a 500.
    const entry = join(process.cwd(), 'dist', 'index.js');
    if (!existsSync(entry)) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
    const script = `
      const { default: express } = await import('express');
      const { AuthManager } = await import(${JSON.stringify(entry)});
      const app = express();
      const auth = new AuthManager(app, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(40), logger: false });
      await auth.ready;
      const server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      const base = 'http://127.0.0.1:' + server.address().port + '/api/v1/users';
      const post = (path, body) =>
        fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.status);
      const statuses = [
        await post('/register', { username: 'no_threads', email: 'no-threads@example.com', password: 'a long enough passphrase' }),
        await post('/login', { username: 'no_threads', password: 'a long enough passphrase' }),
        await post('/login', { username: 'no_threads', password: 'not the passphrase at all' }),
      ];
      console.log(JSON.stringify(statuses));
      server.close();
      await auth.close();
    `;
    const flags = ['--experimental-permission', '--allow-fs-read=*', '--allow-fs-write=*', '--no-warnings'];
    const { stdout } = await promisify(execFile)(process.execPath, [...flags, '--input-type=module', '-e', script], { timeout: 60_000 });
    expect(JSON.parse(stdout.trim())).toEqual([201, 200, 401]);
  }, 70_000);
});
