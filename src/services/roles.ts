import * as z from 'zod';
import { ConflictError, NotFoundError } from '../errors.js';
import { countHolders, deleteRole, insertRole, listRoles, listRolesWithCounts, lockRole } from '../db/roles-repository.js';
import type { EventOrigin } from '../security/audit.js';
import { lazySchema, parseInput } from '../validation.js';
import type { ServiceContext } from './context.js';

/** A role and how many users hold it. */
export interface RoleInfo {
  name: string;
  users: number;
}

/** What a role may be called. */
export const ROLE_NAME = /^[a-z][a-z0-9_:-]{0,63}$/;

export const nameSchema = lazySchema(() => z.string().regex(ROLE_NAME, 'must match ^[a-z][a-z0-9_:-]{0,63}$'));

/** The roles that exist: `auth.roles` and `/admin/roles`. */
export class RoleService {
  constructor(private readonly ctx: Pick<ServiceContext, 'database' | 'audit' | 'opts'>) {}

  /** Every role name, sorted (the public `GET /roles`). */
  names(): Promise<string[]> {
    return this.ctx.database.run(listRoles);
  }

  /** Every role with how many users hold it, sorted by name. */
  list(): Promise<RoleInfo[]> {
    return this.ctx.database.run(listRolesWithCounts);
  }

  /** Creates a role; 400 for a name outside `^[a-z][a-z0-9_:-]{0,63}$`, 409 when it exists. */
  async create(name: string, origin?: EventOrigin): Promise<RoleInfo> {
    const valid = parseInput(z.object({ name: nameSchema() }), { name }).name;
    const created = await this.ctx.database.run((db) => insertRole(db, valid, this.ctx.opts.now()));
    if (!created) throw new ConflictError(`role '${valid}' already exists`);
    await this.ctx.audit.record('role_created', { data: { role: valid }, origin });
    return { name: valid, users: 0 };
  }

  /**
   * Deletes a role nobody holds; 409 while a user holds it, and always for `adminRole` and the
   * `defaultRoles`; 404 when it does not exist. The role's row is locked first, so a concurrent
   * grant either commits before (and the role is held: 409) or fails after (unknown role).
   */
  async delete(name: string, origin?: EventOrigin): Promise<void> {
    if (typeof name !== 'string') throw new NotFoundError('role not found');
    const { adminRole, defaultRoles } = this.ctx.opts;
    if (name === adminRole) throw new ConflictError(`'${name}' is the admin role and cannot be deleted`);
    if (defaultRoles.includes(name)) throw new ConflictError(`'${name}' is a default role given to new users and cannot be deleted`);
    await this.ctx.database.run((db) =>
      db.transaction().execute(async (trx) => {
        if (!(await lockRole(trx, name, 'exclusive'))) throw new NotFoundError('role not found');
        const holders = await countHolders(trx, name);
        if (holders > 0) throw new ConflictError(`role '${name}' is held by ${holders} user(s); take it from them first`);
        await deleteRole(trx, name);
      }),
    );
    await this.ctx.audit.record('role_deleted', { data: { role: name }, origin });
  }
}
