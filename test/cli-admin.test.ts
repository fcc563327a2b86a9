import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { AuthManager } from '../src/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DSN, dropSchema, uniqueSchema } from './helpers/database.js';

// The administration commands as an operator runs them: the built bin against PostgreSQL, a table
// by default, JSON with --json, one line on stderr and exit 1 on failure (2 for a usage error).
// PostgreSQL only: every command is a process of its own, and an embedded database costs each one
// seconds to open (test/cli.test.ts covers the CLI on PGlite).

const BIN = join(process.cwd(), 'bin', 'authlib.js');
const schema = uniqueSchema('clia');
const db = ['--dsn', TEST_DSN ?? '', '--schema', schema];

function authlib(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [BIN, ...args, ...db], { input, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(args: string[], input?: string) {
  const r = authlib(args, input);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** A runtime failure: exit 1 and one line on stderr, no stack. */
function fails(args: string[]) {
  const r = authlib(args);
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^authlib: /);
  expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  return r.stderr.trim();
}

/** A usage mistake (commander's own message): exit 2. */
const misused = (args: string[]) => expect(authlib(args).code).toBe(2);

describe.skipIf(!TEST_DSN)('authlib user list|disable|enable|delete, role, events (PostgreSQL)', () => {
  beforeAll(() => {
    ok(['db', 'init']);
    ok(['user', 'create', '--username', 'boss', '--email', 'boss@example.com', '--role', 'admin', '--password-stdin'], 'boss passphrase 1\n');
    for (const name of ['alice_x', 'alixe', 'bob'])
      ok(['user', 'create', '--username', name, '--email', `${name}@example.com`, '--password-stdin'], 'some passphrase 1\n');
  });
  afterAll(() => dropSchema(schema));

  it('user list: a table newest first, --search (metacharacters literal) and --role, --json for scripts', () => {
    const table = ok(['user', 'list']).trim().split('\n');
    expect(table[0]).toMatch(/^ID\s+USERNAME\s+EMAIL\s+ROLES\s+ACTIVE\s+CREATED$/);
    expect(table.slice(1, 5).map((l) => l.split(/\s+/)[1])).toEqual(['bob', 'alixe', 'alice_x', 'boss']);
    expect(table.at(-1)).toBe('1-4 of 4');
    const search = JSON.parse(ok(['user', 'list', '--search', 'CE_X', '--json']));
    expect(search.users.map((u: { username: string }) => u.username)).toEqual(['alice_x']);
    expect(search).toMatchObject({ total: 1, limit: 20, offset: 0 });
    // `_` is no wildcard: 'ali_e' does not find 'alixe'.
    expect(JSON.parse(ok(['user', 'list', '--search', 'ali_e', '--json'])).total).toBe(0);
    const admins = JSON.parse(ok(['user', 'list', '--role', 'admin', '--json']));
    expect(admins.users.map((u: { username: string }) => u.username)).toEqual(['boss']);
    const paged = JSON.parse(ok(['user', 'list', '--limit', '1', '--offset', '1', '--json']));
    expect(paged.users.map((u: { username: string }) => u.username)).toEqual(['alixe']);
    expect(fails(['user', 'list', '--limit', '0'])).toMatch(/limit/);
    misused(['user', 'list', '--limit', 'x']);
  });

  it('user disable / enable / delete by username, email or id; the last admin is kept', () => {
    expect(ok(['user', 'disable', 'bob'])).toMatch(/^disabled user bob /);
    expect(JSON.parse(ok(['user', 'list', '--search', 'bob', '--json'])).users[0].is_active).toBe(false);
    expect(ok(['user', 'enable', 'BOB@example.com'])).toMatch(/^enabled user bob /);
    const bob = JSON.parse(ok(['user', 'list', '--search', 'bob', '--json'])).users[0];
    expect(bob.is_active).toBe(true);
    expect(ok(['user', 'delete', bob.id])).toMatch(/^deleted user bob /);
    expect(fails(['user', 'delete', 'bob'])).toBe("authlib: no user with username or email 'bob'");
    expect(fails(['user', 'disable', 'boss'])).toMatch(/last active holder of the 'admin' role/);
    expect(fails(['user', 'delete', 'boss'])).toMatch(/last active holder/);
    misused(['user', 'disable']);
  });

  it('role list / create / delete, with the 409 rules (after bob was deleted above)', () => {
    const table = ok(['role', 'list']).trim().split('\n');
    expect(table[0]).toMatch(/^ROLE\s+USERS$/);
    expect(table.slice(1)).toEqual([expect.stringMatching(/^admin\s+1$/), expect.stringMatching(/^user\s+2$/)]);
    expect(ok(['role', 'create', 'auditor']).trim()).toBe('created role auditor');
    expect(JSON.parse(ok(['role', 'list', '--json']))).toContainEqual({ name: 'auditor', users: 0 });
    expect(fails(['role', 'create', 'auditor'])).toMatch(/already exists/);
    expect(fails(['role', 'create', 'Bad Name'])).toMatch(/name/);
    expect(fails(['role', 'delete', 'admin'])).toMatch(/admin role/);
    expect(fails(['role', 'delete', 'user'])).toMatch(/default role/);
    expect(ok(['role', 'delete', 'auditor']).trim()).toBe('deleted role auditor');
  });

  it('events: a table newest first, --user (also the id of a deleted user), --type, --limit, --json', () => {
    const table = ok(['events', '--limit', '3']).trim().split('\n');
    expect(table[0]).toMatch(/^TIME\s+TYPE\s+USER\s+ACTOR\s+IP\s+DATA$/);
    expect(table).toHaveLength(4);
    const all = JSON.parse(ok(['events', '--json']));
    const times = all.map((e: { created_at: string }) => e.created_at);
    expect([...times].sort().reverse()).toEqual(times);
    const deleted = all.find((e: { type: string }) => e.type === 'user_deleted');
    const bobs = JSON.parse(ok(['events', '--user', deleted.user_id, '--json']));
    // The account was made with auth.users.create, which is audited as an administrator's creation.
    expect(bobs.map((e: { type: string }) => e.type)).toEqual(['user_deleted', 'user_enabled', 'user_disabled', 'user_created']);
    const typed = JSON.parse(ok(['events', '--type', 'role_created', '--json']));
    expect(typed.map((e: { data: { role: string } }) => e.data.role)).toEqual(['auditor']);
    expect(ok(['events', '--type', 'nosuchtype']).trim()).toBe('no events');
    expect(fails(['events', '--limit', '501'])).toMatch(/limit/);
    expect(fails(['events', '--before', 'yesterday'])).toMatch(/before/);
  });

  it('events names the user and the actor beside their ids, a deleted user by the name it had', async () => {
    // An admin's change over HTTP, so the event has an actor.
    const auth = new AuthManager(null, { dbDsn: TEST_DSN!, dbSchema: schema, jwtSecret: 'c'.repeat(32), rateLimit: false, logger: false });
    try {
      const http = request(express().use('/api/v1/users', auth.router));
      const token = (await http.post('/api/v1/users/login').send({ username: 'boss', password: 'boss passphrase 1' })).body.token;
      const alixe = (await auth.users.findByIdentifier('alixe'))!;
      expect((await http.patch(`/api/v1/users/admin/users/${alixe.id}`).set('authorization', `Bearer ${token}`).send({ real_name: 'Alix E' })).status).toBe(
        200,
      );
    } finally {
      await auth.close();
    }
    const [updated] = JSON.parse(ok(['events', '--type', 'user_updated', '--json']));
    expect(updated).toMatchObject({ username: 'alixe', actor_username: 'boss' });
    expect(Object.keys(updated)).toEqual(['id', 'type', 'user_id', 'username', 'actor_id', 'actor_username', 'ip', 'user_agent', 'data', 'created_at']);
    const row = ok(['events', '--type', 'user_updated']).trim().split('\n')[1]!;
    expect(row).toContain(`alixe (${updated.user_id})`);
    expect(row).toContain(`boss (${updated.actor_id})`);
    const [deleted] = JSON.parse(ok(['events', '--type', 'user_deleted', '--json']));
    expect(deleted).toMatchObject({ username: 'bob', actor_id: null, actor_username: null });
    expect(ok(['events', '--type', 'user_deleted'])).toContain(`bob, deleted (${deleted.user_id})`);
  });

  it('user show: one user as lines, --json as GET /admin/users/{id}; user roles --json', () => {
    const lines = ok(['user', 'show', 'ALICE_X@example.com']).trim().split('\n');
    expect(lines[1]).toBe('username    alice_x');
    expect(lines[2]).toBe('email       alice_x@example.com (not verified)');
    const detail = JSON.parse(ok(['user', 'show', 'alice_x', '--json']));
    expect(Object.keys(detail).sort()).toEqual(['identities', 'mfa', 'user']);
    expect(detail).toMatchObject({ user: { username: 'alice_x', email_verified: false }, identities: [], mfa: { totp: false } });
    expect(JSON.parse(ok(['user', 'show', detail.user.id, '--json'])).user.username).toBe('alice_x');
    expect(JSON.parse(ok(['user', 'roles', 'alice_x', '--json']))).toEqual({ id: detail.user.id, username: 'alice_x', roles: ['user'] });
    expect(fails(['user', 'show', 'nobody'])).toBe("authlib: no user with username or email 'nobody'");
    misused(['user', 'show']);
  });
});
