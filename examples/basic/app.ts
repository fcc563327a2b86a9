import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import express from 'express';
import { AuthManager, type AuthManagerOptions } from 'express-authlib';

/** The demo page: plain HTML, CSS and one script module, served as they are. */
const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
/** express-authlib/client as the package ships it (`npm run build`; `npm start` builds it when missing). */
const CLIENT_FILE = fileURLToPath(new URL('../../dist/client.js', import.meta.url));

/** The page runs only its own files and talks only to this server; its forms are never submitted by the browser itself. */
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
};

/**
 * The demo app: the authlib endpoints under /api/v1/users, one public route, one for any
 * signed-in user (access token or API token) and one for admins, and a demo page at `/` for
 * browsers (JSON for everyone else). The page's mode follows the options: cookie mode when
 * `cookies` is set, bearer mode otherwise.
 */
export function createApp(options: AuthManagerOptions) {
  const app = express();
  const auth = new AuthManager(app, options);
  const demoConfig = { mode: options.cookies ? 'cookie' : 'bearer', base_path: options.basePath ?? '/api/v1/users', passkeys: options.webauthn !== undefined };

  app.get('/', (req, res) => {
    res.vary('Accept');
    if (req.accepts(['json', 'html']) === 'html') {
      res.sendFile('index.html', { root: PUBLIC_DIR, headers: PAGE_HEADERS });
      return;
    }
    res.json({
      hello: 'world',
      page: 'open this URL in a browser for the demo page',
      try: [
        'POST /api/v1/users/register',
        'POST /api/v1/users/login',
        'POST /api/v1/users/request-password-reset',
        'POST /api/v1/users/request-otp',
        'GET /protected',
        'GET /admin',
      ],
    });
  });

  app.get('/demo-config.json', (_req, res) => {
    res.json(demoConfig);
  });

  // The client as the package ships it: dist/client.js and the shared chunks it imports
  // (`./chunk-XXXX.js`, which the browser resolves next to it, at the root).
  app.get(/^\/(client|chunk-[A-Za-z0-9_-]+)\.js(\.map)?$/, (req, res) => {
    const file = join(dirname(CLIENT_FILE), req.path.slice(1));
    if (!existsSync(file)) {
      res.status(503).type('text').send('The demo page needs the built client: run `npm run build` (`npm start` does it when it is missing).');
      return;
    }
    res.sendFile(file, { headers: { ...PAGE_HEADERS, 'Cache-Control': 'no-cache' } });
  });

  app.use(express.static(PUBLIC_DIR, { index: false, setHeaders: (res) => res.set(PAGE_HEADERS) }));

  app.get('/protected', auth.requireAuth(), (req, res) => {
    res.json({ hello: req.auth!.user.username, roles: req.auth!.roles, via: req.auth!.method });
  });

  app.get('/admin', auth.requireAuth({ roles: ['admin'] }), (req, res) => {
    res.json({ admin: true, hello: req.auth!.user.username });
  });

  return { app, auth };
}

/** The demo's administrator account. */
export const DEMO_ADMIN = 'admin';

/**
 * Creates the demo's admin account on first start and returns its password, to be printed once;
 * undefined when it exists already. The embedded database admits one process, so the CLI cannot
 * grant a role while the demo runs: this is the demo's way to its first admin.
 */
export async function seedAdmin(auth: AuthManager, password = randomBytes(12).toString('base64url')): Promise<string | undefined> {
  if (await auth.users.findByIdentifier(DEMO_ADMIN)) return undefined;
  await auth.users.create({ username: DEMO_ADMIN, email: 'admin@example.com', password, roles: ['admin', 'user'] });
  return password;
}
