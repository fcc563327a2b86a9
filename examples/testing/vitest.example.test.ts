// A host app's own tests with express-authlib/testing and vitest (run by this repository's suite).
import express from 'express';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestAuth, type TestAuth } from 'express-authlib/testing';
import { addRoutes } from './app.js';

describe('my app', () => {
  const app = express();
  let auth: TestAuth;

  beforeAll(async () => {
    auth = await createTestAuth(app, { tokenExpiry: 900 }); // mounts /api/v1/users on app
    addRoutes(app, auth);
  });
  afterEach(() => auth.reset()); // no user, token or clock shift leaks into the next test
  afterAll(() => auth.close());

  it('lets an admin see the stats', async () => {
    const { headers } = await auth.loginAs({ roles: ['admin'] });
    const res = await request(app).get('/admin/stats').set(headers);
    expect(res.status).toBe(200);
  });

  it('keeps other users out', async () => {
    const { headers } = await auth.loginAs({ roles: ['user'] });
    const res = await request(app).get('/admin/stats').set(headers);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden');
  });

  it('signs the reader out when the token expires', async () => {
    const { headers, user } = await auth.loginAs({ username: 'reader' });
    expect((await request(app).get('/articles').set(headers)).body.reader).toBe(user.username);
    auth.clock.advance(901);
    const res = await request(app).get('/articles').set(headers);
    expect(res.body.code).toBe('token_expired');
  });

  it('serves reports to an API token with the scope', async () => {
    const { headers } = await auth.apiTokenFor({ roles: ['user'] }, { scopes: ['reports:read'] });
    expect((await request(app).get('/reports').set(headers)).status).toBe(200);
  });
});
