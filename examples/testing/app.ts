import type express from 'express';
import type { AuthManager } from 'express-authlib';

/**
 * A host app that takes its AuthManager from outside: production passes
 * `new AuthManager(app, { dbDsn, jwtSecret })`, tests pass `await createTestAuth(app)`.
 */
export function addRoutes(app: express.Express, auth: AuthManager): express.Express {
  app.get('/articles', auth.requireAuth(), (req, res) => {
    res.json({ articles: [], reader: req.auth!.user.username });
  });
  app.get('/admin/stats', auth.requireAuth({ roles: ['admin'] }), (_req, res) => {
    res.json({ users: 'many' });
  });
  app.get('/reports', auth.requireAuth({ scopes: ['reports:read'] }), (_req, res) => {
    res.json({ reports: [] });
  });
  return app;
}
