import { rmSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliRunner } from './helpers/cli-runner.js';
import { TEST_DSN, dropSchema, rawQuery } from './helpers/database.js';

// The built bin against a real database: `user create` leaves a trace, an id-shaped username is
// refused and an id names only its own account, and `user verify` will not vouch for an address
// while someone who may not own it still holds a way into the account (contract 5.3, "Ownership").

const { dir, schema, pgliteDir, ok, fails } = cliRunner('clin');
const PASSWORD = 'operator passphrase 1';

async function query<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  if (TEST_DSN) return rawQuery<T>(text, params);
  const pglite = new PGlite(pgliteDir, { extensions: { pg_trgm } });
  try {
    return (await pglite.query<T>(text, params)).rows;
  } finally {
    await pglite.close();
  }
}

const create = (name: string, extra: string[] = []) =>
  ok(['user', 'create', '--username', name, '--email', `${name}@example.com`, '--password-stdin', ...extra], `${PASSWORD}\n`);
const idOf = (out: string) => /\(([0-9a-f-]{36})\)/.exec(out)![1]!;
type Event = { type: string; user_id: string; username: string | null; data: Record<string, unknown> };
const events = (args: string[]) => JSON.parse(ok(['events', '--json', ...args])) as Event[];

beforeAll(() => {
  ok(['db', 'init']);
}, 300_000);

afterAll(async () => {
  if (TEST_DSN) await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

// What is under test is the command, not the database: once, on the PostgreSQL run (CI runs the
// suite on both), where each command costs a third of what opening the embedded database does.
// The commands on an embedded database: test/cli.test.ts and test/passkey-cli.test.ts.
describe.runIf(TEST_DSN)('authlib and account names', { timeout: 600_000 }, () => {
  it('user create is audited as user_created with by: administrator and the roles', () => {
    const root = idOf(create('root', ['--role', 'admin', '--email-verified']));
    const plain = idOf(create('plain'));
    const [made] = events(['--user', root, '--type', 'user_created']);
    expect(made).toMatchObject({ user_id: root, username: 'root', data: { by: 'administrator', roles: ['admin'], email_verified: true } });
    expect(events(['--user', 'plain', '--type', 'user_created'])[0]).toMatchObject({
      user_id: plain,
      data: { by: 'administrator', roles: ['user'], email_verified: false },
    });
  });

  it('a username shaped like an id is refused; an id names its own account only, even once that account is gone', () => {
    const victim = idOf(create('victim'));
    for (const name of [victim, victim.toUpperCase(), victim.replaceAll('-', '')]) {
      expect(fails(['user', 'create', '--username', name, '--email', `m${Math.random()}@example.com`, '--password-stdin'], 1, `${PASSWORD}\n`)).toMatch(
        /username.*shaped like a user id/,
      );
    }
    const mallory = idOf(create('mallory'));
    // Any spelling of the id (no hyphens, upper case, braces) resolves by id to the victim.
    for (const spelled of [victim.replaceAll('-', ''), victim.toUpperCase(), `{${victim}}`]) {
      expect(JSON.parse(ok(['user', 'show', spelled, '--json'])).user.id).toBe(victim);
    }
    ok(['user', 'delete', victim]);
    expect(fails(['user', 'show', victim])).toBe(`authlib: no user with id '${victim}'`);
    expect(fails(['user', 'disable', victim.replaceAll('-', '')])).toBe(`authlib: no user with id '${victim}'`);
    expect(JSON.parse(ok(['user', 'show', 'mallory', '--json'])).user).toMatchObject({ id: mallory, is_active: true });
    expect(events(['--user', victim]).map((e) => e.type)).toContain('user_deleted');
  });

  it('user verify refuses an account whose holder never proved the address while it has a password; --keep-credentials vouches; proven or credential-less accounts verify', async () => {
    const squatted = idOf(create('squatted'));
    const line = fails(['user', 'verify', 'squatted']);
    expect(line).toBe(
      "authlib: not verified: the holder of squatted's address never proved it, and the account has a password that may be someone else's; " +
        'send a password reset to squatted@example.com instead (it ends them), or pass --keep-credentials to vouch for whoever holds them',
    );
    const [row] = await query<{ email_verified: boolean; owner_proven: boolean }>(`SELECT email_verified, owner_proven FROM "${schema}".users WHERE id = $1`, [
      squatted,
    ]);
    expect(row).toEqual({ email_verified: false, owner_proven: false });
    expect(events(['--user', 'squatted', '--type', 'email_verified'])).toEqual([]);

    // A linked identity counts too, even on an account without a password.
    const linked = idOf(ok(['user', 'create', '--username', 'linked', '--email', 'linked@example.com', '--no-password']));
    await query(
      `INSERT INTO "${schema}".oauth_accounts (user_id, provider, provider_user_id, created_at, updated_at) VALUES ($1, 'github', '4242', now(), now())`,
      [linked],
    );
    expect(fails(['user', 'verify', 'linked'])).toMatch(/the account has linked identities that may be someone else's/);

    expect(ok(['user', 'verify', 'squatted', '--keep-credentials'])).toBe(`verified squatted@example.com of squatted (${squatted})\n`);
    const [after] = await query<{ email_verified: boolean; owner_proven: boolean }>(
      `SELECT email_verified, owner_proven FROM "${schema}".users WHERE id = $1`,
      [squatted],
    );
    expect(after).toEqual({ email_verified: true, owner_proven: true });
    expect(events(['--user', 'squatted', '--type', 'email_verified'])[0]!.data).toEqual({
      owner_proven: true,
      by: 'administrator',
      kept_credentials: ['password'],
    });

    // Proven already (here: just now), or nothing that opens the account: no flag needed.
    expect(ok(['user', 'verify', 'squatted'])).toMatch(/^verified /);
    const bare = idOf(ok(['user', 'create', '--username', 'bare', '--email', 'bare@example.com', '--no-password']));
    expect(ok(['user', 'verify', bare])).toBe(`verified bare@example.com of bare (${bare})\n`);
    expect(events(['--user', 'bare', '--type', 'email_verified'])[0]!.data).toEqual({ owner_proven: true, by: 'administrator' });
  });
});
