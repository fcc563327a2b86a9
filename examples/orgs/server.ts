// The multi-tenant example on the embedded database: `npx tsx examples/orgs/server.ts`.
import { randomBytes } from 'node:crypto';
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3001);
const { app, auth } = createApp({
  dbDsn: process.env.AUTHLIB_DB_DSN ?? 'pglite://./.authlib-orgs',
  jwtSecret: process.env.JWT_SECRET ?? randomBytes(48).toString('base64url'),
});
await auth.ready;
app.listen(port, () => {
  console.log(`orgs example on http://localhost:${port}
  1. POST /api/v1/users/register {username, password, email}  -> token
  2. POST /api/v1/users/groups {name: "Acme"}                    (you become its admin)
  3. POST /orgs/acme/projects {name: "Website"}                  with Authorization: Bearer <token>
  4. GET  /orgs/acme/projects
  5. POST /api/v1/users/groups/acme/invitations {username: "bob", roles: ["editor"]}   (invite a colleague)
  6. as bob: GET /api/v1/users/me/invitations, then POST /api/v1/users/me/invitations/<id>/accept`);
});
