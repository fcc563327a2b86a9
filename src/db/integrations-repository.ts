import type { Kysely, Transaction } from 'kysely';
import type { Database, IntegrationRow } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** An integration as written by `set`: `meta` already JSON. */
export interface NewIntegration {
  user_id: string;
  connector: string;
  identifier: string | null;
  secret_enc: string;
  scopes: string[];
  meta: string;
  now: Date;
}

/**
 * Creates the user's entry for `connector` or replaces everything of it but `created_at`. One
 * statement, so two writers of the same entry never collide: the last one wins. A user that does
 * not exist fails on the foreign key.
 */
export function upsertIntegration(db: Db, row: NewIntegration): Promise<IntegrationRow> {
  const { now, ...values } = row;
  return db
    .insertInto('integrations')
    .values({ ...values, created_at: now, updated_at: now })
    .onConflict((oc) =>
      oc.columns(['user_id', 'connector']).doUpdateSet((eb) => ({
        identifier: eb.ref('excluded.identifier'),
        secret_enc: eb.ref('excluded.secret_enc'),
        scopes: eb.ref('excluded.scopes'),
        meta: eb.ref('excluded.meta'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findIntegration(db: Db, userId: string, connector: string): Promise<IntegrationRow | undefined> {
  return db.selectFrom('integrations').selectAll().where('user_id', '=', userId).where('connector', '=', connector).executeTakeFirst();
}

export function listIntegrations(db: Db, userId: string): Promise<IntegrationRow[]> {
  return db.selectFrom('integrations').selectAll().where('user_id', '=', userId).orderBy('connector').execute();
}

export async function deleteIntegration(db: Db, userId: string, connector: string): Promise<boolean> {
  const result = await db.deleteFrom('integrations').where('user_id', '=', userId).where('connector', '=', connector).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
