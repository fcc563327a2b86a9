// Context `req`: the body of an async Express route handler behind `auth.requireAuth()`, with `req`,
// `res` and `next` in scope (and `app`, `auth`). A block after `<!-- check: fragment req -->` is
// type-checked in place of the fragment comment below: statements, no imports.
/* eslint-disable @typescript-eslint/no-unused-vars -- the fragment uses them */
import express from 'express';
import { AuthManager } from 'express-authlib';

const app = express();
const auth = new AuthManager(app, { dbDsn: process.env.DATABASE_URL ?? 'pglite://memory', jwtSecret: process.env.JWT_SECRET! });

app.get('/example', auth.requireAuth(), async (req, res, next) => {
  /* fragment */
});

export { app, auth };
