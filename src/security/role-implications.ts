import { isRoleName, misuse, plainObject, roleList } from '../option-checks.js';

/**
 * The resolved `roleImplications` option: each role that implies others -> every role it implies,
 * directly or through others (frozen, nearest first). Roles that imply nothing are absent.
 */
export type RoleImplications = ReadonlyMap<string, readonly string[]>;

const OPTION = 'roleImplications';
const SHAPE = "mapping a role to the roles it implies, e.g. { admin: ['editor'], editor: ['user'] }";

/** Validates `roleImplications` and computes each role's transitive closure once, at construction. */
export function roleImplicationsOf(value: unknown): RoleImplications {
  const given = plainObject(value, OPTION, SHAPE);
  const direct = new Map<string, string[]>();
  for (const [role, implied] of Object.entries(given)) {
    if (!isRoleName(role)) throw misuse(OPTION, `names '${role}', which is not a role name (letters, digits, _ . : -, at most 64 characters)`);
    if (!Array.isArray(implied)) throw misuse(`${OPTION}.${role}`, `must be an array of role names, e.g. { ${role}: ['user'] }`);
    direct.set(role, roleList(implied, `${OPTION}.${role}`, []));
  }
  const cycle = findCycle(direct);
  if (cycle) throw misuse(OPTION, `has a cycle: ${cycle.join(' -> ')}; a role cannot imply itself, directly or through others`);

  const closure = new Map<string, readonly string[]>();
  for (const role of direct.keys()) {
    // Breadth first, so the order of the effective roles is stable and nearest first.
    const seen = new Set<string>();
    const queue = [...(direct.get(role) ?? [])];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push(...(direct.get(next) ?? []));
    }
    if (seen.size > 0) closure.set(role, Object.freeze([...seen]));
  }
  return closure;
}

/** The first cycle found, as the path that closes it (`['admin', 'editor', 'admin']`), or undefined. */
function findCycle(direct: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (role: string): string[] | undefined => {
    const at = path.indexOf(role);
    if (at !== -1) return [...path.slice(at), role];
    if (done.has(role)) return undefined;
    path.push(role);
    for (const next of direct.get(role) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(role);
    return undefined;
  };
  for (const role of direct.keys()) {
    const cycle = visit(role);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * A function from a user's held roles to their effective roles (the held ones, then everything
 * they imply). Memoised by the held-roles array: the user cache hands every request of a user the
 * same frozen array, so after the first request of a cache entry this is one WeakMap lookup and
 * allocates nothing; a role change loads a new entry with a new array, which is expanded afresh.
 * The result is frozen, as `req.auth.roles` is shared by every request of that entry.
 */
export function effectiveRolesOf(implications: RoleImplications): (held: readonly string[]) => string[] {
  if (implications.size === 0) return (held) => held as string[];
  const memo = new WeakMap<readonly string[], string[]>();
  return (held) => {
    let effective = memo.get(held);
    if (effective === undefined) {
      effective = expand(implications, held);
      // Only a frozen array can be a key: one that may still change could outdate its entry.
      if (Object.isFrozen(held)) memo.set(held, effective);
    }
    return effective;
  };
}

function expand(implications: RoleImplications, held: readonly string[]): string[] {
  if (!held.some((role) => implications.has(role))) return (Object.isFrozen(held) ? held : Object.freeze([...held])) as string[];
  const effective = new Set(held);
  for (const role of held) for (const implied of implications.get(role) ?? []) effective.add(implied);
  return Object.freeze([...effective]) as string[];
}
