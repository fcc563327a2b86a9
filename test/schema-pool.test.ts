import { describe, expect, it } from 'vitest';
import { createTestApp, registerUser } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';

// The suite's own footing: test apps lend their schemas to the next app of the worker
// (helpers/schema-pool.ts). A lent schema must hold nothing of the app before it, and a schema a
// test changed must never be lent. Files run one after another in a worker, so within this file
// the schema an app gives back is the next one lent (the pool is last in, first out).

const count = async (schema: string, table: string) => (await rawQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".${table}`))[0]!.n;
const exists = async (schema: string) => (await rawQuery(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema])).length === 1;

describe('test apps lend their schemas to the next one', () => {
  it('a schema given back is lent again empty, its roles as migrated, its migrations still recorded', async () => {
    const a = await createTestApp();
    const user = await registerUser(a);
    await a.auth.roles.create('editor');
    await a.auth.apiTokens.create(user.user.id, { name: 'left behind' });
    const migrations = await count(a.schema, 'authlib_migrations');
    await a.close();

    const b = await createTestApp();
    try {
      expect(b.schema).toBe(a.schema);
      expect(await count(b.schema, 'users')).toBe(0);
      expect(await count(b.schema, 'api_tokens')).toBe(0);
      expect(await count(b.schema, 'auth_events')).toBe(0);
      expect((await b.auth.roles.list()).map((r) => r.name).sort()).toEqual(['admin', 'user']);
      expect(await count(b.schema, 'authlib_migrations')).toBe(migrations);
      // The old user's token means nothing here: another secret, and no such user.
      expect((await b.http.get('/me').set({ Authorization: `Bearer ${user.token}` })).status).toBe(401);
    } finally {
      await b.close();
    }
  });

  it('rows written after the app closed (another instance, a raw insert) are gone when the schema is lent again', async () => {
    const a = await createTestApp();
    await a.close();
    await rawQuery(`INSERT INTO "${a.schema}".roles (name) VALUES ('late')`);
    const b = await createTestApp();
    try {
      expect(b.schema).toBe(a.schema);
      expect((await b.auth.roles.list()).map((r) => r.name).sort()).toEqual(['admin', 'user']);
    } finally {
      await b.close();
    }
  });

  it.each([
    ['a column added', (s: string) => `ALTER TABLE "${s}".users ADD COLUMN extra int`],
    ['an index added', (s: string) => `CREATE INDEX ON "${s}".users (created_at)`],
    ['a default dropped', (s: string) => `ALTER TABLE "${s}".roles ALTER COLUMN created_at DROP DEFAULT`],
    ['a privilege granted', (s: string) => `GRANT SELECT ON "${s}".users TO PUBLIC`],
    ['a table dropped', (s: string) => `DROP TABLE "${s}".auth_events`],
  ])('a schema a test changed (%s) is dropped, never lent', async (_change, ddl) => {
    const a = await createTestApp();
    await rawQuery(ddl(a.schema));
    await a.close();
    const b = await createTestApp();
    try {
      expect(b.schema).not.toBe(a.schema);
      expect(await exists(a.schema)).toBe(false);
    } finally {
      await b.close();
    }
  });
});
