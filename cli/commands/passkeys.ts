import type { Command } from 'commander';
import { withAuth, type GlobalOptions } from '../context.js';
import { printJson, printTable } from './table.js';
import { findUserByAny } from './user-admin.js';

/** Adds `user passkeys <user> [--remove <id>]` to the `user` command. */
export function addPasskeyCommand(user: Command, global: () => GlobalOptions): void {
  user
    .command('passkeys')
    .description("list a user's passkeys, or remove one (not their last way to sign in)")
    .argument('<user>', 'username, email or id')
    .option('--remove <id>', 'remove the passkey with this id')
    .option('--json', 'print the list as JSON')
    .action(async (identifier: string, o: { remove?: string; json?: boolean }) => {
      const { found, passkeys } = await withAuth(global(), async (auth) => {
        const target = await findUserByAny(auth, identifier);
        if (o.remove !== undefined) await auth.passkeys.remove(target.id, o.remove);
        return { found: target, passkeys: o.remove === undefined ? await auth.passkeys.list(target.id) : [] };
      });
      if (o.remove !== undefined) return console.log(`removed passkey ${o.remove} of user ${found.username} (${found.id})`);
      if (o.json) return printJson(passkeys);
      printTable(
        ['id', 'name', 'device', 'backed up', 'created', 'last used'],
        passkeys.map((p) => [p.id, p.name, p.device_type, p.backed_up ? 'yes' : 'no', p.created_at, p.last_used_at ?? 'never']),
        `user ${found.username} has no passkeys`,
      );
    });
}
