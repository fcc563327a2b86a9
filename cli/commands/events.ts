import { Command } from 'commander';
import { withAuth, type GlobalOptions } from '../context.js';
import { printJson, printTable } from './table.js';
import { findUserByAny, isId, wholeNumber } from './user-admin.js';

/** `authlib events`: the audit trail, newest first. */
export function eventsCommand(global: () => GlobalOptions): Command {
  return new Command('events')
    .description('show the audit trail, newest first')
    .option('--user <user>', 'only events of this user (username, email or id; an id also finds deleted users)')
    .option('--type <type>', 'only events of this type, e.g. login_failure')
    .option('--before <time>', 'only events older than this ISO-8601 time')
    .option('--limit <n>', 'how many (1-500, default 100)', wholeNumber)
    .option('--json', 'print the events as JSON')
    .action(async (o: { user?: string; type?: string; before?: string; limit?: number; json?: boolean }) => {
      const events = await withAuth(global(), async (auth) => {
        const user = o.user === undefined ? undefined : isId(o.user) ? o.user : (await findUserByAny(auth, o.user)).id;
        return auth.events.list({ user_id: user, type: o.type, before: o.before, limit: o.limit });
      });
      if (o.json) return printJson(events);
      printTable(
        ['time', 'type', 'user', 'actor', 'ip', 'data'],
        events.map((e) => [e.created_at, e.type, e.user_id ?? '', e.actor_id ?? '', e.ip ?? '', JSON.stringify(e.data)]),
        'no events',
      );
    });
}
