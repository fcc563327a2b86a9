import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { TEST_DSN, uniqueSchema } from './database.js';

/**
 * The built bin against the test database, in a schema of its own: PostgreSQL when the suite runs
 * there, else an embedded database in a fresh directory (which the app of the same test can open
 * between CLI calls: one writer at a time).
 */
export function cliRunner(prefix: string) {
  const bin = join(process.cwd(), 'bin', 'authlib.js');
  const dir = mkdtempSync(join(tmpdir(), `authlib-${prefix}-`));
  const schema = uniqueSchema(prefix);
  const pgliteDir = join(dir, 'db');
  const db = ['--dsn', TEST_DSN ?? `pglite://${pgliteDir}`, '--schema', schema];
  const authlib = (args: string[], input?: string) => {
    const result = spawnSync(process.execPath, [bin, ...args, ...db], { input, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 60_000 });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  /** A success (exit 0); its stdout. */
  const ok = (args: string[], input?: string): string => {
    const r = authlib(args, input);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  /** A failure with exit `code` and one line on stderr, no stack; returns the line. */
  const fails = (args: string[], code: 1 | 2 = 1, input?: string): string => {
    const r = authlib(args, input);
    expect(r.code, r.stdout + r.stderr).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^authlib: /);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
    return r.stderr.trim();
  };
  return { dir, schema, pgliteDir, authlib, ok, fails };
}
