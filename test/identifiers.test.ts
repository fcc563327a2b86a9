import { randomBytes } from 'node:crypto';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseFold } from 'unicode-case-folding';
import { AuthManager, type AuthManagerOptions } from '../src/index.js';
import { identityKey } from '../src/identity-key.js';
import { createTestApp, PASSWORD, type TestApp } from './helpers/app.js';
import { databaseOptions, rawQuery } from './helpers/database.js';

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
const register = (username: string, email = `${tag()}_${Date.now()}@example.com`) => t.http.post(`${BASE}/register`).send({ username, password: PASSWORD, email });
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
  /** Inserts a user with the keys an older version computed (lower-case only), bypassing the library. */
  async function insertOld(schema: string, username: string): Promise<string> {
    const rows = await rawQuery<{ id: string }>(
      `insert into "${schema}".users (username, username_key, email, email_key) values ($1, $2, $3, $3) returning id`,
      [username, username.normalize('NFKC').toLowerCase(), `${tag()}@example.com`],
    );
    return rows[0]!.id;
  }

  async function restart(schema: string, secret: string) {
    const app = express();
    const auth = new AuthManager(app, { ...(await databaseOptions()), dbSchema: schema, jwtSecret: secret, bcryptRounds: 4, rateLimit: false } as AuthManagerOptions);
    return { app, auth };
  }

  it('re-keys old rows at start-up, so the folded spelling finds them', async () => {
    const s = await createTestApp();
    try {
      const name = `ΣΟΦΟΣ_${tag()}`;
      const id = await insertOld(s.schema, name);
      await rawQuery(`delete from "${s.schema}".authlib_migrations where name = '0004_identifier_keys'`);
      const { auth } = await restart(s.schema, s.secret);
      try {
        await auth.ready;
        expect((await auth.users.findByIdentifier(name.toLowerCase().replace(/ς/g, 'σ')))?.id).toBe(id);
        const keys = await rawQuery<{ username_key: string }>(`select username_key from "${s.schema}".users where id = $1`, [id]);
        expect(keys[0]!.username_key).toBe(`σοφοσ_${name.split('_')[1]}`);
      } finally {
        await auth.close();
      }
    } finally {
      await s.close();
    }
  });

  it('two old accounts that now fold together stop the migration with a message naming both, and nothing changes', async () => {
    const s = await createTestApp();
    try {
      const suffix = tag();
      const a = await insertOld(s.schema, `STRASSE_${suffix}`);
      const b = await insertOld(s.schema, `straße_${suffix}`);
      await rawQuery(`delete from "${s.schema}".authlib_migrations where name = '0004_identifier_keys'`);
      const { auth } = await restart(s.schema, s.secret);
      try {
        const error = await auth.ready.then(
          () => undefined,
          (err: Error) => err,
        );
        expect(error).toBeDefined();
        expect(error!.message).toContain(a);
        expect(error!.message).toContain(b);
        const keys = await rawQuery<{ username_key: string }>(`select username_key from "${s.schema}".users where id in ($1, $2) order by username_key`, [a, b]);
        expect(keys.map((k) => k.username_key)).toEqual([`strasse_${suffix}`, `straße_${suffix}`]);
      } finally {
        await auth.close();
      }
    } finally {
      await s.close();
    }
  });
});
