import { Command, CommanderError } from 'commander';
import { AuthError, generateSecret, ValidationError } from '../src/index.js';
import { dbCommand } from './commands/db.js';
import { tokenCommand } from './commands/token.js';
import { userCommand } from './commands/user.js';
import { addUserAdminCommands } from './commands/user-admin.js';
import { addPasskeyCommand } from './commands/passkeys.js';
import { roleCommand } from './commands/role.js';
import { eventsCommand } from './commands/events.js';
import { groupCommand, serviceKeyCommand } from './commands/group.js';
import { keysCommand } from './commands/keys.js';
import { limitsCommand } from './commands/limits.js';
import type { GlobalOptions } from './context.js';

const program = new Command('authlib')
  .description('express-authlib: database set-up, users, roles, API tokens, groups, rate limits, signing keys and the audit trail')
  .option('--dsn <url>', 'database: postgres://..., pglite://<dir> or pglite://memory (default: $AUTHLIB_DB_DSN, then $DATABASE_URL)')
  .option('--schema <name>', 'schema holding the tables (default: $AUTHLIB_DB_SCHEMA, then authlib)')
  .enablePositionalOptions(false)
  .exitOverride();

const global = (): GlobalOptions => program.opts<GlobalOptions>();

program.addCommand(dbCommand(global));
const user = userCommand(global);
addUserAdminCommands(user, global);
addPasskeyCommand(user, global);
program.addCommand(user);
program.addCommand(tokenCommand(global));
program.addCommand(roleCommand(global));
program.addCommand(eventsCommand(global));
program.addCommand(groupCommand(global));
program.addCommand(serviceKeyCommand(global));
program.addCommand(limitsCommand(global));
program
  .command('secret')
  .description('print a fresh random jwtSecret')
  .action(() => console.log(generateSecret()));
program.addCommand(keysCommand());

// Commander's own messages (unknown option, missing argument) start like ours, from every level.
const output = { outputError: (text: string, write: (s: string) => void) => write(text.replace(/^error: /, 'authlib: ')) };
program.configureOutput(output);
// Global options may also follow the subcommand (`authlib db init --dsn ...`).
for (const command of program.commands) {
  for (const sub of [command, ...command.commands]) {
    sub.option('--dsn <url>', 'database URL').option('--schema <name>', 'schema name').exitOverride().configureOutput(output);
    sub.hook('preAction', (_this, action) => {
      const o = action.opts<GlobalOptions>();
      if (o.dsn !== undefined) program.setOptionValue('dsn', o.dsn);
      if (o.schema !== undefined) program.setOptionValue('schema', o.schema);
    });
  }
}

/** The flag a library field came from, so a message speaks of what the user typed. */
const FLAGS: Record<string, string> = {
  username: '--username',
  email: '--email',
  password: 'the password',
  roles: '--role',
  name: '--name',
  scopes: '--scope',
  expiresInDays: '--expires-in-days',
  slug: '--slug',
  description: '--description',
  parent_id: '--parent',
};

function message(err: unknown): string {
  if (err instanceof ValidationError) {
    // Every field's reason, each under the flag it came from.
    return Object.entries(err.fields)
      .map(([field, reason]) => {
        const flag = FLAGS[field.split('.')[0]!] ?? field;
        return /^(must|is) /.test(reason) ? `${flag} ${reason}` : `${flag}: ${reason}`;
      })
      .join('; ');
  }
  if (err instanceof AuthError || err instanceof Error) return err.message.replace(/^express-authlib: /, '');
  return String(err);
}

// The only place in the CLI that ends the process. Exit codes: 0 ok, 1 failure, 2 usage error,
// 3 migrations pending (`db status`); one line on stderr, no stack.
try {
  await program.parseAsync(process.argv);
  process.exit(0);
} catch (err) {
  if (err instanceof CommanderError) {
    const done = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
    process.exit(done ? 0 : 2);
  }
  process.stderr.write(`authlib: ${message(err)}\n`);
  const code = (err as { exitCode?: unknown }).exitCode;
  process.exit(typeof code === 'number' ? code : 1);
}
