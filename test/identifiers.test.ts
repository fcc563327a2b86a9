import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseFold } from 'unicode-case-folding';
import { AuthManager } from '../src/index.js';
import { identityKey } from '../src/identity-key.js';
import { createTestApp, PASSWORD, type TestApp } from './helpers/app.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE } from '../src/db/migrator.js';
import { PGliteDialect } from '../src/db/pglite-dialect.js';
import { withSchemaIntrospection } from '../src/db/schema-introspector.js';
import { databaseOptions, dropSchema, rawQuery, sharedPGlite, TEST_DSN, uniqueSchema } from './helpers/database.js';

// Identifier folding as an attack: a second account whose name differs from the first only by
// case folding (ß/SS, final sigma) or by a look-alike letter from another script.

const BASE = '/api/v1/users';
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

/** A unique suffix of digits only: digits fit any script, so it never makes a name mixed-script. */
const tag = () => String(randomBytes(4).readUInt32BE());
const register = (username: string, email = `${tag()}_${Date.now()}@example.com`) =>
  t.http.post(`${BASE}/register`).send({ username, password: PASSWORD, email });
const outcome = (r: { status: number; body: { code?: unknown } }) => ({ status: r.status, code: r.body?.code });

describe('names that fold together are one account', () => {
  it.each([
    ['ΟΔΟΣ', 'οδοσ', 'οδος'],
    ['STRASSE', 'straße', 'Strasse'],
    ['straße', 'STRASSE', 'strasse'],
    ['MASSE', 'maẞe', 'masse'],
    ['ﬁle', 'FILE', 'file'],
  ])('%s registered: %s is a 409 conflict, and %s logs in to the first', async (first, second, third) => {
    const suffix = `_${tag()}`;
    const created = await register(first + suffix);
    expect(created.status).toBe(201);
    expect(outcome(await register(second + suffix))).toEqual({ status: 409, code: 'conflict' });
    const login = await t.http.post(`${BASE}/login`).send({ username: third + suffix, password: PASSWORD });
    expect(login.status).toBe(200);
    expect(login.body.user.id).toBe(created.body.user.id);
    // The stored form keeps the spelling the user chose.
    expect(login.body.user.username).toBe((first + suffix).normalize('NFKC'));
  });

  it('concurrent registrations of ΟΔΟΣ, οδοσ and οδος: exactly one account', async () => {
    const suffix = `_${tag()}`;
    const responses = await Promise.all(['ΟΔΟΣ', 'οδοσ', 'οδος', 'Οδος', 'ΟΔΟΣ'].map((n) => register(n + suffix)));
    expect(responses.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
  });

  it('auth.users.findByIdentifier folds the same way', async () => {
    const name = `Großmann_${tag()}`;
    const created = await register(name);
    expect(created.status).toBe(201);
    expect((await t.auth.users.findByIdentifier(name.toUpperCase()))?.id).toBe(created.body.user.id);
  });
});

describe('the comparison key', () => {
  it("is unchanged by Unicode's default (full) case folding, for every code point", () => {
    const differ: string[] = [];
    for (let cp = 0; cp < 0x110000; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue; // lone surrogates are not text
      const char = String.fromCodePoint(cp);
      if (identityKey(char) !== identityKey(caseFold(char))) differ.push(cp.toString(16));
    }
    expect(differ).toEqual([]);
  });
});

describe('mixed-script usernames', () => {
  it.each([
    ['аdmin', 'Cyrillic а + Latin'],
    ['pаypal', 'Latin with one Cyrillic а'],
    ['gοogle', 'Latin with a Greek ο'],
    ['admіn', 'Latin with a Ukrainian і'],
  ])('%s (%s) is refused: 400 validation_error on fields.username', async (name, _why) => {
    const res = await register(`${name}_${tag()}`);
    expect(outcome(res)).toEqual({ status: 400, code: 'validation_error' });
    expect(Object.keys(res.body.fields)).toEqual(['username']);
  });

  it.each([['админ'], ['δοκιμή'], ['山田たろう'], ['김철수'], ['user.name-1']])('%s (one script) is accepted', async (name) => {
    expect((await register(`${name}_${tag()}`)).status).toBe(201);
  });

  it('the programmatic API refuses them too', async () => {
    await expect(t.auth.users.create({ username: `аdmin_${tag()}`, email: `${tag()}@example.com` })).rejects.toMatchObject({ code: 'validation_error' });
  });
});

describe('migration of existing keys', () => {
  /**
   * A schema as the previous release left it: migrations up to 0003 only, applied by Kysely's
   * Migrator from the shipped sql/ files, with users keyed the old way (NFKC + lower case).
   */
  async function previousRelease(usernames: string[]) {
    const schema = uniqueSchema('old');
    const db = TEST_DSN
      ? new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: TEST_DSN, max: 1 }) }) })
      : new Kysely<any>({ dialect: new PGliteDialect(await sharedPGlite()) });
    try {
      await sql`create schema ${sql.id(schema)}`.execute(db);
      const dir = fileURLToPath(new URL('../sql/', import.meta.url));
      const files = readdirSync(dir)
        .filter((f) => f < '0004')
        .sort();
      const migrations = Object.fromEntries(
        files.map((f) => [
          f.replace(/\.sql$/, ''),
          {
            up: async (trx: Kysely<any>) => {
              await sql`set local search_path to ${sql.id(schema)}`.execute(trx);
              await sql.raw(readFileSync(join(dir, f), 'utf8')).execute(trx);
            },
          },
        ]),
      );
      const migrator = new Migrator({
        // Kysely's stock introspector reads every table of the database, and fails when another
        // test file drops its schema meanwhile (3F000); the library's own sees this schema only.
        db: withSchemaIntrospection(db, schema),
        provider: { getMigrations: async () => migrations },
        migrationTableSchema: schema,
        migrationTableName: MIGRATION_TABLE,
        migrationLockTableName: MIGRATION_LOCK_TABLE,
      });
      // Kysely's Migrator introspects every schema of the database; another test file dropping its
      // schema at that moment fails it with 3F000 (the library's migrator retries the same way).
      for (let attempt = 1; ; attempt++) {
        const { error } = await migrator.migrateToLatest();
        if (!error) break;
        const race = ['3F000', '42P01'].includes(String((error as { code?: unknown }).code));
        if (!race || attempt >= 3) throw error instanceof Error ? error : new Error('migration failed', { cause: error });
      }
      const ids: string[] = [];
      for (const username of usernames) {
        const rows = await rawQuery<{ id: string }>(
          `insert into "${schema}".users (username, username_key, email, email_key) values ($1, $2, $3, $3) returning id`,
          [username, username.normalize('NFKC').toLowerCase(), `${tag()}@example.com`],
        );
        ids.push(rows[0]!.id);
      }
      return { schema, ids };
    } finally {
      if (TEST_DSN) await db.destroy();
    }
  }

  async function upgrade(schema: string) {
    const auth = new AuthManager(null, {
      ...(await databaseOptions()),
      dbSchema: schema,
      jwtSecret: randomBytes(48).toString('base64url'),
      bcryptRounds: 4,
      rateLimit: false,
    });
    return auth;
  }

  it('re-keys old rows at start-up, so the folded spelling finds them', async () => {
    const name = `ΣΟΦΟΣ_${tag()}`;
    const { schema, ids } = await previousRelease([name]);
    const auth = await upgrade(schema);
    try {
      await auth.ready;
      expect((await auth.users.findByIdentifier(name.toLowerCase().replace(/ς/g, 'σ')))?.id).toBe(ids[0]);
      const keys = await rawQuery<{ username_key: string }>(`select username_key from "${schema}".users where id = $1`, [ids[0]]);
      expect(keys[0]!.username_key).toBe(`σοφοσ_${name.split('_')[1]}`);
    } finally {
      await auth.close();
      await dropSchema(schema);
    }
  });

  it('two old accounts that now fold together stop the migration with a message naming both, and nothing changes', async () => {
    const suffix = tag();
    const { schema, ids } = await previousRelease([`STRASSE_${suffix}`, `straße_${suffix}`]);
    const auth = await upgrade(schema);
    try {
      const error = await auth.ready.then(
        () => undefined,
        (err: Error) => err,
      );
      expect(error).toMatchObject({ code: 'database_error' });
      expect(error!.message).toContain(ids[0]);
      expect(error!.message).toContain(ids[1]);
      const keys = await rawQuery<{ username_key: string }>(`select username_key from "${schema}".users order by username_key`);
      expect(keys.map((k) => k.username_key)).toEqual([`strasse_${suffix}`, `straße_${suffix}`]);
      const applied = await rawQuery<{ name: string }>(`select name from "${schema}".authlib_migrations order by name`);
      expect(applied.map((m) => m.name).every((m) => m < '0004')).toBe(true);
    } finally {
      await auth.close();
      await dropSchema(schema);
    }
  });
});
