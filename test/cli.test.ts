import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
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

const freshSchemas: string[] = [];
const hasScript = spawnSync('script', ['--version']).status === 0;

afterAll(async () => {
  if (TEST_DSN) for (const s of [schema, ...freshSchemas]) await dropSchema(s);
  rmSync(dir, { recursive: true, force: true });
});

// Each test runs several CLI processes, each opening the database: generous on a busy 2-core machine.
describe('authlib CLI', { timeout: 120_000 }, () => {
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
    const json = authlib(['db', 'status', '--json', ...db]);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout);
    expect(doc).toMatchObject({ schema, pending: 0 });
    expect(doc.migrations[0]).toEqual({ name: '0001_init', applied_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) });
  });

  it('reads --dsn and --schema from AUTHLIB_DB_DSN / AUTHLIB_DB_SCHEMA', () => {
    const status = authlib(['db', 'status'], undefined, { AUTHLIB_DB_DSN: dsn, AUTHLIB_DB_SCHEMA: schema });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/nothing pending/);
  });

  it('creates a user from --password-stdin, changes roles and creates an API token', () => {
    const created = authlib(
      ['user', 'create', '--username', 'Root', '--email', 'root@example.com', '--role', 'admin', '--password-stdin', ...db],
      's3cret-passphrase\n',
    );
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

  it('db status exits 3 while migrations are pending, naming the fix', () => {
    const fresh = uniqueSchema('clipend');
    freshSchemas.push(fresh);
    const status = authlib(['db', 'status', '--dsn', dsn, '--schema', fresh]);
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/^pending\s+0001_init/m);
    expect(status.stderr.trim()).toMatch(/^authlib: \d+ migration\(s\) pending; run `authlib db init`$/);
    // --json: one document on stdout, the same exit code and line on stderr.
    const json = authlib(['db', 'status', '--json', '--dsn', dsn, '--schema', fresh]);
    expect(json.code).toBe(3);
    const doc = JSON.parse(json.stdout);
    expect(doc.pending).toBe(doc.migrations.length);
    expect(doc.migrations[0]).toEqual({ name: '0001_init', applied_at: null });
    expect(json.stderr.trim()).toMatch(/^authlib: \d+ migration\(s\) pending/);
  });

  it("checks --dsn and --schema with the library's own rules before connecting", () => {
    const mysql = authlib(['db', 'init', '--dsn', 'mysql://root@127.0.0.1/app']);
    expect(mysql.code).toBe(2);
    expect(mysql.stderr.trim()).toBe(
      "authlib: --dsn must start with 'postgres://', 'postgresql://' or 'pglite://' (e.g. 'pglite://memory' or 'pglite://./.authlib')",
    );
    const fromEnv = authlib(['db', 'status'], undefined, { DATABASE_URL: 'mysql://root@127.0.0.1/app' });
    expect(fromEnv.stderr).toMatch(/^authlib: --dsn \(from \$DATABASE_URL\) must start with/);
    const schemaName = authlib(['db', 'init', '--dsn', dsn, '--schema', 'bad-schema']);
    expect(schemaName.code).toBe(2);
    expect(schemaName.stderr).toMatch(/^authlib: --schema must be a plain SQL identifier/);
  });

  it('names the flag and shows every field reason, in its own words', () => {
    const unknownRole = authlib(
      ['user', 'create', '--username', 'xyz2', '--email', 'xyz2@example.com', '--role', 'superuser', '--password-stdin', ...db],
      'a-good-passphrase\n',
    );
    expect(unknownRole.code).toBe(1);
    expect(unknownRole.stderr.trim()).toBe('authlib: --role: unknown role(s): superuser');

    const several = authlib(['user', 'create', '--username', 'x', '--email', 'nope', '--password-stdin', ...db], 'short\n');
    expect(several.code).toBe(1);
    expect(several.stderr.trim()).toBe(
      'authlib: --username must be 3-64 letters, digits, _ . or -; --email must be an email address; the password must be at least 8 characters',
    );

    for (const bad of ['0', '-1', '1.5', 'ten']) {
      const days = authlib(['token', 'create', 'root', '--name', 'ci', '--expires-in-days', bad, ...db]);
      expect(days.code, bad).toBe(2);
      expect(days.stderr.trim()).toBe('authlib: --expires-in-days must be a whole number >= 1 (at most 3650)');
    }
    const missing = authlib(['token', 'create', 'root', ...db]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe("authlib: required option '--name <name>' not specified");
    for (const args of [['frobnicate'], ['user', 'frobnicate'], ['db', 'init', '--bogus']]) {
      const usage = authlib(args);
      expect(usage.code, args.join(' ')).toBe(2);
      expect(usage.stderr, args.join(' ')).toMatch(/^authlib: /);
      expect(usage.stderr, args.join(' ')).not.toMatch(/^error:/m);
    }
  });

  it("token list shows a user's tokens without secrets, token revoke deletes one", () => {
    const created = authlib(['token', 'create', 'root', '--name', 'to-revoke', '--scope', 'a:b', ...db]);
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    const id = secret.slice(4, 12);
    const listed = authlib(['token', 'list', 'root', ...db]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${id}  "to-revoke"  scopes: a:b  created: \\S+  expires: never  last used: never$`, 'm'));
    expect(listed.stdout).not.toContain(secret);
    const json = authlib(['token', 'list', 'root', '--json', ...db]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toContainEqual({
      id,
      name: 'to-revoke',
      scopes: ['a:b'],
      created_at: expect.any(String),
      expires_at: null,
      last_used_at: null,
    });
    expect(json.stdout).not.toContain(secret);
    const revoked = authlib(['token', 'revoke', 'root', id, ...db]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(authlib(['token', 'list', 'root', ...db]).stdout).not.toContain(id);
    const again = authlib(['token', 'revoke', 'root', id, ...db]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe('authlib: API token not found');
  });

  it('user passwd sets a new password: the old one stops working, the new one logs in', async () => {
    const set = authlib(['user', 'passwd', 'root', '--password-stdin', ...db], 'a brand new passphrase\n');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout + set.stderr).not.toContain('a brand new passphrase');
    const auth = new AuthManager(null, { dbDsn: dsn, dbSchema: schema, jwtSecret: 'c'.repeat(32), bcryptRounds: 4, rateLimit: false, logger: false });
    try {
      const http = request(express().use('/api/v1/users', auth.router));
      expect((await http.post('/api/v1/users/login').send({ username: 'root', password: 's3cret-passphrase' })).status).toBe(401);
      expect((await http.post('/api/v1/users/login').send({ username: 'root', password: 'a brand new passphrase' })).status).toBe(200);
    } finally {
      await auth.close();
    }
    const empty = authlib(['user', 'passwd', 'root', '--password-stdin', ...db], '');
    expect(empty.code).toBe(2);
    expect(empty.stderr.trim()).toBe('authlib: --password-stdin: standard input is empty; pipe the password in');
  });

  it.skipIf(!hasScript)('Ctrl-D at the password prompt ends with one clear line, not a silent exit 13', () => {
    // `script` gives the CLI a terminal, so it prompts; the input is a lone Ctrl-D.
    const command = [process.execPath, BIN, 'user', 'passwd', 'root', ...db].map((a) => `'${a}'`).join(' ');
    const result = spawnSync('script', ['-qec', command, '/dev/null'], { input: '\x04', encoding: 'utf8', timeout: 60_000 });
    expect(result.status, result.stdout).toBe(1);
    expect(result.stdout).toContain('Password: ');
    expect(result.stdout).toContain('authlib: no password given (end of input at the prompt); nothing was changed');
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

  it('keys generate prints a private key that signingKeys takes: Ed25519 PEM by default, P-256 as a JWK with its kid', async () => {
    const pem = authlib(['keys', 'generate']);
    expect(pem.code, pem.stderr).toBe(0);
    expect(pem.stdout).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
    expect(authlib(['keys', 'generate']).stdout).not.toBe(pem.stdout);
    const jwk = authlib(['keys', 'generate', '--alg', 'ES256', '--format', 'jwk']);
    expect(jwk.code, jwk.stderr).toBe(0);
    const parsed = JSON.parse(jwk.stdout);
    expect(parsed).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(typeof parsed.d).toBe('string');
    const auth = new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(48), signingKeys: [parsed, pem.stdout], logger: false });
    try {
      const published = auth.jwks().keys;
      expect(published.map((k) => [k.alg, k.crv])).toEqual([
        ['ES256', 'P-256'],
        ['EdDSA', 'Ed25519'],
      ]);
      expect(published[0]!.kid).toBe(parsed.kid);
      expect(JSON.stringify(published)).not.toContain(parsed.d);
    } finally {
      await auth.close();
    }
    const bad = authlib(['keys', 'generate', '--alg', 'RS256']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^authlib: .*RS256/);
  });
});
