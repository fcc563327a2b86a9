import { pathToFileURL } from 'node:url';
import bcrypt from 'bcryptjs';
import express from 'express';
import jwt from 'jsonwebtoken';
import passport from 'passport';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import { Strategy as LocalStrategy } from 'passport-local';
import pg from 'pg';

/** What the app needs of its database: a pg.Pool fits (and so does PGlite). */
export interface Db {
  query(text: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

/** The user as the app passes it around in req.user. */
interface AppUser {
  id: number;
  username: string;
  role: string;
}

export async function createApp(db: Db, jwtSecret: string) {
  await db.query(`CREATE TABLE IF NOT EXISTS users (
    id serial PRIMARY KEY, username text NOT NULL UNIQUE, email text NOT NULL UNIQUE,
    password_hash text NOT NULL, role text NOT NULL DEFAULT 'user')`);

  const auth = new passport.Passport();
  auth.use(
    new LocalStrategy(async (username, password, done) => {
      try {
        const { rows } = await db.query('SELECT id, username, role, password_hash FROM users WHERE username = $1', [username]);
        const row = rows[0];
        if (!row || !(await bcrypt.compare(password, row.password_hash))) return done(null, false);
        done(null, { id: row.id, username: row.username, role: row.role });
      } catch (err) {
        done(err);
      }
    }),
  );
  auth.use(
    new JwtStrategy({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: jwtSecret, algorithms: ['HS256'] }, (payload, done) =>
      done(null, { id: Number(payload.sub), username: payload.username, role: payload.role }),
    ),
  );
  const requireRole =
    (role: string): express.RequestHandler =>
    (req, res, next) => {
      if ((req.user as AppUser).role !== role) return void res.status(403).json({ error: 'forbidden' });
      next();
    };

  const app = express();
  app.use(express.json());
  app.use(auth.initialize());

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

  app.post('/auth/login', auth.authenticate('local', { session: false }), (req, res) => {
    const user = req.user as AppUser;
    const token = jwt.sign({ username: user.username, role: user.role }, jwtSecret, { subject: String(user.id), expiresIn: '1h', algorithm: 'HS256' });
    res.json({ token });
  });

  app.get('/public', (_req, res) => {
    res.json({ hello: 'anyone' });
  });

  app.get('/admin', auth.authenticate('jwt', { session: false }), requireRole('admin'), (req, res) => {
    res.json({ hello: (req.user as AppUser).username });
  });

  return app;
}

// `tsx before.ts` serves it on PORT (3000) with DATABASE_URL and JWT_SECRET.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await createApp(new pg.Pool({ connectionString: process.env.DATABASE_URL }), process.env.JWT_SECRET!);
  app.listen(Number(process.env.PORT ?? 3000));
}
