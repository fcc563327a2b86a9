import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerUser, type TestApp } from './helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('smoke', () => {
  it('registers, logs in, reaches a protected route', async () => {
    const u = await registerUser(t);
    const login = await t.http.post('/api/v1/users/login').send({ username: u.username, password: u.password });
    expect(login.status).toBe(200);
    const me = await t.http.get('/me').set(bearer(login.body.token));
    expect(me.status).toBe(200);
    expect(me.body.username).toBe(u.username);
    const refreshed = await t.http.post('/api/v1/users/token-refresh').send({ refresh_token: login.body.refresh_token });
    expect(refreshed.status).toBe(200);
    const tok = await t.http.post('/api/v1/users/me/api-tokens').set(bearer(login.body.token)).send({ name: 'ci', scopes: ['reports:read'] });
    expect(tok.status).toBe(201);
    const rep = await t.http.get('/reports').set('X-API-Token', tok.body.token);
    expect(rep.status).toBe(200);
  });
});
