import { isIP } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import { UsageError, withAuth, type GlobalOptions } from '../context.js';
import { describeCleared, findUserByAny } from './user-admin.js';

/** `--ip`: an IPv4 or IPv6 address, as a client's would be recorded. */
const address = (value: string): string => {
  if (isIP(value) === 0) throw new InvalidArgumentError('must be an IPv4 or IPv6 address');
  return value;
};

/** `authlib limits reset`: clears stored rate-limit counters and lockouts. */
export function limitsCommand(global: () => GlobalOptions): Command {
  const limits = new Command('limits').description('rate limits and lockouts kept in the database');

  limits
    .command('reset')
    .description('clear the rate limits of a client address and/or an account (--all: every limit)')
    .option('--ip <address>', 'the counters of this client address (an IPv6 address clears its /56, counted as one)', address)
    .option('--user <user>', 'the counters of this account (username, email or id), as `user unlock` does')
    .option('--all', 'every counter of every address and account')
    .addHelpText(
      'after',
      `
Give --ip, --user or both (their counters together), or --all alone; a bare \`limits reset\` is refused.
Clears what the library keeps in its database, not counters in a custom rateLimit.store. Audited.

Examples:
  authlib limits reset --ip 203.0.113.7
  authlib limits reset --ip 203.0.113.7 --user bob@example.com
  authlib limits reset --all`,
    )
    .action(async (o: { ip?: string; user?: string; all?: boolean }) => {
      if (o.all && (o.ip !== undefined || o.user !== undefined)) throw new UsageError('--all clears every limit: give it alone, without --ip or --user');
      if (!o.all && o.ip === undefined && o.user === undefined)
        throw new UsageError('say which limits to clear: --ip ADDRESS and/or --user USER, or --all for every one');
      const { cleared, who } = await withAuth(global(), async (auth) => {
        const user = o.user === undefined ? undefined : await findUserByAny(auth, o.user);
        const cleared = await auth.rateLimits.reset(
          o.all ? { all: true } : { ...(o.ip !== undefined ? { ip: o.ip } : {}), ...(user ? { userId: user.id } : {}) },
        );
        const who = o.all ? 'every address and account' : [o.ip, user && `${user.username} (${user.id})`].filter(Boolean).join(' and ');
        return { cleared, who };
      });
      console.log(`reset the limits of ${who}: ${describeCleared(cleared)}`);
    });

  return limits;
}
