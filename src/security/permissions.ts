import { isRoleName, misuse, plainObject } from '../option-checks.js';

/** The resolved `permissions` option: operation -> the roles that grant it. */
export type Permissions = ReadonlyMap<string, ReadonlySet<string>>;

/** A permission a guard asks for, looked up once: its name and the roles that grant it. */
export interface PermissionNeed {
  readonly name: string;
  readonly grantedBy: ReadonlySet<string>;
}

/** The API-token scope that stands for every operation. */
export const ANY_SCOPE = '*';

/**
 * A permission name must be something an API token can carry as a scope (the scope alphabet
 * without `*`, which already means "every operation"), or no API token could ever be granted it.
 */
const PERMISSION_NAME = /^[A-Za-z0-9_.:/-]{1,100}$/;

const OPTION = 'permissions';

/** Validates `permissions` once, at construction: every operation names at least one role. */
export function permissionsOf(value: unknown): Permissions {
  const given = plainObject(value, OPTION, "mapping an operation to the roles that grant it, e.g. { 'reports:read': ['editor'] }");
  const permissions = new Map<string, ReadonlySet<string>>();
  for (const [name, roles] of Object.entries(given)) {
    if (!PERMISSION_NAME.test(name)) {
      throw misuse(OPTION, `names '${name}', which is not an operation name (1-100 of A-Z a-z 0-9 _ . : / -, as an API-token scope)`);
    }
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every(isRoleName)) {
      throw misuse(`${OPTION}['${name}']`, `must be a non-empty array of the role names that grant it, e.g. { '${name}': ['editor'] }`);
    }
    permissions.set(name, new Set(roles));
  }
  return permissions;
}

const NOBODY: ReadonlySet<string> = new Set();

/** The need for `name`; an operation that `permissions` does not name is granted by no role. */
export function permissionNeed(permissions: Permissions, name: string): PermissionNeed {
  return { name, grantedBy: permissions.get(name) ?? NOBODY };
}

/**
 * Whether a caller with these effective roles and scopes may perform the operation: a role grants
 * it, and the credential carries it (an access JWT's scopes are `['*']`; an API token needs the
 * operation itself or `*` among its scopes).
 */
export function isPermitted(need: PermissionNeed, roles: readonly string[], scopes: readonly string[]): boolean {
  return roles.some((role) => need.grantedBy.has(role)) && (scopes.includes(need.name) || scopes.includes(ANY_SCOPE));
}
