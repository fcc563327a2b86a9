import type { AuthManager } from '../../src/index.js';

/** Who an id names: the username, and whether the account has since been deleted. */
export interface NamedUser {
  username: string;
  deleted: boolean;
}

/**
 * The usernames of these user ids, for listings that would otherwise show bare ids. A deleted
 * user's name comes from their `user_deleted` event; an id found nowhere is left out.
 */
export async function usernamesOf(auth: AuthManager, ids: Iterable<string | null>): Promise<Map<string, NamedUser>> {
  const names = new Map<string, NamedUser>();
  for (const id of new Set(ids)) {
    if (id === null) continue;
    const user = await auth.users.findById(id);
    if (user) {
      names.set(id, { username: user.username, deleted: false });
      continue;
    }
    const [deleted] = await auth.events.list({ user_id: id, type: 'user_deleted', limit: 1 });
    if (typeof deleted?.data.username === 'string') names.set(id, { username: deleted.data.username, deleted: true });
  }
  return names;
}

/** The username of `id` for JSON output; null when the id is null or found nowhere. */
export function usernameOf(names: Map<string, NamedUser>, id: string | null): string | null {
  return id === null ? null : (names.get(id)?.username ?? null);
}

/** `name (id)` for a table cell (`name, deleted (id)` for a deleted account), the id alone when no name is known, '' for none. */
export function withName(names: Map<string, NamedUser>, id: string | null): string {
  if (id === null) return '';
  const named = names.get(id);
  if (named === undefined) return id;
  return `${named.username}${named.deleted ? ', deleted' : ''} (${id})`;
}
