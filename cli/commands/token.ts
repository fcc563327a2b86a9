import { Command } from 'commander';
import { MAX_API_TOKEN_DAYS, type CreatedApiToken } from '../../src/services/api-tokens.js';
import { collect, findUser, UsageError, withAuth, type GlobalOptions } from '../context.js';
import { printJson } from './table.js';

/** `--expires-in-days`: a whole number of days within the API-token limit. */
export const days = (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_API_TOKEN_DAYS)
    throw new UsageError(`--expires-in-days must be a whole number >= 1 (at most ${MAX_API_TOKEN_DAYS})`);
  return n;
};

/** Prints a new token alone on stdout (easy to capture) and what it is on stderr. */
export function printCreatedToken(kind: string, created: CreatedApiToken, owner: string): void {
  console.error(
    `${kind} ${created.id} "${created.name}" for ${owner}; scopes: ${created.scopes.join(' ') || '(none)'}; expires: ${created.expires_at ?? 'never'}`,
  );
  console.log(created.token);
}

/** `authlib token create`, `authlib token list` and `authlib token revoke`. */
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
      if (o.name.trim() === '') throw new UsageError('--name must not be empty');
      const created = await withAuth(global(), async (auth) => {
        const user = await findUser(auth, identifier);
        return auth.apiTokens.create(user.id, { name: o.name, scopes: o.scope, ...(o.expiresInDays !== undefined ? { expiresInDays: o.expiresInDays } : {}) });
      });
      printCreatedToken('API token', created, identifier);
    });

  token
    .command('list')
    .description("list a user's API tokens (never their secrets)")
    .argument('<user>', 'username or email')
    .option('--json', 'print [{id, name, scopes, created_at, expires_at, last_used_at}] as JSON')
    .action(async (identifier: string, o: { json?: boolean }) => {
      const tokens = await withAuth(global(), async (auth) => auth.apiTokens.list((await findUser(auth, identifier)).id));
      if (o.json) return printJson(tokens);
      if (tokens.length === 0) console.log('(no API tokens)');
      for (const t of tokens) {
        console.log(
          `${t.id}  "${t.name}"  scopes: ${t.scopes.join(' ') || '(none)'}  created: ${t.created_at}  expires: ${t.expires_at ?? 'never'}  last used: ${t.last_used_at ?? 'never'}`,
        );
      }
    });

  token
    .command('revoke')
    .description("delete one of a user's API tokens; it stops working at once")
    .argument('<user>', 'username or email')
    .argument('<token-id>', 'the 8-character id shown by `token list` (the part after api_)')
    .action(async (identifier: string, tokenId: string) => {
      await withAuth(global(), async (auth) => auth.apiTokens.revoke((await findUser(auth, identifier)).id, tokenId));
      console.log(`revoked API token ${tokenId} of ${identifier}`);
    });

  return token;
}
