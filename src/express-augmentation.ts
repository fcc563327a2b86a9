import type { AuthContext } from './services/authenticator.js';

// Types `req.auth` and `req.user` for Express apps. It lives in a .ts file imported by index.ts
// (not a stand-alone .d.ts) so that the augmentation is carried into the published declarations.
//
// `req.user` is typed as Express.User, the slot passport uses too, and the library adds nothing to
// Express.User: an app with a user type of its own (a passport session user) keeps it. An app that
// wants `req.user.username` typed says so with `interface User extends AuthUser {}` (docs/guide/roles-and-guards.md). Inside
// this block no imported name may share a name with Express's own (User, Request): the declaration
// bundler flattens import aliases, so `AuthUser` here would become Express.User itself (TS2310).
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User {}
    interface Request {
      /** Set by `requireAuth` and the library's router when the caller is authenticated; `req.auth.user` is the library's user. */
      auth?: AuthContext | undefined;
      /**
       * `req.auth.user`, typed as your app's Express.User (see docs/guide/roles-and-guards.md to type it as the library's `User`).
       * Spelled exactly as @types/passport spells it: with exactOptionalPropertyTypes, `user?: User`
       * and `user?: User | undefined` are different types, and the two declarations would clash.
       */
      user?: User | undefined;
    }
  }
}

export {};
