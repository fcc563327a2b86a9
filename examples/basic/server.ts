import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { generateSecret } from 'express-authlib';
import { createApp, DEMO_ADMIN, seedAdmin } from './app.js';
import { consoleMailer } from './console-mailer.js';

// The examples, unlike the library, read the environment.
const port = Number(process.env.PORT ?? 3000);
const dataDir = process.env.AUTHLIB_DEMO_DIR ?? '.authlib';
// The demo page's mode: 'bearer' (tokens in JSON bodies, the default) or 'cookie' (the refresh token in an HttpOnly cookie).
const mode = process.env.AUTH_MODE ?? 'bearer';
if (mode !== 'bearer' && mode !== 'cookie') {
  console.error(`AUTH_MODE must be 'bearer' or 'cookie', not '${mode}'`);
  process.exit(2);
}

/** A signing secret kept beside the demo database, so tokens survive a restart. Use JWT_SECRET in production. */
function demoSecret(): string {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'demo-jwt-secret');
  if (!existsSync(file)) writeFileSync(file, generateSecret(), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

const { app, auth } = createApp({
  dbDsn: `pglite://${join(dataDir, 'db')}`,
  jwtSecret: demoSecret(),
  // DEVELOPMENT ONLY: prints reset links and sign-in codes here instead of mailing them.
  mailer: process.env.SMTP_URL ?? consoleMailer(),
  // Passkeys: a browser makes them for a domain name, never an IP address, so they work on
  // http://localhost:<port> (a secure context without https), not on http://127.0.0.1:<port>.
  webauthn: { rpId: 'localhost', rpName: 'express-authlib demo', origins: [`http://localhost:${port}`] },
  // Cookie mode for the page, on plain http: `secure: false` is for development on this machine only.
  ...(mode === 'cookie' ? { cookies: { secure: false, allowedOrigins: [`http://127.0.0.1:${port}`, `http://localhost:${port}`] } } : {}),
});

try {
  await auth.ready;
} catch {
  process.exit(1); // the library's default logger has said why on stderr
}

// The first admin: created on the first start, its password shown this once (or DEMO_ADMIN_PASSWORD).
const adminPassword = await seedAdmin(auth, process.env.DEMO_ADMIN_PASSWORD || undefined);
// In this repository the CLI runs from source (`npm run cli --`); an installed package has `npx authlib`.
const cli = `npm run cli -- --dsn pglite://${join(dataDir, 'db')}`;
const adminNote = adminPassword
  ? `Admin account created (shown only now): username ${DEMO_ADMIN}, password ${adminPassword}`
  : `Admin account: ${DEMO_ADMIN} (its password was printed at the first start; to reset it, stop the demo and run
  ${cli} user passwd ${DEMO_ADMIN})`;

const server = app.listen(port, '127.0.0.1', () => {
  const base = `http://127.0.0.1:${port}`;
  console.log(`express-authlib demo on ${base} (embedded PGlite in ${dataDir}/db)

Open ${base}/ in a browser for the demo page (${mode} mode${mode === 'bearer' ? '; AUTH_MODE=cookie npm start for cookie mode' : ''}):
register, log in, API tokens, password reset, email codes and two-factor sign-in.
Passkeys work at http://localhost:${port}/ (a passkey is made for a domain name, not for 127.0.0.1).

Or try it with curl:
  curl -s -X POST ${base}/api/v1/users/register -H 'Content-Type: application/json' \\
       -d '{"username":"alice","password":"correct horse battery","email":"alice@example.com"}'
  TOKEN=$(curl -s -X POST ${base}/api/v1/users/login -H 'Content-Type: application/json' \\
       -d '{"username":"alice","password":"correct horse battery"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')
  curl -s ${base}/protected -H "Authorization: Bearer $TOKEN"
  API=$(curl -s -X POST ${base}/api/v1/users/me/api-tokens -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{"name":"cli","scopes":["reports:read"]}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')
  curl -s ${base}/protected -H "X-API-Token: $API"
  curl -s ${base}/admin -H "Authorization: Bearer $TOKEN"     # 403: alice is not an admin

${adminNote}
  ADMIN=$(curl -s -X POST ${base}/api/v1/users/login -H 'Content-Type: application/json' \\
       -d '{"username":"${DEMO_ADMIN}","password":"${adminPassword ?? '<admin password>'}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')
  curl -s ${base}/admin -H "Authorization: Bearer $ADMIN"     # 200

To make alice an admin: stop the demo (the embedded database admits one process), then
  ${cli} user roles alice --add admin

Password reset and email sign-in (the development mailer prints the mail below; set SMTP_URL to send it):
  curl -s -X POST ${base}/api/v1/users/request-password-reset -H 'Content-Type: application/json' -d '{"email":"alice@example.com"}'
  curl -s -X POST ${base}/api/v1/users/confirm-password-reset -H 'Content-Type: application/json' \\
       -d '{"token":"<token from the mail>","password":"a new long passphrase"}'
  curl -s -X POST ${base}/api/v1/users/request-otp -H 'Content-Type: application/json' -d '{"email":"alice@example.com"}'
  curl -s -X POST ${base}/api/v1/users/login/otp -H 'Content-Type: application/json' \\
       -d '{"otp_id":"<otp_id from the answer>","code":"<code from the mail>"}'
`);
});

async function shutdown() {
  server.close();
  await auth.close();
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
