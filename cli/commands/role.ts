import { Command } from 'commander';
import { withAuth, type GlobalOptions } from '../context.js';
import { printJson, printTable } from './table.js';

/** `authlib role list|create|delete`. */
export function roleCommand(global: () => GlobalOptions): Command {
  const role = new Command('role').description('manage roles');

  role
    .command('list')
    .description('list roles with how many users hold each')
    .option('--json', 'print [{name, users}] as JSON')
    .action(async (o: { json?: boolean }) => {
      const roles = await withAuth(global(), (auth) => auth.roles.list());
      if (o.json) return printJson(roles);
      printTable(
        ['role', 'users'],
        roles.map((r) => [r.name, String(r.users)]),
        'no roles',
      );
    });

  role
    .command('create')
    .description('create a role (^[a-z][a-z0-9_:-]{0,63}$)')
    .argument('<name>', 'role name')
    .action(async (name: string) => {
      await withAuth(global(), (auth) => auth.roles.create(name));
      console.log(`created role ${name}`);
    });

  role
    .command('delete')
    .description('delete a role nobody holds (never the admin role or a default role)')
    .argument('<name>', 'role name')
    .action(async (name: string) => {
      await withAuth(global(), (auth) => auth.roles.delete(name));
      console.log(`deleted role ${name}`);
    });

  return role;
}
