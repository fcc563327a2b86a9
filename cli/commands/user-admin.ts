import { InvalidArgumentError, type Command } from 'commander';
import { UnprovenCredentialsError, type AuthManager, type LimitResetResult } from '../../src/index.js';
import { canonicalId } from '../../src/id-shape.js';
import { findUser, withAuth, type GlobalOptions } from '../context.js';
import { printJson, printTable } from './table.js';

/** The user id a command-line value spells (any spelling PostgreSQL reads as one), canonical; undefined for a name or an address. */
export const idOf = (value: string): string | undefined => canonicalId(value.trim());

/** A whole number for `--limit` / `--offset` (ranges are the library's to check). */
export const wholeNumber = (value: string): number => {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
};

/**
 * A user by id, username or email, or a one-line failure. A value shaped like an id is looked up
 * as an id and nothing else: no username is shaped like one (the library refuses them), and
 * falling back to names would let an account named after a deleted user's id answer for it.
 */
export async function findUserByAny(auth: AuthManager, value: string) {
  const id = idOf(value);
  if (id === undefined) return findUser(auth, value);
  const byId = await auth.users.findById(id);
  if (!byId) throw new Error(`no user with id '${id}'`);
  return byId;
}

/** Says what an unlock or a reset deleted, e.g. `2 failed-login delay(s), 1 second-factor count(s)`. */
export function describeCleared(c: LimitResetResult): string {
  const parts = [
    c.login_failures > 0 ? `${c.login_failures} failed-login delay(s)` : '',
    c.second_factor_failures > 0 ? `${c.second_factor_failures} second-factor count(s)` : '',
    c.rate_limits > 0 ? `${c.rate_limits} rate-limit counter(s)` : '',
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'nothing was limited';
}

/** Adds `user list`, `show`, `disable`, `enable`, `delete`, `verify` and `unlock` to the `user` command. */
export function addUserAdminCommands(user: Command, global: () => GlobalOptions): void {
  user
    .command('list')
    .description('list users, newest first')
    .option('--search <text>', 'part of the username or email (case-insensitive)')
    .option('--role <role>', 'only holders of this role')
    .option('--limit <n>', 'how many (1-100, default 20)', wholeNumber)
    .option('--offset <n>', 'how many to skip', wholeNumber)
    .option('--json', 'print {users, total, limit, offset} as JSON')
    .action(async (o: { search?: string; role?: string; limit?: number; offset?: number; json?: boolean }) => {
      const page = await withAuth(global(), (auth) => auth.users.list({ search: o.search, role: o.role, limit: o.limit, offset: o.offset }));
      if (o.json) return printJson(page);
      printTable(
        ['id', 'username', 'email', 'roles', 'active', 'created'],
        page.users.map((u) => [u.id, u.username, u.email ?? '', u.roles.join(','), u.is_active ? 'yes' : 'no', u.created_at]),
        'no users',
      );
      if (page.users.length > 0) console.log(`${page.offset + 1}-${page.offset + page.users.length} of ${page.total}`);
    });

  user
    .command('show')
    .description('show one user: fields, roles, linked identities and second factor')
    .argument('<user>', 'username, email or id')
    .option('--json', 'print {user, identities, mfa: {totp}} as JSON (as GET /admin/users/{id})')
    .action(async (identifier: string, o: { json?: boolean }) => {
      const detail = await withAuth(global(), async (auth) => auth.users.detail((await findUserByAny(auth, identifier)).id));
      if (o.json) return printJson(detail);
      const u = detail.user;
      const rows: Array<[string, string]> = [
        ['id', u.id],
        ['username', u.username],
        ['email', u.email === null ? '(none)' : `${u.email} (${u.email_verified ? 'verified' : 'not verified'})`],
        ['roles', u.roles.join(', ') || '(none)'],
        ['active', u.is_active ? 'yes' : 'no'],
        ['real name', u.real_name ?? ''],
        ['created', u.created_at],
        ['last login', u.last_login ?? 'never'],
        ['totp', detail.mfa.totp ? 'on' : 'off'],
        ['identities', detail.identities.map((i) => `${i.provider} (${i.provider_user_id})`).join(', ') || '(none)'],
      ];
      for (const [key, value] of rows) console.log(`${key.padEnd(10)}  ${value}`);
    });

  user
    .command('verify')
    .description("mark a user's email address verified and proven by its holder, as a verification link confirmed with the password does")
    .argument('<user>', 'username, email or id')
    .option(
      '--keep-credentials',
      'on an account whose holder never proved the address, keep its password, linked identities and passkeys: you vouch for whoever holds them',
    )
    .action(async (identifier: string, o: { keepCredentials?: boolean }) => {
      const verified = await withAuth(global(), async (auth) => {
        const found = await findUserByAny(auth, identifier);
        return auth.users.verifyEmail(found.id, { keepCredentials: Boolean(o.keepCredentials) }).catch((err: unknown) => {
          if (!(err instanceof UnprovenCredentialsError)) throw err;
          throw new Error(
            `not verified: the holder of ${found.username}'s address never proved it, and the account has ${err.described} that may be someone else's; ` +
              `send a password reset to ${found.email} instead (it ends them), or pass --keep-credentials to vouch for whoever holds them`,
          );
        });
      });
      console.log(`verified ${verified.email} of ${verified.username} (${verified.id})`);
    });

  user
    .command('unlock')
    .description("clear a user's failed-login delays (from every address), second-factor lockout and the rate limits counted by their account")
    .argument('<user>', 'username, email or id')
    .action(async (identifier: string) => {
      const { found, cleared } = await withAuth(global(), async (auth) => {
        const found = await findUserByAny(auth, identifier);
        return { found, cleared: await auth.users.unlock(found.id) };
      });
      console.log(`unlocked ${found.username} (${found.id}): ${describeCleared(cleared)}`);
    });

  for (const [name, active] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    user
      .command(name)
      .description(active ? 'let a user sign in again' : 'stop a user signing in and end every one of their logins and tokens')
      .argument('<user>', 'username, email or id')
      .action(async (identifier: string) => {
        const changed = await withAuth(global(), async (auth) => auth.users.setActive((await findUserByAny(auth, identifier)).id, active));
        console.log(`${name}d user ${changed.username} (${changed.id})`);
      });
  }

  user
    .command('delete')
    .description('delete a user and their logins, tokens and identities (their audit events stay)')
    .argument('<user>', 'username, email or id')
    .action(async (identifier: string) => {
      const gone = await withAuth(global(), async (auth) => {
        const found = await findUserByAny(auth, identifier);
        await auth.users.delete(found.id);
        return found;
      });
      console.log(`deleted user ${gone.username} (${gone.id})`);
    });
}
