import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { commonPasswordCount } from '../src/passwords/policy.js';
import { bearer, closedAfterEach, createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { BASE, expectError, uniqueName } from './helpers/endpoints.js';

// The password policy (contract 5.3): length after NFKC, a list of common passwords, never the
// username or email; on register, change and reset (reset: account-lifecycle.test.ts).

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());
const opened = closedAfterEach();

const register = (s: TestApp, password: string, username = uniqueName('pp')) =>
  s.http.post(`${BASE}/register`).send({ username, password, email: `${username}@example.com` });

describe('password policy', () => {
  it('the common-password list holds at least 10,000 entries', () => {
    expect(commonPasswordCount()).toBeGreaterThanOrEqual(10_000);
  });

  it.each(['password', 'PASSWORD1', 'iloveyou', 'qwertyuiop', '12345678', 'Passw0rd'])(
    'refuses the common password %s on register: 400 fields.password',
    async (password) => {
      const res = await register(t, password);
      expectError(res, 400, 'validation_error');
      expect(Object.keys(res.body.fields)).toEqual(['password']);
    },
  );

  it('the first and last entries of the list are refused too; a password only a part of an entry is not', async () => {
    // The list is one string with each entry between newlines: its ends are the cases a lookup
    // can get wrong. '123456' opens the list; 'password' is whole, 'asswor' is only inside it.
    expectError(await register(t, '123456789'), 400, 'validation_error');
    expect((await register(t, 'asswordpasswor')).status).toBe(201);
  });

  it('a password with a newline is not read as two entries of the list: 201', async () => {
    // '123456' and 'password' stand next to each other in the list.
    const res = await register(t, '123456\npassword');
    expect(res.status).toBe(201);
  });

  it('a password with U+0000 is refused by the API as the HTTP routes refuse it: it could never be typed at a sign-in', async () => {
    const u = await registerUser(t);
    await expect(t.auth.users.setPassword(u.user.id, 'a long password\u0000with a NUL')).rejects.toMatchObject({ code: 'validation_error' });
    await expect(t.auth.users.create({ username: uniqueName('nul'), password: 'a long password\u0000with a NUL' })).rejects.toMatchObject({
      code: 'validation_error',
    });
    expect((await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD })).status).toBe(200);
  });

  it('refuses the username and the email as the password, in any case', async () => {
    const username = uniqueName('Same');
    expectError(await register(t, username.toUpperCase(), username), 400, 'validation_error');
    const res = await t.http.post(`${BASE}/register`).send({ username: uniqueName('x'), password: 'Mail.Me@Example.com', email: 'mail.me@example.com' });
    expectError(res, 400, 'validation_error');
    expect(Object.keys(res.body.fields)).toEqual(['password']);
  });

  it('counts length after NFKC: 7 characters that NFKC keeps at 7 are refused, 8 accepted', async () => {
    expectError(await register(t, 'ｑｗｅｒｔｚ7'), 400, 'validation_error');
    expect((await register(t, 'ｑｗｅｒｔｚ78')).status).toBe(201);
    // One ligature character NFKC turns into two: 7 typed, 8 counted.
    expect((await register(t, 'ﬀzqwrt9')).status).toBe(201);
  });

  it('applies to change-password', async () => {
    const u = await registerUser(t);
    const res = await t.http.post(`${BASE}/change-password`).set(bearer(u.token)).send({ current_password: PASSWORD, password: 'letmein123' });
    expectError(res, 400, 'validation_error');
    expect(Object.keys(res.body.fields)).toEqual(['password']);
    expect((await t.http.get('/me').set(bearer(u.token))).status).toBe(200);
  });

  it("and to auth.users.setPassword (the CLI's user passwd)", async () => {
    const u = await registerUser(t);
    await expect(t.auth.users.setPassword(u.user.id, 'qwerty123')).rejects.toMatchObject({
      code: 'validation_error',
      fields: { password: expect.any(String) },
    });
    await expect(t.auth.users.setPassword(u.user.id, u.username)).rejects.toMatchObject({ code: 'validation_error' });
    await t.auth.users.setPassword(u.user.id, 'an acceptable passphrase');
  });

  it('and to auth.users.create', async () => {
    await expect(t.auth.users.create({ username: uniqueName('api'), email: `${uniqueName('e')}@example.com`, password: 'password1' })).rejects.toMatchObject({
      code: 'validation_error',
      fields: { password: expect.any(String) },
    });
  });

  it('options: minLength, maxLength, rejectCommon: false', async () => {
    const s = await opened.app({ passwordPolicy: { minLength: 12, maxLength: 20, rejectCommon: false } });
    expectError(await register(s, 'elevenchars'), 400, 'validation_error');
    expect((await register(s, 'twelve chars')).status).toBe(201);
    expectError(await register(s, 'x'.repeat(21)), 400, 'validation_error');
    expect((await register(s, 'password1234')).status).toBe(201);
  });

  it('misuse is a TypeError naming the option', () => {
    const base = { dbDsn: 'pglite://memory', jwtSecret: 'p'.repeat(32) };
    expect(() => new AuthManager(null, { ...base, passwordPolicy: { minLength: 0 } })).toThrow(/passwordPolicy\.minLength/);
    expect(() => new AuthManager(null, { ...base, passwordPolicy: { maxLength: 5000 } })).toThrow(/passwordPolicy\.maxLength/);
    expect(() => new AuthManager(null, { ...base, passwordPolicy: { rejectCommon: 'yes' as never } })).toThrow(/passwordPolicy\.rejectCommon/);
  });
});
