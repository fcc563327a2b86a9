import { Command } from 'commander';
import { collect, findUser, UsageError, withAuth, type GlobalOptions } from '../context.js';
import { printJson, printTable } from './table.js';
import { days, printCreatedToken } from './token.js';

/** `authlib group create|list|members|add-member|remove-member`: as trusted code, so every rule about who may act is the operator's. */
export function groupCommand(global: () => GlobalOptions): Command {
  const group = new Command('group').description('manage groups and their members');

  group
    .command('create')
    .description('create a group (no one is its admin until added with --role admin)')
    .argument('<name>', 'display name; the slug is derived from it unless --slug is given')
    .option('--slug <slug>', 'short name for paths (^[a-z0-9][a-z0-9-]{0,62}$)')
    .option('--parent <group>', 'id or slug of the parent group')
    .option('--description <text>', 'what the group is')
    .action(async (name: string, o: { slug?: string; parent?: string; description?: string }) => {
      const created = await withAuth(global(), (auth) => auth.groups.create({ name, slug: o.slug, parent_id: o.parent, description: o.description }));
      console.log(`created group ${created.slug} (${created.id})`);
    });

  group
    .command('list')
    .description('list every group, by slug')
    .option('--json', 'print [{id, name, slug, description, created_at}] as JSON')
    .action(async (o: { json?: boolean }) => {
      const groups = await withAuth(global(), async (auth) => {
        // Every page: an operator listing groups wants them all.
        const all = [];
        for (let offset = 0; ; offset += 100) {
          const page = await auth.groups.list({ limit: 100, offset });
          all.push(...page);
          if (page.length < 100) return all;
        }
      });
      if (o.json) return printJson(groups);
      printTable(
        ['id', 'slug', 'name', 'created'],
        groups.map((g) => [g.id, g.slug, g.name, g.created_at]),
        'no groups',
      );
    });

  group
    .command('members')
    .description('list the members of a group, with their roles inside it')
    .argument('<group>', 'id or slug')
    .option('--json', 'print {members: [{user, roles, is_admin}], total} as JSON (as GET /groups/{id}/members)')
    .action(async (idOrSlug: string, o: { json?: boolean }) => {
      const page = await withAuth(global(), async (auth) => {
        const members = [];
        for (let offset = 0; ; offset += 100) {
          const { members: batch, total } = await auth.groups.listMembers(idOrSlug, { limit: 100, offset });
          members.push(...batch);
          if (batch.length < 100) return { members, total };
        }
      });
      if (o.json) return printJson(page);
      printTable(
        ['username', 'id', 'roles', 'admin'],
        page.members.map((m) => [m.user.username, m.user.id, m.roles.join(',') || '(none)', m.is_admin ? 'yes' : 'no']),
        'no members',
      );
    });

  group
    .command('add-member')
    .description('add a user to a group')
    .argument('<group>', 'id or slug')
    .argument('<user>', 'username or email')
    .option('--role <role>', 'role inside the group, e.g. admin (repeatable)', collect, [])
    .action(async (idOrSlug: string, identifier: string, o: { role: string[] }) => {
      const member = await withAuth(global(), async (auth) => {
        const user = await findUser(auth, identifier);
        return auth.groups.addMember(idOrSlug, { user_id: user.id, roles: o.role });
      });
      console.log(`added ${member.user.username} to ${idOrSlug}; roles: ${member.roles.join(' ') || '(none)'}`);
    });

  group
    .command('remove-member')
    .description('remove a user from a group (never its last admin)')
    .argument('<group>', 'id or slug')
    .argument('<user>', 'username or email')
    .action(async (idOrSlug: string, identifier: string) => {
      await withAuth(global(), async (auth) => auth.groups.removeMember(idOrSlug, (await findUser(auth, identifier)).id));
      console.log(`removed ${identifier} from ${idOrSlug}`);
    });

  return group;
}

/** `authlib service-key create|list`: API tokens that act for a group. */
export function serviceKeyCommand(global: () => GlobalOptions): Command {
  const key = new Command('service-key').description("manage groups' service keys");

  key
    .command('create')
    .description('create a service key for a group and print it (shown only this once)')
    .argument('<group>', 'id or slug')
    .requiredOption('--name <name>', 'what the key is for')
    .option('--scope <scope>', 'scope to grant (repeatable)', collect, [])
    .option('--expires-in-days <days>', 'lifetime in days (default: no expiry)', days)
    .action(async (idOrSlug: string, o: { name: string; scope: string[]; expiresInDays?: number }) => {
      if (o.name.trim() === '') throw new UsageError('--name must not be empty');
      const created = await withAuth(global(), (auth) =>
        auth.groups.serviceKeys.create(idOrSlug, {
          name: o.name,
          scopes: o.scope,
          ...(o.expiresInDays !== undefined ? { expiresInDays: o.expiresInDays } : {}),
        }),
      );
      printCreatedToken('service key', created, idOrSlug);
    });

  key
    .command('list')
    .description("list a group's service keys (never their secrets)")
    .argument('<group>', 'id or slug')
    .option('--json', 'print [{id, name, scopes, created_at, expires_at, last_used_at}] as JSON')
    .action(async (idOrSlug: string, o: { json?: boolean }) => {
      const keys = await withAuth(global(), (auth) => auth.groups.serviceKeys.list(idOrSlug));
      if (o.json) return printJson(keys);
      printTable(
        ['id', 'name', 'scopes', 'created', 'expires', 'last used'],
        keys.map((k) => [k.id, k.name, k.scopes.join(' ') || '(none)', k.created_at, k.expires_at ?? 'never', k.last_used_at ?? 'never']),
        'no service keys',
      );
    });

  return key;
}
