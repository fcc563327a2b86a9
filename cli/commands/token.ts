import { Command, InvalidArgumentError } from 'commander';
import { collect, findUser, withAuth, type GlobalOptions } from '../context.js';

const days = (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number of days');
  return Number(value);
};

/** `authlib token create`. */
export function tokenCommand(global: () => GlobalOptions): Command {
  const token = new Command('token').description('manage API tokens');

  token
    .command('create')
    .description('create an API token for a user and print it (shown only this once)')
    .argument('<user>', 'username or email')
    .requiredOption('--name <name>', 'what the token is for')
    .option('--scope <scope>', 'scope to grant (repeatable)', collect, [])
    .option('--expires-in-days <days>', 'lifetime in days (default: no expiry)', days)
    .action(async (identifier: string, o: { name: string; scope: string[]; expiresInDays?: number }) => {
      const created = await withAuth(global(), async (auth) => {
        const user = await findUser(auth, identifier);
        return auth.apiTokens.create(user.id, { name: o.name, scopes: o.scope, ...(o.expiresInDays !== undefined ? { expiresInDays: o.expiresInDays } : {}) });
      });
      // The token alone on stdout (easy to capture); what it is on stderr.
      console.error(`API token ${created.id} "${created.name}" for ${identifier}; scopes: ${created.scopes.join(' ') || '(none)'}; expires: ${created.expires_at ?? 'never'}`);
      console.log(created.token);
    });

  return token;
}
