import { randomBytes, scrypt, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { AuthManager, type AuthManagerOptions, type PasswordHasher } from 'express-authlib';

const scryptAsync = (password: BinaryLike, salt: BinaryLike, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scrypt(password, salt, 64, options, (err, key) => (err ? reject(err) : resolve(key))));
const SCRYPT = { N: 16384, r: 16, p: 1, maxmem: 64 * 1024 * 1024 };

/**
 * Passwords as better-auth hashes them (`<salt hex>:<scrypt key hex>`, N=16384, r=16, p=1, 64 bytes,
 * NFKC), so its users' hashes keep working; new passwords get the same format.
 */
export const betterAuthHasher: PasswordHasher = {
  async hash(password) {
    const salt = randomBytes(16).toString('hex');
    return `${salt}:${(await scryptAsync(password.normalize('NFKC'), salt, SCRYPT)).toString('hex')}`;
  },
  async verify(password, stored) {
    const [salt, key, extra] = stored.split(':');
    if (!salt || !key || extra !== undefined || !/^[0-9a-f]{128}$/.test(key)) return false;
    return timingSafeEqual(await scryptAsync(password.normalize('NFKC'), salt, SCRYPT), Buffer.from(key, 'hex'));
  },
};

export function createApp(options: AuthManagerOptions) {
  const app = express();
  // POST /api/auth/register, /api/auth/login, /api/auth/token-refresh, /api/auth/logout, ...
  // Any order with the app's own express.json(): the router parses its own bodies.
  const auth = new AuthManager(app, { basePath: '/api/auth', hasher: betterAuthHasher, ...options });

  app.get('/public', (_req, res) => {
    res.json({ hello: 'anyone' });
  });

  app.get('/admin', auth.requireAuth({ roles: ['admin'] }), (req, res) => {
    res.json({ hello: req.auth!.user.real_name ?? req.auth!.user.username });
  });

  return { app, auth };
}

// `tsx after.ts` serves it on PORT (3000) with DATABASE_URL and JWT_SECRET.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { app, auth } = createApp({ dbDsn: process.env.DATABASE_URL!, jwtSecret: process.env.JWT_SECRET! });
  await auth.ready;
  app.listen(Number(process.env.PORT ?? 3000));
}
