// Context `app`: an Express app with the library mounted, where most guides start. A block after
// `<!-- check: fragment app -->` is type-checked in place of the fragment comment below, at the top
// level of an ES module (so it may import more, and await).
import express from 'express';
import { AuthManager } from 'express-authlib';

const app = express();
const auth = new AuthManager(app, { dbDsn: process.env.DATABASE_URL ?? 'pglite://memory', jwtSecret: process.env.JWT_SECRET! });
await auth.ready;

/* fragment */

export { app, auth };
