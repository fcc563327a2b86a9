import { listRoles } from '../db/roles-repository.js';
import type { ServiceContext } from './context.js';

/** The roles that exist. */
export class RoleService {
  constructor(private readonly ctx: Pick<ServiceContext, 'database'>) {}

  /** Every role name, sorted. */
  list(): Promise<string[]> {
    return this.ctx.database.run(listRoles);
  }
}
