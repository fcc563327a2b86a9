// Context `auth`: the library without an app, as a script, a job or a test uses its programmatic API
// (`auth.users`, `auth.groups`, `auth.verifyToken` ...), and one user, `alice`. A block after
// `<!-- check: fragment auth -->` is type-checked in place of the fragment comment below, at the top
// level of an ES module (so it may import more, and await).
import { AuthManager } from 'express-authlib';

const auth = new AuthManager(null, { dbDsn: process.env.DATABASE_URL ?? 'pglite://memory', jwtSecret: process.env.JWT_SECRET! });
await auth.ready;
const alice = await auth.users.create({ username: 'alice', email: 'alice@example.com', password: 'correct horse battery' });

/* fragment */

await auth.close();
export { auth, alice };
