import { Command } from 'commander';
import { collect, findUser, withAuth, UsageError, type GlobalOptions } from '../context.js';
import { readPassword } from '../read-password.js';
import { printJson } from './table.js';

/** `authlib user create`, `authlib user roles` and `authlib user passwd`. */
export function userCommand(global: () => GlobalOptions): Command {
  const user = new Command('user').description('manage users');

  user
    .command('create')
    .description('create a user (password from --password-stdin or a prompt, never the command line)')
    .requiredOption('--username <username>', 'login name')
    .requiredOption('--email <email>', 'email address')
    .option('--role <role>', 'role to give (repeatable); default: the default roles', collect, [])
    .option('--password-stdin', 'read the password from the first line of standard input')
    .option('--no-password', 'create an account without a password (OAuth or API-token only)')
    .option('--email-verified', 'mark the address verified and proven, as `user verify` does (so it can sign in under requireEmailVerification)')
    .action(async (o: { username: string; email: string; role: string[]; passwordStdin?: boolean; password: boolean; emailVerified?: boolean }) => {
      const password = o.password === false ? undefined : await readPassword(Boolean(o.passwordStdin));
      const created = await withAuth(global(), (auth) =>
        auth.users.create({
          username: o.username,
          email: o.email,
          ...(password !== undefined ? { password } : {}),
          ...(o.role.length > 0 ? { roles: o.role } : {}),
          ...(o.emailVerified ? { email_verified: true } : {}),
        }),
      );
      const verified = created.email_verified ? '; email verified' : '';
      console.log(`created user ${created.username} (${created.id}) with roles: ${created.roles.join(', ') || '(none)'}${verified}`);
    });

  user
    .command('roles')
    .description("show or change a user's roles")
    .argument('<user>', 'username or email')
    .option('--add <role>', 'role to add (repeatable)', collect, [])
    .option('--remove <role>', 'role to remove (repeatable)', collect, [])
    .option('--json', 'print {id, username, roles} as JSON')
    .action(async (identifier: string, o: { add: string[]; remove: string[]; json?: boolean }) => {
      const overlap = o.add.filter((r) => o.remove.includes(r));
      if (overlap.length > 0) throw new UsageError(`cannot both add and remove: ${overlap.join(', ')}`);
      const user = await withAuth(global(), async (auth) => {
        const found = await findUser(auth, identifier);
        if (o.add.length === 0 && o.remove.length === 0) return found;
        const next = [...new Set([...found.roles.filter((r) => !o.remove.includes(r)), ...o.add])];
        return auth.users.setRoles(found.id, next);
      });
      if (o.json) return printJson({ id: user.id, username: user.username, roles: user.roles });
      console.log(user.roles.join(', ') || '(no roles)');
    });

  user
    .command('passwd')
    .description("set a user's password (from --password-stdin or a prompt); every login and token of theirs ends")
    .argument('<user>', 'username or email')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (identifier: string, o: { passwordStdin?: boolean }) => {
      const password = await readPassword(Boolean(o.passwordStdin));
      const found = await withAuth(global(), async (auth) => {
        const target = await findUser(auth, identifier);
        await auth.users.setPassword(target.id, password);
        return target;
      });
      console.log(`password of ${found.username} changed; their sessions and tokens have ended`);
    });

  return user;
}
