import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as OTPAuth from 'otpauth';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../examples/basic/app.js';
import { auditRows } from './helpers/audit.js';
import { hasChromium, launchChromium } from './helpers/chromium.js';
import { TEST_DSN, databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';
import { addVirtualAuthenticator, type VirtualAuthenticator } from './helpers/virtual-authenticator.js';

// The demo page's passkey buttons (examples/basic) in Debian's Chromium with a CDP virtual
// authenticator, in bearer and cookie mode: "Add a passkey", "Sign in with a passkey" (alone, and
// as the second factor after a password), and removing one. The page is served on
// http://localhost:<port>, the origin the demo configures for passkeys.

const chromiumInstalled = hasChromium('examples-demo-passkeys-browser');
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const USER = { username: 'carol', email: 'carol@example.com', password: 'correct horse battery' };

// Only the browser's side is under test here, not the database: once, on the PGlite run (CI runs
// the suite on both).
describe.skipIf(!chromiumInstalled || TEST_DSN)('examples/basic demo page: passkeys', () => {
  let browser: Browser;

  beforeAll(async () => {
    execFileSync(process.execPath, [join(ROOT, 'scripts/demo-client.mjs')], { cwd: ROOT, stdio: 'inherit' });
    browser = await launchChromium();
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
  });

  describe.each(['bearer', 'cookie'] as const)('%s mode', (mode) => {
    const schema = uniqueSchema('exp');
    let server: Server;
    let demo: ReturnType<typeof createApp>;
    let base: string;
    let context: BrowserContext;
    let page: Page;
    let authenticator: VirtualAuthenticator;
    let userId: string;
    const pageErrors: string[] = [];

    beforeAll(async () => {
      server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://localhost:${(server.address() as { port: number }).port}`;
      demo = createApp({
        ...(await databaseOptions()),
        dbSchema: schema,
        jwtSecret: 'd'.repeat(40),
        bcryptRounds: 4,
        rateLimit: false,
        webauthn: { rpId: 'localhost', rpName: 'express-authlib demo', origins: [base] },
        ...(mode === 'cookie' ? { cookies: { secure: false, allowedOrigins: [base] } } : {}),
      });
      await demo.auth.ready;
      server.on('request', demo.app);
      // An account whose address the app vouches for: what adding a passkey needs.
      userId = (await demo.auth.users.create({ ...USER, email_verified: true })).id;
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(err.message));
      page.on('console', (message) => {
        if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
      });
      authenticator = await addVirtualAuthenticator(context, page);
    });
    afterEach(() => {
      expect(pageErrors).toEqual([]);
    });
    afterAll(async () => {
      await context?.close();
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
      await demo?.auth.close();
      await dropSchema(schema);
    });

    const region = (name: string) => page.getByRole('region', { name, exact: true });
    const message = () => page.locator('#message').textContent();
    const visible = (locator: Locator) => expect.poll(() => locator.isVisible(), { timeout: 10_000 });

    async function expectSignedIn() {
      await expect.poll(() => page.locator('#profile-username').textContent(), { timeout: 10_000 }).toBe(USER.username);
      await visible(region('Profile')).toBe(true);
    }
    async function logIn() {
      const login = region('Log in');
      await login.getByLabel('Username or email').fill(USER.username);
      await login.getByLabel('Password').fill(USER.password);
      await login.getByRole('button', { name: 'Log in' }).click();
    }
    async function logOut() {
      await page.getByRole('button', { name: 'Log out', exact: true }).click();
      await visible(region('Log in')).toBe(true);
    }

    it('"Add a passkey" makes one in the authenticator and lists it', async () => {
      await page.goto(`${base}/`);
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 15_000 });
      await visible(region('Passkey')).toBe(true);
      await logIn();
      await expectSignedIn();
      const passkeys = region('Passkeys');
      await visible(passkeys).toBe(true);
      expect(await page.locator('#no-passkeys').isVisible()).toBe(true);
      await passkeys.getByLabel('Passkey name').fill('Laptop');
      await passkeys.getByRole('button', { name: 'Add a passkey' }).click();
      await expect.poll(message, { timeout: 10_000 }).toBe('Passkey "Laptop" added: you can sign in with it now.');
      await visible(passkeys.getByRole('row').filter({ hasText: 'Laptop' })).toBe(true);
      expect(await page.locator('#no-passkeys').isVisible()).toBe(false);
      expect(await authenticator.credentials()).toHaveLength(1);
    }, 60_000);

    it('"Sign in with a passkey" signs in without a username or password', async () => {
      await logOut();
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await expectSignedIn();
      expect(await message()).toBe('Signed in with a passkey.');
      expect(await auditRows(schema, { type: 'passkey_login', userId })).toHaveLength(1);
    }, 60_000);

    it('the same button finishes a password sign-in that asks for a second factor', async () => {
      const mfa = region('Two-factor authentication');
      await mfa.getByLabel('Current password').fill(USER.password);
      await mfa.getByRole('button', { name: 'Set up an authenticator app' }).click();
      await expect.poll(() => page.locator('#totp-secret').textContent()).toMatch(/^[A-Z2-7]{16,}$/);
      const secret = (await page.locator('#totp-secret').textContent())!;
      await mfa.getByLabel('Code from the app').fill(new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate());
      await mfa.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => mfa.locator('#mfa-status').textContent()).toMatch(/^On/);

      await logOut();
      await logIn();
      await visible(region('Second factor')).toBe(true);
      await expect.poll(message).toMatch(/^mfa_required: /);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await expectSignedIn();
      expect(await message()).toBe('Signed in with two factors.');
      const [second] = (await auditRows(schema, { type: 'login_success', userId })).filter((e) => e.data.method === 'mfa:passkey');
      expect(second).toBeDefined();
    }, 60_000);

    it('"Remove" takes it off the account: the browser still holds it, but it signs in no more', async () => {
      const passkeys = region('Passkeys');
      await passkeys.getByRole('button', { name: 'Remove passkey Laptop' }).click();
      // This page signed in with that passkey (its second factor): the login ends with it.
      await expect.poll(message).toBe('Passkey "Laptop" removed. It opened this sign-in, which has ended with it.');
      await visible(region('Log in')).toBe(true);
      await logIn();
      await visible(region('Second factor')).toBe(true);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await expect.poll(message).toMatch(/^invalid_credentials: /);
      expect(await region('Profile').isVisible()).toBe(false);
      expect(await authenticator.credentials()).toHaveLength(1);
    }, 60_000);
  });
});
