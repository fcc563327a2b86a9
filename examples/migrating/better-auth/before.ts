import { pathToFileURL } from 'node:url';
import { betterAuth, type BetterAuthOptions } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { fromNodeHeaders, toNodeHandler } from 'better-auth/node';
import { admin } from 'better-auth/plugins';
import express from 'express';
import pg from 'pg';

export function createApp(database: BetterAuthOptions['database'], secret: string, baseURL = 'http://localhost:3000') {
  const auth = betterAuth({
    database,
    secret,
    baseURL,
    emailAndPassword: { enabled: true },
    // Adds user.role ('user' unless set), which the /admin route checks.
    plugins: [admin()],
  });

  const app = express();
  // POST /api/auth/sign-up/email, /api/auth/sign-in/email, /api/auth/sign-out, ...; before express.json(),
  // since better-auth reads its own bodies.
  app.all('/api/auth/{*any}', toNodeHandler(auth));
  app.use(express.json());

  app.get('/public', (_req, res) => {
    res.json({ hello: 'anyone' });
  });

  app.get('/admin', async (req, res, next) => {
    try {
      const session = await auth.api.getSession({ headers: fromNodeHeaders(req.headers) });
      if (!session) return void res.status(401).json({ error: 'unauthorized' });
      if (session.user.role !== 'admin') return void res.status(403).json({ error: 'forbidden' });
      res.json({ hello: session.user.name });
    } catch (err) {
      next(err);
    }
  });

  return { app, auth };
}

// `tsx before.ts` serves it on PORT (3000) with DATABASE_URL and BETTER_AUTH_SECRET.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.env.PORT ?? 3000);
  const { app, auth } = createApp(new pg.Pool({ connectionString: process.env.DATABASE_URL }), process.env.BETTER_AUTH_SECRET!, `http://localhost:${port}`);
  await (await getMigrations(auth.options)).runMigrations(); // its tables, as `npx @better-auth/cli migrate` makes them
  app.listen(port);
}
