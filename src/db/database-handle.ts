import type { Kysely } from 'kysely';

/** Something that can be handed over as `db`: a Kysely instance, a node-postgres Pool, or a PGlite instance. */
export type DatabaseHandle =
  | Kysely<any>
  | { connect(): Promise<unknown>; query: unknown; end(): Promise<void> }
  | { exec(sql: string): Promise<unknown>; query: unknown; close(): Promise<void> };
