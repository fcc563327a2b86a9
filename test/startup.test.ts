import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { AuthManager, type Logger } from '../src/index.js';
import { TEST_DSN, dropSchema, uniqueSchema } from './helpers/database.js';

const MAIN = fileURLToPath(new URL('./helpers/close-early-main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'authlib-startup-'));
const schemas: string[] = [];

afterAll(async () => {
  if (TEST_DSN) for (const s of schemas) await dropSchema(s);
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Everything written to stderr while `work` runs. */
async function stderrOf(work: () => Promise<void>): Promise<string> {
  let text = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  try {
    await work();
  } finally {
    vi.restoreAllMocks();
  }
  return text;
}

const unreachable = 'postgresql://app:hunter2-secret@127.0.0.1:1/appdb';

describe('start-up failures are visible', () => {
  it('the default logger writes one line to stderr when ready fails, without the DSN password', async () => {
    const text = await stderrOf(async () => {
      const auth = new AuthManager(null, { dbDsn: unreachable, jwtSecret: 'f'.repeat(32) });
      await expect(auth.ready).rejects.toMatchObject({ code: 'service_unavailable' });
      await new Promise((resolve) => setImmediate(resolve));
      await auth.close();
    });
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^express-authlib: start-up failed: cannot connect to PostgreSQL at 127\.0\.0\.1:1: connection refused/);
    expect(text).not.toContain('hunter2');
  });

  it('logger: false says nothing; a logger of the app gets the failure at error level', async () => {
    const silent = await stderrOf(async () => {
      const auth = new AuthManager(null, { dbDsn: unreachable, jwtSecret: 'f'.repeat(32), logger: false });
      await auth.ready.catch(() => undefined);
      await new Promise((resolve) => setImmediate(resolve));
      await auth.close();
    });
    expect(silent).toBe('');

    const errors: string[] = [];
    const logger: Logger = { info() {}, debug() {}, warn() {}, error: (_obj, msg) => errors.push(msg ?? '') };
    const auth = new AuthManager(null, { dbDsn: unreachable, jwtSecret: 'f'.repeat(32), logger });
    await auth.ready.catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    await auth.close();
    expect(errors).toEqual([expect.stringMatching(/^express-authlib: start-up failed: cannot connect/)]);
  });

  it('rejects a logger that is not a logger at construction', () => {
    expect(() => new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'f'.repeat(32), logger: console.log as never })).toThrow(/option `logger`/);
  });
});

describe('close() before or during ready', () => {
  /** Runs close-early-main.ts; resolves with its exit code and how long it took. */
  function closeEarly(delayMs: number): Promise<{ code: number | null; ms: number; output: string }> {
    const schema = uniqueSchema('close');
    schemas.push(schema);
    const dbDsn = TEST_DSN ?? `pglite://${join(dir, `db-${delayMs}`)}`;
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, AUTHLIB_CLOSE_EARLY: JSON.stringify({ dbDsn, dbSchema: schema, delayMs }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    return new Promise((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      child.on('exit', (code) => {
        clearTimeout(killer);
        resolve({ code, ms: Date.now() - started, output });
      });
    });
  }

  it.each([0, 150, 600])(
    'the process exits by itself when close() comes %i ms after construction',
    async (delayMs) => {
      const result = await closeEarly(delayMs);
      expect(result.output).toContain('closed');
      expect(result.code, result.output).toBe(0);
    },
    60_000,
  );
});
