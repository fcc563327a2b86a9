import { pathToFileURL } from 'node:url';
import bcrypt from 'bcryptjs';
import express from 'express';
import { expressjwt, type Request as JwtRequest } from 'express-jwt';
import jwt from 'jsonwebtoken';
import pg from 'pg';

/** What the app needs of its database: a pg.Pool fits (and so does PGlite). */
export interface Db {
  query(text: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

export async function createApp(db: Db, jwtSecret: string) {
  await db.query(`CREATE TABLE IF NOT EXISTS users (
    id serial PRIMARY KEY, username text NOT NULL UNIQUE, email text NOT NULL UNIQUE,
    password_hash text NOT NULL, role text NOT NULL DEFAULT 'user')`);

  // Verifies `Authorization: Bearer <jwt>` and puts the payload in req.auth.
  const requireJwt = expressjwt({ secret: jwtSecret, algorithms: ['HS256'] });
  const requireRole = (role: string) => (req: JwtRequest, res: express.Response, next: express.NextFunction) => {
    if (req.auth?.role !== role) return void res.status(403).json({ error: 'forbidden' });
    next();
  };

  const app = express();
  app.use(express.json());

  app.post('/auth/register', async (req, res, next) => {
    const { username, email, password } = req.body ?? {};
    if (typeof username !== 'string' || typeof email !== 'string' || typeof password !== 'string' || password.length < 8)
      return void res.status(400).json({ error: 'username, email and a password of 8+ characters are required' });
    try {
      const hash = await bcrypt.hash(password, 10);
      const { rows } = await db.query('INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) RETURNING id', [username, email, hash]);
      res.status(201).json({ id: rows[0].id, username });
    } catch (err: any) {
      if (err?.code === '23505') return void res.status(409).json({ error: 'username or email taken' });
      next(err);
    }
  });

  app.post('/auth/login', async (req, res, next) => {
    const { username, password } = req.body ?? {};
    try {
      const { rows } = await db.query('SELECT id, username, role, password_hash FROM users WHERE username = $1', [String(username)]);
      const user = rows[0];
      if (!user || typeof password !== 'string' || !(await bcrypt.compare(password, user.password_hash)))
        return void res.status(401).json({ error: 'invalid username or password' });
      const token = jwt.sign({ username: user.username, role: user.role }, jwtSecret, { subject: String(user.id), expiresIn: '1h', algorithm: 'HS256' });
      res.json({ token });
    } catch (err) {
      next(err);
    }
  });

  app.get('/public', (_req, res) => {
    res.json({ hello: 'anyone' });
  });

  app.get('/admin', requireJwt, requireRole('admin'), (req: JwtRequest, res) => {
    res.json({ hello: req.auth?.username });
  });

  // express-jwt reports a missing or bad token by throwing UnauthorizedError (status 401).
  app.use((err: any, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err?.name === 'UnauthorizedError') return void res.status(err.status).json({ error: err.message, code: err.code });
    next(err);
  });

  return app;
}

// `tsx before.ts` serves it on PORT (3000) with DATABASE_URL and JWT_SECRET.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await createApp(new pg.Pool({ connectionString: process.env.DATABASE_URL }), process.env.JWT_SECRET!);
  app.listen(Number(process.env.PORT ?? 3000));
}
