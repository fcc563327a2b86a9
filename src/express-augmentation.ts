import type { User as AuthUser } from './public-user.js';
import type { AuthContext } from './services/authenticator.js';

// Types `req.auth` and `req.user` for Express apps. It lives in a .ts file imported by index.ts
// (not a stand-alone .d.ts) so that the augmentation is carried into the published declarations.
// `user` is typed through Express.User, the same slot passport uses, so both can coexist.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends AuthUser {}
    interface Request {
      /** Set by `requireAuth` and the library's router when the caller is authenticated. */
      auth?: AuthContext;
      user?: User;
    }
  }
}

export {};
