import { randomBytes } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { afterEach } from 'vitest';
import { AuthManager, type AuthManagerOptions } from '../../src/index.js';
import { databaseOptions } from './database.js';
import { giveBackSchema, schemaReady, takeSchema } from './schema-pool.js';

export const PASSWORD = 'correct horse battery staple';

export interface TestApp {
  app: express.Express;
  auth: AuthManager;
  schema: string;
  secret: string;
  http: ReturnType<typeof request>;
  close(): Promise<void>;
}

/**
 * An Express app with an AuthManager on the test database, in a schema of its own (a new one, or
 * one an earlier app of this worker gave back, emptied: see schema-pool.ts), with a public
 * route, a route for any signed-in user and an admin-only one. Cheap bcrypt and no rate limits
 * unless a test asks for them.
 */
export async function createTestApp(overrides: Partial<AuthManagerOptions> = {}): Promise<TestApp> {
  const schema = await takeSchema();
  const secret = randomBytes(48).toString('base64url');
  const app = express();
  const auth = new AuthManager(app, await deploymentOptions({ schema, secret }, overrides));
  await auth.ready;
  await schemaReady(schema);
  app.get('/public', (_req, res) => res.json({ ok: true }));
  app.get('/me', auth.requireAuth(), (req, res) => res.json({ username: req.auth!.user.username, method: req.auth!.method }));
  app.get('/admin', auth.requireAuth({ roles: ['admin'] }), (_req, res) => res.json({ admin: true }));
  app.get('/reports', auth.requireAuth({ scopes: ['reports:read'] }), (_req, res) => res.json({ reports: [] }));
  return {
    app,
    auth,
    schema,
    secret,
    http: request(app),
    async close() {
      await auth.close();
      giveBackSchema(schema);
    },
  };
}

/**
 * The options of an instance of a deployment (one schema, one secret) on the test database: what
 * `createTestApp` uses, and what a test passes to start another instance of the same deployment.
 */
export async function deploymentOptions(
  deployment: Pick<TestApp, 'schema' | 'secret'>,
  overrides: Partial<AuthManagerOptions> = {},
): Promise<AuthManagerOptions> {
  return {
    ...(await databaseOptions()),
    dbSchema: deployment.schema,
    jwtSecret: deployment.secret,
    bcryptRounds: 4,
    rateLimit: false,
    logger: false,
    ...overrides,
  };
}

/**
 * For tests that open apps (or anything else closable) inside `it`: everything opened through
 * `app` or handed to `track` is closed after each test, newest first, even when the test failed.
 */
export function closedAfterEach() {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  return {
    track: (close: () => Promise<void>): void => {
      cleanup.push(close);
    },
    app: async (overrides: Partial<AuthManagerOptions> = {}): Promise<TestApp> => {
      const t = await createTestApp(overrides);
      cleanup.push(() => t.close());
      return t;
    },
  };
}

let counter = 0;

/** Registers a fresh user over HTTP and returns what the endpoint answered plus the password. */
export async function registerUser(t: TestApp, fields: { username?: string; email?: string; password?: string } = {}) {
  counter += 1;
  const username = fields.username ?? `user${counter}_${randomBytes(3).toString('hex')}`;
  const password = fields.password ?? PASSWORD;
  const res = await t.http.post('/api/v1/users/register').send({ username, password, email: fields.email ?? `${username}@example.com` });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...(res.body as { user: { id: string; username: string; roles: string[] }; token: string; refresh_token: string }), password, username };
}

/**
 * A registered user whose address an administrator then marked verified (as if the user had
 * proven it): what linking a provider or enrolling TOTP needs (contract 5.3, "Ownership").
 */
export async function verifiedUser(t: TestApp, fields: { username?: string; email?: string; password?: string } = {}) {
  const u = await registerUser(t, fields);
  const user = await t.auth.users.update(u.user.id, { email_verified: true });
  return { ...u, user: { ...u.user, ...user } };
}

/** Authorization header for a bearer token. */
export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
