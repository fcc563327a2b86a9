import { randomBytes } from 'node:crypto';
import express from 'express';
import { AuthManager, type AuthManagerOptions } from 'express-authlib';

/**
 * The demo app: the authlib endpoints under /api/v1/users, one public route, one for any
 * signed-in user (access token or API token) and one for admins.
 */
export function createApp(options: AuthManagerOptions) {
  const app = express();
  const auth = new AuthManager(app, options);

  app.get('/', (_req, res) => {
    res.json({
      hello: 'world',
      try: [
        'POST /api/v1/users/register',
        'POST /api/v1/users/login',
        'POST /api/v1/users/request-password-reset',
        'POST /api/v1/users/request-otp',
        'GET /protected',
        'GET /admin',
      ],
    });
  });

  app.get('/protected', auth.requireAuth(), (req, res) => {
    res.json({ hello: req.auth!.user.username, roles: req.auth!.roles, via: req.auth!.method });
  });

  app.get('/admin', auth.requireAuth({ roles: ['admin'] }), (req, res) => {
    res.json({ admin: true, hello: req.auth!.user.username });
  });

  return { app, auth };
}

/** The demo's administrator account. */
export const DEMO_ADMIN = 'admin';

/**
 * Creates the demo's admin account on first start and returns its password, to be printed once;
 * undefined when it exists already. The embedded database admits one process, so the CLI cannot
 * grant a role while the demo runs: this is the demo's way to its first admin.
 */
export async function seedAdmin(auth: AuthManager, password = randomBytes(12).toString('base64url')): Promise<string | undefined> {
  if (await auth.users.findByIdentifier(DEMO_ADMIN)) return undefined;
  await auth.users.create({ username: DEMO_ADMIN, email: 'admin@example.com', password, roles: ['admin', 'user'] });
  return password;
}
