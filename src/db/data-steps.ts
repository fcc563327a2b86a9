import { sql, type Kysely } from 'kysely';
import { identityKey } from '../identity-key.js';

/**
 * Work a migration needs that SQL cannot do, run right after the SQL file of the same name, in
 * its transaction (with search_path set to the schema). Each step must be safe to run again.
 */
export const DATA_STEPS: Record<string, (db: Kysely<any>) => Promise<void>> = {
  '0004_identifier_keys': rekeyIdentifiers,
  '0011_group_slugs_and_service_keys': renameIdShapedSlugs,
};

/** A slug that PostgreSQL's uuid type would read as an id: 32 hex digits once hyphens are dropped. */
const ID_SHAPED_SLUG = "replace(slug, '-', '') ~* '^[0-9a-f]{32}$'";

/**
 * Renames every slug shaped like an id to `group-<first 8 hex digits of its own id>` (with `-2`,
 * `-3`... if that is taken), records each renaming as a `group_updated` event (with the previous
 * slug and the reason), then makes the database refuse such slugs from now on.
 */
async function renameIdShapedSlugs(db: Kysely<any>): Promise<void> {
  const { rows } = await sql<{ id: string; slug: string }>`select id, slug from groups where ${sql.raw(ID_SHAPED_SLUG)} order by created_at, id`.execute(db);
  if (rows.length > 0) {
    const taken = new Set((await db.selectFrom('groups').select('slug').execute()).map((r: { slug: string }) => r.slug));
    for (const row of rows) {
      const base = `group-${row.id.replaceAll('-', '').slice(0, 8)}`;
      let slug = base;
      for (let n = 2; taken.has(slug); n++) slug = `${base}-${n}`;
      taken.add(slug);
      await db
        .updateTable('groups')
        .set({ slug, updated_at: sql`now()` })
        .where('id', '=', row.id)
        .execute();
      await db
        .insertInto('auth_events')
        .values({
          type: 'group_updated',
          data: JSON.stringify({ group_id: row.id, fields: ['slug'], previous_slug: row.slug, slug, reason: 'slug_shaped_like_an_id' }),
        })
        .execute();
    }
  }
  await sql`alter table groups drop constraint if exists groups_slug_not_id_shaped`.execute(db);
  await sql`alter table groups add constraint groups_slug_not_id_shaped check (not (${sql.raw(ID_SHAPED_SLUG)}))`.execute(db);
}

interface KeyedRow {
  id: string;
  username: string;
  email: string | null;
  username_key: string;
  email_key: string | null;
}

/** Recomputes username_key and email_key with the current identityKey; refuses to merge two accounts. */
async function rekeyIdentifiers(db: Kysely<any>): Promise<void> {
  const rows: KeyedRow[] = await db.selectFrom('users').select(['id', 'username', 'email', 'username_key', 'email_key']).execute();
  const rekeyed = rows.map((row) => ({ ...row, newUsername: identityKey(row.username), newEmail: row.email === null ? null : identityKey(row.email) }));
  refuseCollisions(rekeyed, 'username', (r) => r.newUsername);
  refuseCollisions(rekeyed, 'email', (r) => r.newEmail);
  const changed = rekeyed.filter((r) => r.newUsername !== r.username_key || r.newEmail !== r.email_key);
  // Two passes: a row's new key may be another changed row's old one, and the keys are unique.
  for (const r of changed) {
    await db
      .updateTable('users')
      .set({ username_key: `#rekey#${r.id}`, email_key: r.email_key === null ? null : `#rekey#${r.id}` })
      .where('id', '=', r.id)
      .execute();
  }
  for (const r of changed) {
    await db.updateTable('users').set({ username_key: r.newUsername, email_key: r.newEmail }).where('id', '=', r.id).execute();
  }
}

function refuseCollisions<R extends KeyedRow>(rows: R[], field: 'username' | 'email', key: (r: R) => string | null): void {
  const seen = new Map<string, R>();
  for (const row of rows) {
    const k = key(row);
    if (k === null) continue;
    const other = seen.get(k);
    if (other) {
      throw new Error(
        `accounts ${other.id} (${field} "${other[field]}") and ${row.id} (${field} "${row[field]}") now count as the same ${field}; ` +
          `change one of them (with the previous version of the library), then start again`,
      );
    }
    seen.set(k, row);
  }
}
