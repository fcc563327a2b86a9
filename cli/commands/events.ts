import { Command } from 'commander';
import { withAuth, type GlobalOptions } from '../context.js';
import { printJson, printTable } from './table.js';
import { findUserByAny, idOf, wholeNumber } from './user-admin.js';
import { usernameOf, usernamesOf, withName } from './usernames.js';

/** `authlib events`: the audit trail, newest first, with the username beside each user id. */
export function eventsCommand(global: () => GlobalOptions): Command {
  return new Command('events')
    .description('show the audit trail, newest first, with usernames beside user ids')
    .option('--user <user>', 'only events of this user (username, email or id; an id also finds deleted users)')
    .option('--type <type>', 'only events of this type, e.g. login_failure')
    .option('--before <time>', 'only events older than this ISO-8601 time')
    .option('--limit <n>', 'how many (1-500, default 100)', wholeNumber)
    .option('--json', 'print [{id, type, user_id, username, actor_id, actor_username, ip, user_agent, data, created_at}] as JSON')
    .action(async (o: { user?: string; type?: string; before?: string; limit?: number; json?: boolean }) => {
      const { events, names } = await withAuth(global(), async (auth) => {
        const user = o.user === undefined ? undefined : (idOf(o.user) ?? (await findUserByAny(auth, o.user)).id);
        const events = await auth.events.list({ user_id: user, type: o.type, before: o.before, limit: o.limit });
        return {
          events,
          names: await usernamesOf(
            auth,
            events.flatMap((e) => [e.user_id, e.actor_id]),
          ),
        };
      });
      if (o.json) {
        return printJson(
          events.map((e) => ({
            id: e.id,
            type: e.type,
            user_id: e.user_id,
            username: usernameOf(names, e.user_id),
            actor_id: e.actor_id,
            actor_username: usernameOf(names, e.actor_id),
            ip: e.ip,
            user_agent: e.user_agent,
            data: e.data,
            created_at: e.created_at,
          })),
        );
      }
      printTable(
        ['time', 'type', 'user', 'actor', 'ip', 'data'],
        events.map((e) => [e.created_at, e.type, withName(names, e.user_id), withName(names, e.actor_id), e.ip ?? '', JSON.stringify(e.data)]),
        'no events',
      );
    });
}
