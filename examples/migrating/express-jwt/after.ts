import { pathToFileURL } from 'node:url';
import express from 'express';
import { AuthManager, type AuthManagerOptions } from 'express-authlib';

export function createApp(options: AuthManagerOptions) {
  const app = express();
  // Mounts POST /auth/register, /auth/login, /auth/token-refresh, /auth/logout and the rest under basePath.
  const auth = new AuthManager(app, { basePath: '/auth', ...options });

  app.get('/public', (_req, res) => {
    res.json({ hello: 'anyone' });
  });

  app.get('/admin', auth.requireAuth({ roles: ['admin'] }), (req, res) => {
    res.json({ hello: req.auth!.user.username });
  });

  return { app, auth };
}

// `tsx after.ts` serves it on PORT (3000) with DATABASE_URL and JWT_SECRET.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { app, auth } = createApp({ dbDsn: process.env.DATABASE_URL!, jwtSecret: process.env.JWT_SECRET! });
  await auth.ready;
  app.listen(Number(process.env.PORT ?? 3000));
}
