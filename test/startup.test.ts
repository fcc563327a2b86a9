import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

  it('an embedded database that cannot open is named as PGlite, with the reason in words', async () => {
    const file = join(dir, 'not-a-directory');
    writeFileSync(file, 'a file where the database directory should be');
    const auth = new AuthManager(null, { dbDsn: `pglite://${file}`, jwtSecret: 'f'.repeat(32), logger: false });
    const err = (await auth.ready.catch((e: unknown) => e)) as Error & { code?: string };
    await auth.close();
    expect(err.code).toBe('service_unavailable');
    expect(err.message).toMatch(new RegExp(`^cannot open PGlite at pglite://${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\S`));
    expect(err.message).not.toContain('[object Object]');
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

describe('start-up says what it does, through the default logger', () => {
  const migrations = readdirSync(fileURLToPath(new URL('../sql/', import.meta.url))).filter((f) => /^\d{4}_.+\.sql$/.test(f)).length;

  /** A database nothing has touched: a new schema on PostgreSQL (its DSN carrying a password), a new directory for PGlite. */
  function freshDatabase(): { dbDsn: string; dbSchema: string; target: RegExp } {
    const dbSchema = uniqueSchema('lines');
    schemas.push(dbSchema);
    if (!TEST_DSN) {
      const dbDsn = `pglite://${join(dir, dbSchema)}`;
      return { dbDsn, dbSchema, target: new RegExp(`on ${dbDsn.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`) };
    }
    const url = new URL(TEST_DSN);
    url.username = 'postgres';
    url.password = 'hunter2-secret';
    return { dbDsn: url.toString(), dbSchema, target: new RegExp(`on ${url.hostname.replace(/\./g, '\\.')}:${url.port || '5432'}$`) };
  }

  async function start(dbDsn: string, dbSchema: string): Promise<string[]> {
    const text = await stderrOf(async () => {
      const auth = new AuthManager(null, { dbDsn, dbSchema, jwtSecret: 'f'.repeat(32) });
      await auth.ready;
      await auth.close();
    });
    expect(text).not.toContain('hunter2');
    return text.trim().split('\n');
  }

  it('a first start: one line naming the pending migrations and the target, then one with the time it took', async () => {
    const { dbDsn, dbSchema, target } = freshDatabase();
    const lines = await start(dbDsn, dbSchema);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^express-authlib: applying ${migrations} pending migration\\(s\\) to schema "${dbSchema}" `));
    expect(lines[0]!.replace(/ \{.*\}$/, '')).toMatch(target);
    expect(lines[0]).toContain(`{"pending":${migrations}}`);
    expect(lines[1]).toMatch(/^express-authlib: ready in \d+\.\d+ s \{"ms":\d+\}$/);
  }, 60_000);

  it('a start with nothing to migrate prints the ready line alone', async () => {
    const { dbDsn, dbSchema } = freshDatabase();
    await start(dbDsn, dbSchema);
    const lines = await start(dbDsn, dbSchema);
    expect(lines).toEqual([expect.stringMatching(/^express-authlib: ready in \d+\.\d+ s/)]);
  }, 60_000);

  it('close() before ready: no ready line', async () => {
    const { dbDsn, dbSchema } = freshDatabase();
    const text = await stderrOf(async () => {
      const auth = new AuthManager(null, { dbDsn, dbSchema, jwtSecret: 'f'.repeat(32) });
      await auth.close();
      await auth.ready.catch(() => undefined);
    });
    expect(text).not.toContain('ready in');
  }, 60_000);
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
