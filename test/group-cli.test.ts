import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DSN, dropSchema, uniqueSchema } from './helpers/database.js';

// The group commands as an operator runs them: the built bin against a real database, one line on
// stderr and exit 1 on failure, 2 for a usage error; a service key printed once, alone on stdout.

const BIN = join(process.cwd(), 'bin', 'authlib.js');
const dir = mkdtempSync(join(tmpdir(), 'authlib-groups-cli-'));
const schema = uniqueSchema('clig');
const db = ['--dsn', TEST_DSN ?? `pglite://${join(dir, 'db')}`, '--schema', schema];

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
  expect(r.code, r.stdout).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^authlib: /);
  expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  return r.stderr.trim();
}

// What is under test is the command, not the database: once, on the PostgreSQL run (CI runs the
// suite on both), where each command costs a third of what opening the embedded database does.
// The commands on an embedded database: test/cli.test.ts and test/passkey-cli.test.ts.
describe.runIf(TEST_DSN)('authlib group and service-key', { timeout: 240_000 }, () => {
  beforeAll(() => {
    ok(['db', 'init']);
    for (const name of ['gina', 'hank'])
      ok(['user', 'create', '--username', name, '--email', `${name}@example.com`, '--password-stdin'], 'some passphrase 1\n');
  }, 120_000);
  afterAll(async () => {
    if (TEST_DSN) await dropSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  });

  it('group create (slug derived or given, with a parent), list, add-member, remove-member, service-key create', () => {
    expect(ok(['group', 'create', 'Acme Corp', '--description', 'the company'])).toMatch(/^created group acme-corp \([0-9a-f-]{36}\)\n$/);
    expect(ok(['group', 'create', 'Platform Team', '--slug', 'platform', '--parent', 'acme-corp'])).toMatch(/^created group platform /);
    const list = JSON.parse(ok(['group', 'list', '--json']));
    expect(list.map((g: { slug: string }) => g.slug)).toEqual(['acme-corp', 'platform']);
    expect(list[0]).toMatchObject({ name: 'Acme Corp', description: 'the company' });
    const table = ok(['group', 'list']).trim().split('\n');
    expect(table[0]).toMatch(/^ID\s+SLUG\s+NAME\s+CREATED$/);
    expect(table).toHaveLength(3);

    expect(ok(['group', 'add-member', 'platform', 'GINA@example.com', '--role', 'admin', '--role', 'ops'])).toBe('added gina to platform; roles: admin ops\n');
    expect(fails(['group', 'add-member', 'platform', 'gina'])).toMatch(/already a member/);
    expect(fails(['group', 'add-member', 'platform', 'nobody'])).toMatch(/no user/);
    expect(fails(['group', 'add-member', 'no-such-group', 'gina'])).toMatch(/group not found/);
    // The last admin stays.
    expect(fails(['group', 'remove-member', 'platform', 'gina'])).toMatch(/last admin/);

    const created = authlib(['service-key', 'create', 'platform', '--name', 'deploy', '--scope', 'deploy', '--expires-in-days', '7']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^api_[0-9A-Za-z]{40,}\n$/);
    expect(created.stderr).toMatch(/service key \w{8} "deploy" for platform; scopes: deploy; expires: \d{4}-/);
    expect(authlib(['service-key', 'create', 'platform', '--name', 'x', '--expires-in-days', '0']).code).toBe(2);
    expect(authlib(['service-key', 'create', 'platform']).code).toBe(2);
    expect(fails(['group', 'create', 'Again', '--slug', 'platform'])).toMatch(/already taken/);
    expect(fails(['group', 'create', 'Bad', '--slug', 'Not A Slug'])).toMatch(/--slug must match/);

    ok(['group', 'add-member', 'platform', 'hank']);
    expect(ok(['group', 'remove-member', 'platform', 'hank'])).toBe('removed hank from platform\n');
    expect(fails(['group', 'remove-member', 'platform', 'hank'])).toMatch(/no such member/);
  });

  it('group members and service-key list: a table by default, one JSON document with --json', () => {
    ok(['group', 'add-member', 'platform', 'hank', '--role', 'ops']);
    const page = JSON.parse(ok(['group', 'members', 'platform', '--json']));
    expect(page.total).toBe(2);
    expect(page.members.map((m: { user: { username: string }; roles: string[]; is_admin: boolean }) => [m.user.username, m.roles, m.is_admin])).toEqual([
      ['gina', ['admin', 'ops'], true],
      ['hank', ['ops'], false],
    ]);
    const table = ok(['group', 'members', 'platform']).trim().split('\n');
    expect(table[0]).toMatch(/^USERNAME\s+ID\s+ROLES\s+ADMIN$/);
    expect(table[1]).toMatch(/^gina\s+[0-9a-f-]{36}\s+admin,ops\s+yes$/);
    expect(ok(['group', 'members', 'acme-corp']).trim()).toBe('no members');
    expect(fails(['group', 'members', 'no-such-group'])).toMatch(/group not found/);
    expect(authlib(['group', 'members']).code).toBe(2);

    const keys = JSON.parse(ok(['service-key', 'list', 'platform', '--json']));
    expect(keys).toEqual([
      {
        id: expect.stringMatching(/^\w{8}$/),
        name: 'deploy',
        scopes: ['deploy'],
        created_at: expect.any(String),
        expires_at: expect.any(String),
        last_used_at: null,
      },
    ]);
    expect(ok(['service-key', 'list', 'platform'])).toMatch(new RegExp(`^${keys[0].id}\\s+deploy\\s+deploy\\s+\\S+\\s+\\S+\\s+never$`, 'm'));
    expect(ok(['service-key', 'list', 'acme-corp']).trim()).toBe('no service keys');
    expect(authlib(['service-key', 'list']).code).toBe(2);
  });
});
