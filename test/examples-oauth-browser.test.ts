import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOAuthApp } from '../examples/oauth/app.js';
import { hasChromium, launchChromium } from './helpers/chromium.js';
import { TEST_DSN, databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';
import { passProvider, startOidcServer, type OidcServer } from './helpers/oidc-server.js';

// examples/oauth's sign-in page in a real, headless Chromium (Debian's `chromium` package, driven
// through playwright-core; no browser is downloaded), against the local OpenID Connect provider:
// real cookies, real redirects, the real fragment handling of /done.

const chromiumInstalled = hasChromium('examples-oauth-browser');

// Only the browser's side is under test here, not the database: once, on the PGlite run (CI runs
// the suite on both).
describe.skipIf(!chromiumInstalled || TEST_DSN)('examples/oauth in Chromium against a real OIDC provider', () => {
  const schema = uniqueSchema('exb');
  let server: Server;
  let oidc: OidcServer;
  let demo: ReturnType<typeof createOAuthApp>;
  let browser: Browser;
  let publicUrl: string;

  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    publicUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    oidc = await startOidcServer({ callbackURLs: [`${publicUrl}/api/v1/users/login/oauth2callback`] });
    demo = createOAuthApp({
      ...(await databaseOptions()),
      dbSchema: schema,
      jwtSecret: 'f'.repeat(40),
      rateLimit: false,
      publicUrl,
      oauthConfig: { corp: { issuer: oidc.issuer, clientId: oidc.clientId, clientSecret: oidc.clientSecret } },
    });
    await demo.auth.ready;
    server.on('request', demo.app);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await demo?.auth.close();
    await oidc?.stop();
    await dropSchema(schema);
  });

  it('a click on "Sign in with corp" goes to the provider and back, and /done shows the signed-in user', async () => {
    oidc.nextAccount = oidc.makeAccount({ preferred_username: 'browser_user' });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${publicUrl}/`);
      await page.click('text=Sign in with corp');
      await page.waitForURL(`${publicUrl}/done`, { timeout: 20_000 });
      await page.waitForFunction("(document.getElementById('out')?.textContent ?? '').length > 0", undefined, { timeout: 10_000 });
      const me = JSON.parse((await page.textContent('#out'))!) as { user: { username: string; email: string; email_verified: boolean }; linked: string[] };
      expect(me.user).toMatchObject({ username: 'browser_user', email: oidc.nextAccount.email, email_verified: true });
      expect(me.linked).toEqual(['corp']);
      // The tokens were taken out of the address bar, and the binding cookie is HttpOnly.
      expect(page.url()).toBe(`${publicUrl}/done`);
      expect(await page.evaluate('document.cookie')).not.toContain('authlib_oauth');
    } finally {
      await context.close();
    }
  }, 60_000);

  it("login CSRF: the attacker's callback URL opened in the victim's browser signs nobody in", async () => {
    oidc.nextAccount = oidc.makeAccount();
    // The attacker, with his own HTTP client, begins a flow and passes the provider, but keeps the callback URL.
    const start = await fetch(`${publicUrl}/api/v1/users/login/oauth/corp`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const callbackUrl = await passProvider(start.headers.get('location')!);
    expect(callbackUrl.href.startsWith(`${publicUrl}/api/v1/users/login/oauth2callback?`)).toBe(true);
    // The victim's browser is made to open it.
    const victim = await browser.newContext();
    try {
      const page = await victim.newPage();
      const response = await page.goto(callbackUrl.href);
      expect(response?.status()).toBe(400);
      expect(JSON.parse((await page.textContent('body')) ?? '{}')).toMatchObject({ code: 'invalid_state' });
    } finally {
      await victim.close();
    }
  }, 60_000);
});
