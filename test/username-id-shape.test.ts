import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager, ValidationError } from '../src/index.js';
import { bearer, createTestApp, registerUser, type TestApp } from './helpers/app.js';
import { registerAdmin } from './helpers/admin.js';
import { databaseOptions, dropSchema, rawQuery, uniqueSchema } from './helpers/database.js';
import { expectValidation } from './helpers/endpoints.js';

// A username equal to another account's id let that name stand for the account wherever either is
// accepted (the CLI's `<user>`, listings that show `username (id)`). Every spelling PostgreSQL's
// uuid type reads, within the username alphabet, is refused wherever a username is set.

let t: TestApp;
let victim: { id: string };

beforeAll(async () => {
  t = await createTestApp();
  victim = (await registerUser(t)).user;
});
afterAll(() => t.close());

/** The victim's id as an attacker would spell it. */
const spellings = (id: string) => [
  id,
  id.toUpperCase(),
  id.replaceAll('-', ''),
  id.replaceAll('-', '').toUpperCase(),
  id
    .replaceAll('-', '')
    .replace(/(....)/g, '$1-')
    .replace(/-$/, ''),
  // Full-width digits and letters: NFKC makes them the plain id.
  id.replace(/[0-9a-f]/g, (c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)),
];

describe('usernames shaped like a user id', () => {
  it('POST /register answers 400 validation_error fields.username for every spelling of an id', async () => {
    for (const username of [...spellings(victim.id), '0123456789abcdef0123456789ABCDEF']) {
      const res = await t.http.post('/api/v1/users/register').send({ username, password: 'a fine long password', email: `${Math.random()}@example.com` });
      expectValidation(res, 'username');
      expect(res.body.fields.username).toMatch(/shaped like a user id/);
    }
    // Near misses stay allowed: 31 or 33 hex digits, or a non-hex letter.
    for (const username of ['0123456789abcdef0123456789abcde', '0123456789abcdef0123456789abcdef0', '0123456789abcdef0123456789abcdeg']) {
      expect((await registerUser(t, { username })).user.username).toBe(username);
    }
  });

  it('admin create and update over HTTP, auth.users.create and auth.users.update refuse them', async () => {
    const admin = await registerAdmin(t);
    const someone = await registerUser(t);
    for (const username of spellings(victim.id)) {
      expectValidation(
        await t.http
          .post('/api/v1/users/admin/users')
          .set(bearer(admin.token))
          .send({ username, email: `${Math.random()}@example.com` }),
        'username',
      );
      expectValidation(await t.http.patch(`/api/v1/users/admin/users/${someone.user.id}`).set(bearer(admin.token)).send({ username }), 'username');
      await expect(t.auth.users.create({ username, email: null })).rejects.toBeInstanceOf(ValidationError);
      await expect(t.auth.users.update(someone.user.id, { username })).rejects.toBeInstanceOf(ValidationError);
    }
    expect((await t.auth.users.findById(someone.user.id))!.username).toBe(someone.username);
  });

  it('the database refuses them too (CHECK users_username_not_id_shaped)', async () => {
    const other = await registerUser(t);
    await expect(
      rawQuery(`update "${t.schema}".users set username = $1 where id = $2`, [victim.id.replaceAll('-', '').toUpperCase(), other.user.id]),
    ).rejects.toMatchObject({
      code: '23514',
    });
  });
});

describe('migration 0018', () => {
  it('renames id-shaped usernames to user-<8 hex> (unique), records each as user_updated, and is re-runnable', async () => {
    const schema = uniqueSchema('unames');
    const options = { ...(await databaseOptions()), dbSchema: schema, jwtSecret: t.secret, bcryptRounds: 4, rateLimit: false as const, logger: false as const };
    const before = new AuthManager(null, options);
    let ids: { victim: string; squatter: string; hex: string; keeper: string };
    try {
      await before.ready;
      const make = (username: string) => before.users.create({ username, email: `${username}@example.com` });
      ids = { victim: (await make('victim')).id, squatter: (await make('squatter')).id, hex: (await make('hexname')).id, keeper: (await make('keeper')).id };
      // The schema as the previous release left it: no constraint, 0018 not applied, such rows present.
      await rawQuery(`alter table "${schema}".users drop constraint users_username_not_id_shaped`);
      await rawQuery(`delete from "${schema}".authlib_migrations where name >= '0018'`);
      await rawQuery(`update "${schema}".users set username = $1, username_key = lower($1) where id = $2`, [ids.victim, ids.squatter]);
      await rawQuery(`update "${schema}".users set username = $1, username_key = lower($1) where id = $2`, [
        ids.victim.replaceAll('-', '').toUpperCase(),
        ids.hex,
      ]);
      // The name the squatter would get is taken already: the next one is used.
      const wanted = `user-${ids.squatter.replaceAll('-', '').slice(0, 8)}`;
      await rawQuery(`update "${schema}".users set username = $1, username_key = $1 where id = $2`, [wanted, ids.keeper]);
    } finally {
      await before.close();
    }
    const after = new AuthManager(null, options);
    try {
      await after.ready;
      const squatter = (await after.users.findById(ids.squatter))!;
      expect(squatter.username).toBe(`user-${ids.squatter.replaceAll('-', '').slice(0, 8)}-2`);
      expect((await after.users.findById(ids.hex))!.username).toBe(`user-${ids.hex.replaceAll('-', '').slice(0, 8)}`);
      expect((await after.users.findById(ids.victim))!.username).toBe('victim');
      // The new name signs in (its key was written with it); the id no longer finds anyone by name.
      expect((await after.users.findByIdentifier(squatter.username))!.id).toBe(ids.squatter);
      expect(await after.users.findByIdentifier(ids.victim)).toBeUndefined();
      const events = await after.events.list({ type: 'user_updated' });
      expect(events.map((e) => [e.user_id, e.data]).sort()).toEqual(
        [
          [ids.squatter, { fields: ['username'], previous_username: ids.victim, username: squatter.username, reason: 'username_shaped_like_an_id' }],
          [
            ids.hex,
            {
              fields: ['username'],
              previous_username: ids.victim.replaceAll('-', '').toUpperCase(),
              username: `user-${ids.hex.replaceAll('-', '').slice(0, 8)}`,
              reason: 'username_shaped_like_an_id',
            },
          ],
        ].sort(),
      );
      await expect(rawQuery(`update "${schema}".users set username = $1 where id = $2`, [ids.victim, ids.squatter])).rejects.toMatchObject({ code: '23514' });
      // Run again: nothing more to rename, the constraint stays.
      await rawQuery(`delete from "${schema}".authlib_migrations where name >= '0018'`);
    } finally {
      await after.close();
    }
    const again = new AuthManager(null, options);
    try {
      await again.ready;
      expect(await again.events.list({ type: 'user_updated' })).toHaveLength(2);
      await expect(rawQuery(`update "${schema}".users set username = $1 where id = $2`, [ids.victim, ids.squatter])).rejects.toMatchObject({ code: '23514' });
    } finally {
      await again.close();
      await dropSchema(schema);
    }
  });
});
