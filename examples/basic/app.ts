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
