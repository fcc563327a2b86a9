import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_DSN, dropSchema, uniqueSchema } from './helpers/database.js';

// The CLI as a user runs it: the built bin, a real database, exit codes and output.
const BIN = join(process.cwd(), 'bin', 'authlib.js');
const dir = mkdtempSync(join(tmpdir(), 'authlib-cli-'));
const schema = uniqueSchema('cli');
const dsn = TEST_DSN ?? `pglite://${join(dir, 'db')}`;

function authlib(args: string[], input?: string, env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    input,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const db = ['--dsn', dsn, '--schema', schema];

afterAll(async () => {
  if (TEST_DSN) await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

describe('authlib CLI', () => {
  it('db init is idempotent and db status then shows nothing pending', () => {
    const first = authlib(['db', 'init', ...db]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applied 0001_init/);
    const second = authlib(['db', 'init', ...db]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/up to date/);
    const status = authlib(['db', 'status', ...db]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/applied\s+0001_init/);
    expect(status.stdout).not.toMatch(/^pending/m);
  });

  it('reads --dsn and --schema from AUTHLIB_DB_DSN / AUTHLIB_DB_SCHEMA', () => {
    const status = authlib(['db', 'status'], undefined, { AUTHLIB_DB_DSN: dsn, AUTHLIB_DB_SCHEMA: schema });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/nothing pending/);
  });

  it('creates a user from --password-stdin, changes roles and creates an API token', () => {
    const created = authlib(['user', 'create', '--username', 'Root', '--email', 'root@example.com', '--role', 'admin', '--password-stdin', ...db], 's3cret-passphrase\n');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/created user Root .* roles: admin/);
    expect(created.stdout + created.stderr).not.toContain('s3cret-passphrase');

    // A second admin first: the last active admin cannot lose the role.
    expect(authlib(['user', 'create', '--username', 'root2', '--email', 'root2@example.com', '--role', 'admin', '--no-password', ...db]).code).toBe(0);
    const roles = authlib(['user', 'roles', 'root', '--add', 'user', '--remove', 'admin', ...db]);
    expect(roles.code, roles.stderr).toBe(0);
    expect(roles.stdout.trim()).toBe('user');

    const token = authlib(['token', 'create', 'ROOT@example.com', '--name', 'ci', '--scope', 'reports:read', '--expires-in-days', '7', ...db]);
    expect(token.code, token.stderr).toBe(0);
    expect(token.stdout.trim()).toMatch(/^api_[0-9A-Za-z]{8}[0-9A-Za-z]{32,}$/);
  });

  it('fails with one line and exit 1 for a runtime error, exit 2 for a usage error', () => {
    const duplicate = authlib(['user', 'create', '--username', 'root', '--email', 'other@example.com', '--password-stdin', ...db], 'another-passphrase\n');
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr.trim().split('\n')).toHaveLength(1);
    expect(duplicate.stderr).toMatch(/^authlib: username is already taken/);

    const unknown = authlib(['user', 'roles', 'nobody', ...db]);
    expect(unknown.code).toBe(1);

    const noPassword = authlib(['user', 'create', '--username', 'x1', '--email', 'x1@example.com', ...db], '');
    expect(noPassword.code).toBe(2);

    expect(authlib(['user', 'create', ...db]).code).toBe(2);
    expect(authlib(['frobnicate']).code).toBe(2);
    expect(authlib(['db', 'status']).code).toBe(2);
  });

  it('names the database it cannot reach, without a stack trace', () => {
    const down = authlib(['db', 'init', '--dsn', 'postgresql://postgres@127.0.0.1:1/postgres']);
    expect(down.code).toBe(1);
    expect(down.stderr.trim()).toBe('authlib: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused');
  });

  it('prints a fresh secret long enough for jwtSecret', () => {
    const a = authlib(['secret']);
    const b = authlib(['secret']);
    expect(a.code).toBe(0);
    expect(Buffer.byteLength(a.stdout.trim())).toBeGreaterThanOrEqual(32);
    expect(a.stdout).not.toBe(b.stdout);
  });
});
