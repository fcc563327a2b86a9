import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createApp, DEMO_ADMIN, seedAdmin } from '../examples/basic/app.js';
import { databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';

// The demo app from examples/basic, driven the way its start-up banner tells a person to.
describe('examples/basic', () => {
  const schema = uniqueSchema('ex');
  let demo: ReturnType<typeof createApp>;

  beforeAll(async () => {
    demo = createApp({ ...(await databaseOptions()), dbSchema: schema, jwtSecret: 'x'.repeat(40), bcryptRounds: 4, rateLimit: false });
    await demo.auth.ready;
  });
  afterAll(async () => {
    await demo.auth.close();
    await dropSchema(schema);
  });

  it('registers, logs in, reaches the protected route with an access token and an API token, and is kept out of /admin', async () => {
    const http = request(demo.app);
    expect((await http.get('/')).status).toBe(200);
    expect((await http.get('/protected')).status).toBe(401);

    const credentials = { username: 'alice', password: 'correct horse battery' };
    expect((await http.post('/api/v1/users/register').send({ ...credentials, email: 'alice@example.com' })).status).toBe(201);
    const login = await http.post('/api/v1/users/login').send(credentials);
    expect(login.status).toBe(200);
    const auth = { Authorization: `Bearer ${login.body.token}` };

    const viaJwt = await http.get('/protected').set(auth);
    expect(viaJwt.body).toEqual({ hello: 'alice', roles: ['user'], via: 'jwt' });

    const created = await http.post('/api/v1/users/me/api-tokens').set(auth).send({ name: 'cli', scopes: ['reports:read'] });
    expect(created.status).toBe(201);
    const viaApi = await http.get('/protected').set('X-API-Token', created.body.token);
    expect(viaApi.body.via).toBe('api_token');

    expect((await http.get('/admin').set(auth)).body.code).toBe('forbidden');
  });

  it('seeds its first admin once, with a password to print, and the admin reaches /admin', async () => {
    const http = request(demo.app);
    const password = await seedAdmin(demo.auth);
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(await seedAdmin(demo.auth)).toBeUndefined(); // never a second admin, nor a new password
    const login = await http.post('/api/v1/users/login').send({ username: DEMO_ADMIN, password });
    expect(login.status).toBe(200);
    const admin = await http.get('/admin').set({ Authorization: `Bearer ${login.body.token}` });
    expect(admin.status).toBe(200);
    expect(admin.body).toEqual({ admin: true, hello: DEMO_ADMIN });
  });
});
