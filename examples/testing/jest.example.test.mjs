// A host app's own tests with express-authlib/testing and jest. Not run by this repository's suite
// (which uses vitest: see vitest.example.test.ts for the same calls); checked by hand with jest 30
// on Node 20. ESM, because jest's CommonJS runtime cannot require() the ESM-only openid-client
// before Node 24.9. In your project:
//   npm install -D jest supertest
//   NODE_OPTIONS=--experimental-vm-modules npx jest
/* global describe, it, expect, beforeAll, afterAll, afterEach */
import express from 'express';
import request from 'supertest';
import { createTestAuth } from 'express-authlib/testing';

// Your app, built around the AuthManager it is given.
function addRoutes(app, auth) {
  app.get('/admin/stats', auth.requireAuth({ roles: ['admin'] }), (_req, res) => res.json({ users: 'many' }));
  app.get('/articles', auth.requireAuth(), (req, res) => res.json({ reader: req.auth.user.username }));
  return app;
}

describe('my app', () => {
  const app = express();
  let auth;

  beforeAll(async () => {
    auth = await createTestAuth(app, { tokenExpiry: 900 });
    addRoutes(app, auth);
  }, 30_000); // the first instance boots the in-memory PGlite: seconds, over jest's 5 s default
  afterEach(() => auth.reset());
  afterAll(() => auth.close()); // the last instance closes the in-memory database: jest exits by itself

  it('lets an admin see the stats', async () => {
    const { headers } = await auth.loginAs({ roles: ['admin'] });
    await request(app).get('/admin/stats').set(headers).expect(200);
  });

  it('keeps other users out', async () => {
    const { headers } = await auth.loginAs();
    const res = await request(app).get('/admin/stats').set(headers);
    expect(res.body.code).toBe('forbidden');
  });

  it('signs the reader out when the token expires', async () => {
    const { headers } = await auth.loginAs();
    auth.clock.advance(901);
    const res = await request(app).get('/articles').set(headers);
    expect(res.body.code).toBe('token_expired');
  });
});
