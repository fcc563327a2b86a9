import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequireAuthOptions } from '../src/index.js';
import { bearer, createTestApp, registerUser, type TestApp } from './helpers/app.js';

// A guard set up wrongly must fail at setup, never open the route or answer 500 at request time.
describe('requireAuth set-up', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it.each([
    [{ role: 'admin' }, /unknown option `role`; did you mean `roles/],
    [{ roles: 'admin' }, /`roles` must be an array of strings, e.g. \{ roles: \['admin'\] \}/],
    [{ scopes: 'reports:read' }, /`scopes` must be an array/],
    [{ roles: ['admin', 7] }, /`roles` must be an array of strings/],
    [{ optional: 'yes' }, /`optional` must be true or false/],
    ['admin', /write requireAuth\(\['admin'\]\)/],
    [null, /requireAuth\(options\)/],
  ])('rejects %j with a TypeError naming the fix', (options, message) => {
    expect(() => t.auth.requireAuth(options as unknown as RequireAuthOptions)).toThrow(TypeError);
    expect(() => t.auth.requireAuth(options as unknown as RequireAuthOptions)).toThrow(message);
  });

  it('rejects several arguments instead of reading only the first', () => {
    expect(() => (t.auth.requireAuth as unknown as (...a: string[]) => unknown)('admin', 'user')).toThrow(/takes one argument/);
  });

  it('passed uncalled, it guards like requireAuth(): 401 anonymous, 200 signed in, never 500', async () => {
    const app = express();
    app.get('/uncalled', t.auth.requireAuth, (req, res) => {
      res.json({ who: req.auth!.user.username });
    });
    const { requireAuth } = t.auth; // detached from the instance, as a callback would be
    app.get('/detached', requireAuth({ roles: ['user'] }), (_req, res) => {
      res.json({ ok: true });
    });
    const http = request(app);
    const anonymous = await http.get('/uncalled');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('unauthorized');

    const alice = await registerUser(t);
    const ok = await http.get('/uncalled').set(bearer(alice.token));
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ who: alice.username });
    expect((await http.get('/detached').set(bearer(alice.token))).status).toBe(200);
    expect((await http.get('/uncalled').set(bearer('garbage'))).body.code).toBe('invalid_token');
  });

  it('a correct object still guards the route (the checks did not loosen it)', async () => {
    const alice = await registerUser(t);
    expect((await t.http.get('/admin').set(bearer(alice.token))).status).toBe(403);
  });
});
