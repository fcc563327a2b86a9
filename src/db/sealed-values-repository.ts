import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** A row of a sealed column: the columns that name it, and the sealed value. */
export type SealedRow = Record<string, string>;

/** The rows of `table` whose `column` holds a value sealed in the format with the prefix `prefix`. */
export async function findSealedWithPrefix(db: Kysely<Database>, table: string, column: string, key: readonly string[], prefix: string): Promise<SealedRow[]> {
  // The table and columns come from the library's own list of sealed places (SEALED_COLUMNS), never from input.
  const any = db as unknown as Kysely<any>;
  const rows: Array<Record<string, unknown>> = await any
    .selectFrom(table)
    .select([...key, column])
    .where(column, 'like', `${prefix}%`)
    .execute();
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, String(v)])));
}

/**
 * Replaces the sealed value of one row if it is still `from` (so a value written meanwhile, or by
 * another instance doing the same, is left alone). Returns whether it replaced it.
 */
export async function replaceSealedValue(
  db: Kysely<Database>,
  table: string,
  column: string,
  key: readonly string[],
  row: SealedRow,
  from: string,
  to: string,
): Promise<boolean> {
  const any = db as unknown as Kysely<any>;
  let query = any
    .updateTable(table)
    .set({ [column]: to })
    .where(column, '=', from);
  for (const name of key) query = query.where(name, '=', row[name]);
  const result = await query.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
