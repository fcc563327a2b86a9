import { randomBytes, randomUUID } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { bearer, PASSWORD } from './helpers/app.js';
import { dropSchema, TEST_DSN, uniqueSchema } from './helpers/database.js';
import { BASE, expectError, uniqueName } from './helpers/endpoints.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

// With the database unreachable, every admin endpoint answers 503 service_unavailable (never a
// 500, never a success it could not have written), and works again once the database is back.
// PostgreSQL only: the outage is a TCP proxy that stops forwarding.

describe.skipIf(!TEST_DSN)('admin endpoints during a database outage', () => {
  const schema = uniqueSchema('admout');
  let proxy: TcpProxy;
  let auth: AuthManager;
  let http: ReturnType<typeof request>;
  let token = '';
  let userId = '';

  beforeAll(async () => {
    proxy = await startTcpProxy();
    const app = express();
    auth = new AuthManager(app, { dbDsn: proxy.dsn(), dbSchema: schema, jwtSecret: randomBytes(48), bcryptRounds: 4, rateLimit: false });
    await auth.ready;
    const admin = await auth.users.create({ username: uniqueName('adm'), email: `${uniqueName()}@example.com`, password: PASSWORD, roles: ['admin'] });
    userId = (await auth.users.create({ username: uniqueName('usr') })).id;
    http = request(app);
    const login = await http.post(`${BASE}/login`).send({ username: admin.username, password: PASSWORD });
    token = login.body.token;
    // The admin's access JWT is accepted from memory during the outage; the endpoints need the database.
    expect((await http.get(`${BASE}/admin/users`).set(bearer(token))).status).toBe(200);
  });

  afterAll(async () => {
    await proxy?.restore().catch(() => undefined);
    await auth?.close();
    await proxy?.stop();
    await dropSchema(schema);
  });

  it('answers 503 on each, and 200 again after the outage', async () => {
    const asAdmin = bearer(token);
    const calls: Array<[string, () => request.Test]> = [
      ['GET /admin/users', () => http.get(`${BASE}/admin/users?search=usr`).set(asAdmin)],
      [
        'POST /admin/users',
        () =>
          http
            .post(`${BASE}/admin/users`)
            .set(asAdmin)
            .send({ username: uniqueName('new'), email: `${uniqueName()}@example.com` }),
      ],
      ['GET /admin/users/{id}', () => http.get(`${BASE}/admin/users/${userId}`).set(asAdmin)],
      ['PATCH /admin/users/{id}', () => http.patch(`${BASE}/admin/users/${userId}`).set(asAdmin).send({ real_name: 'x' })],
      ['DELETE /admin/users/{id}', () => http.delete(`${BASE}/admin/users/${randomUUID()}`).set(asAdmin)],
      ['POST /admin/users/{id}/logout-all', () => http.post(`${BASE}/admin/users/${userId}/logout-all`).set(asAdmin)],
      ['GET /admin/roles', () => http.get(`${BASE}/admin/roles`).set(asAdmin)],
      ['POST /admin/roles', () => http.post(`${BASE}/admin/roles`).set(asAdmin).send({ name: 'during' })],
      ['DELETE /admin/roles/{name}', () => http.delete(`${BASE}/admin/roles/during`).set(asAdmin)],
      ['GET /admin/events', () => http.get(`${BASE}/admin/events`).set(asAdmin)],
      ['POST /{user}/impersonate', () => http.post(`${BASE}/${userId}/impersonate`).set(asAdmin).send({})],
    ];
    await proxy.cut('refuse');
    try {
      for (const [name, call] of calls) {
        const res = await call();
        expect({ name, status: res.status }).toEqual({ name, status: 503 });
        expectError(res, 503, 'service_unavailable');
      }
    } finally {
      await proxy.restore();
    }
    expect((await http.get(`${BASE}/admin/users/${userId}`).set(asAdmin)).status).toBe(200);
    expect((await http.get(`${BASE}/admin/roles`).set(asAdmin)).body.map((r: { name: string }) => r.name)).not.toContain('during');
  });
});
