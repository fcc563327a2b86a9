import { Command } from 'commander';
import { collect, findUser, withAuth, UsageError, type GlobalOptions } from '../context.js';
import { readPassword } from '../read-password.js';

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
    .action(async (o: { username: string; email: string; role: string[]; passwordStdin?: boolean; password: boolean }) => {
      const password = o.password === false ? undefined : await readPassword(Boolean(o.passwordStdin));
      const created = await withAuth(global(), (auth) =>
        auth.users.create({
          username: o.username,
          email: o.email,
          ...(password !== undefined ? { password } : {}),
          ...(o.role.length > 0 ? { roles: o.role } : {}),
        }),
      );
      console.log(`created user ${created.username} (${created.id}) with roles: ${created.roles.join(', ') || '(none)'}`);
    });

  user
    .command('roles')
    .description("show or change a user's roles")
    .argument('<user>', 'username or email')
    .option('--add <role>', 'role to add (repeatable)', collect, [])
    .option('--remove <role>', 'role to remove (repeatable)', collect, [])
    .action(async (identifier: string, o: { add: string[]; remove: string[] }) => {
      const overlap = o.add.filter((r) => o.remove.includes(r));
      if (overlap.length > 0) throw new UsageError(`cannot both add and remove: ${overlap.join(', ')}`);
      const roles = await withAuth(global(), async (auth) => {
        const found = await findUser(auth, identifier);
        if (o.add.length === 0 && o.remove.length === 0) return found.roles;
        const next = [...new Set([...found.roles.filter((r) => !o.remove.includes(r)), ...o.add])];
        return (await auth.users.setRoles(found.id, next)).roles;
      });
      console.log(roles.join(', ') || '(no roles)');
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
