import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as OTPAuth from 'otpauth';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../examples/basic/app.js';
import { hasChromium, launchChromium } from './helpers/chromium.js';
import { TEST_DSN, databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';
import { mailbox, type Mailbox } from './helpers/mailbox.js';

// The demo page of examples/basic in a real, headless Chromium (Debian's `chromium` package,
// driven through playwright-core; no browser is downloaded), in bearer mode and in cookie mode:
// the page's own forms and buttons, the client as the package builds it (dist/client.js), mail
// caught in memory for the reset token and the sign-in code, TOTP codes computed here.

const chromiumInstalled = hasChromium('examples-demo-browser');

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCREENSHOTS = join(tmpdir(), 'express-authlib-demo-screenshots');
const JWT_LIKE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

const USER = { username: 'alice', email: 'alice@example.com', password: 'correct horse battery' };
const NEW_PASSWORD = 'a new long passphrase';
const PHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';

function totp(secret: string, at: number): string {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });
}

// Only the browser's side is under test here, not the database: once, on the PGlite run (CI runs
// the suite on both).
describe.skipIf(!chromiumInstalled || TEST_DSN)('examples/basic demo page in Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    // The page loads dist/client.js; this builds it when missing or stale (as `npm start` does), else returns at once.
    execFileSync(process.execPath, [join(ROOT, 'scripts/demo-client.mjs')], { cwd: ROOT, stdio: 'inherit' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  describe.each(['bearer', 'cookie'] as const)('%s mode', (mode) => {
    const schema = uniqueSchema('exd');
    let mail: Mailbox;
    let server: Server;
    let demo: ReturnType<typeof createApp>;
    let base: string;
    let context: BrowserContext;
    let page: Page;
    const pageErrors: string[] = [];

    beforeAll(async () => {
      server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      mail = mailbox();
      demo = createApp({
        ...(await databaseOptions()),
        dbSchema: schema,
        jwtSecret: 'd'.repeat(40),
        bcryptRounds: 4,
        rateLimit: false,
        mailer: mail.mailer,
        ...(mode === 'cookie' ? { cookies: { secure: false, allowedOrigins: [base] } } : {}),
      });
      await demo.auth.ready;
      server.on('request', demo.app);
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(err.message));
      // A script or style the page's Content-Security-Policy blocked would be a broken page.
      page.on('console', (message) => {
        if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
      });
    });
    afterEach(async () => {
      expect(pageErrors).toEqual([]);
      // After every step, in both modes: no token of any kind where the page's scripts can read it.
      const readable = await readableByScripts();
      expect(readable.cookie).not.toContain('authlib_refresh');
      expect(readable.stored.filter((item) => JWT_LIKE.test(item.split('=').slice(1).join('=')))).toEqual([]);
      // Only the CSRF token and which login it is (user and session ids): neither is a credential.
      expect(readable.stored.filter((item) => !/^authlib:(csrf_token|login)=/.test(item))).toEqual([]);
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

    /** Loads (or reloads) the page and waits for its script to settle: signed in or out. */
    async function open(reload = false) {
      if (reload) await page.reload();
      else await page.goto(`${base}/`);
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 15_000 });
    }

    async function expectSignedIn(username: string) {
      await expect.poll(() => page.locator('#profile-username').textContent(), { timeout: 10_000 }).toBe(username);
      await visible(region('Profile')).toBe(true);
      expect(await region('Log in').isVisible()).toBe(false);
    }

    async function logIn(username: string, password: string) {
      const login = region('Log in');
      await login.getByLabel('Username or email').fill(username);
      await login.getByLabel('Password').fill(password);
      await login.getByRole('button', { name: 'Log in' }).click();
    }

    async function logOut() {
      await page.getByRole('button', { name: 'Log out', exact: true }).click();
      await visible(region('Log in')).toBe(true);
      await expect.poll(message).toBe('Signed out.');
    }

    /** The refresh cookie the browser holds for the demo, if any. */
    async function refreshCookie() {
      return (await context.cookies(`${base}/api/v1/users/token-refresh`)).find((c) => c.name === 'authlib_refresh');
    }

    /** Everything the page's scripts can read: its cookies and both storages (`key=value` each). */
    function readableByScripts(): Promise<{ cookie: string; stored: string[] }> {
      return page.evaluate(`(() => {
        const values = (s) => Array.from({ length: s.length }, (_, i) => s.key(i) + '=' + s.getItem(s.key(i)));
        return { cookie: document.cookie, stored: [...values(localStorage), ...values(sessionStorage)] };
      })()`);
    }

    it('registers, shows the profile, creates an API token shown once, revokes it, and logs out', async () => {
      await open();
      expect(await page.locator('#mode').textContent()).toContain(mode === 'cookie' ? 'Cookie mode' : 'Bearer mode');
      await visible(region('Register')).toBe(true);
      expect(await region('Profile').isVisible()).toBe(false);

      const register = region('Register');
      await register.getByLabel('Username').fill(USER.username);
      await register.getByLabel('Email').fill(USER.email);
      await register.getByLabel('Password').fill(USER.password);
      await register.getByRole('button', { name: 'Register' }).click();
      await expectSignedIn(USER.username);
      expect(await message()).toBe('Registered and signed in.');
      expect(await page.locator('#profile-email').textContent()).toBe(USER.email);
      expect(await page.locator('#profile-roles').textContent()).toBe('user');

      const tokens = region('API tokens');
      await tokens.getByLabel('Token name').fill('ci');
      await tokens.getByLabel('Scopes').fill('reports:read');
      await tokens.getByRole('button', { name: 'Create token' }).click();
      await expect.poll(() => page.locator('#new-token-value').textContent()).toMatch(/^api_\w+$/);
      const apiToken = (await page.locator('#new-token-value').textContent())!;
      const row = tokens.getByRole('row').filter({ hasText: 'reports:read' });
      await visible(row).toBe(true);
      expect(await row.textContent()).not.toContain(apiToken); // listed without its secret
      const viaToken = await fetch(`${base}/protected`, { headers: { 'X-API-Token': apiToken } });
      expect(await viaToken.json()).toMatchObject({ hello: USER.username, via: 'api_token' });

      await tokens.getByRole('button', { name: 'Revoke ci' }).click();
      await expect.poll(message).toBe('Token "ci" revoked.');
      expect(await row.count()).toBe(0);
      expect(await page.locator('#new-token').isVisible()).toBe(false);
      expect(await page.content()).not.toContain(apiToken); // shown once: gone from the page
      expect((await fetch(`${base}/protected`, { headers: { 'X-API-Token': apiToken } })).status).toBe(401);

      await logOut();
      expect(await page.locator('#profile-username').textContent()).toBe('');
      if (mode === 'cookie') expect(await refreshCookie()).toBeUndefined(); // logout cleared it
    }, 60_000);

    it('logs in, and the signed-in page renders (screenshot)', async () => {
      await logIn(USER.username, USER.password);
      await expectSignedIn(USER.username);
      for (const name of ['Profile', 'Where you are signed in', 'API tokens', 'Two-factor authentication']) await visible(region(name)).toBe(true);
      for (const name of ['Log out', 'Log out everywhere', 'Create token']) await visible(page.getByRole('button', { name, exact: true })).toBe(true);
      expect(await region('Register').isVisible()).toBe(false);

      const png = await page.screenshot({ fullPage: true });
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      expect(png.toString('latin1', 12, 16)).toBe('IHDR');
      expect(png.readUInt32BE(16)).toBe(1280); // width: the viewport
      expect(png.readUInt32BE(20)).toBeGreaterThanOrEqual(300);
      // A blank page compresses to a few kilobytes; a rendered one with text and forms does not.
      expect(png.length).toBeGreaterThan(20_000);
      expect(png.length).toBeLessThan(5_000_000);
      mkdirSync(SCREENSHOTS, { recursive: true });
      writeFileSync(join(SCREENSHOTS, `signed-in-${mode}.png`), png);
    }, 60_000);

    if (mode === 'cookie') {
      it('keeps the refresh token in an HttpOnly cookie no script can read, and a reload resumes the session from it', async () => {
        const cookie = await refreshCookie();
        expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
        expect(cookie!.value.length).toBeGreaterThan(40);
        const readable = await readableByScripts();
        expect(readable.cookie).not.toContain(cookie!.value);
        expect(readable.cookie).not.toContain('authlib_refresh');
        for (const item of readable.stored) {
          expect(item).not.toContain(cookie!.value);
          expect(item.split('=').slice(1).join('=')).not.toMatch(JWT_LIKE); // no token of any kind in storage
        }
        expect(readable.stored.some((item) => item.startsWith('authlib:csrf_token='))).toBe(true);

        const refreshed = page.waitForResponse((res) => res.url() === `${base}/api/v1/users/token-refresh`);
        await open(true);
        expect((await refreshed).status()).toBe(200);
        await expectSignedIn(USER.username);
        expect(await message()).toBe('Welcome back: the session was resumed from the cookie.');
        // The refresh rotated the cookie, still out of the scripts' reach.
        const rotated = await refreshCookie();
        expect(rotated!.value).not.toBe(cookie!.value);
        const after = await readableByScripts();
        expect([after.cookie, ...after.stored].join('\n')).not.toContain(rotated!.value);
      }, 60_000);
    } else {
      it('keeps every token in memory: no cookie, nothing in storage, and a reload signs out', async () => {
        expect(await context.cookies()).toEqual([]);
        expect(await readableByScripts()).toEqual({ cookie: '', stored: [] });
        await open(true);
        await visible(region('Log in')).toBe(true);
        expect(await region('Profile').isVisible()).toBe(false);
        expect(await message()).toBe(''); // signed out is no error
      }, 60_000);
    }

    it('lists where the account is signed in, this browser marked, and ends another session with its button', async () => {
      if (await region('Profile').isVisible()) await logOut();
      // A phone signs in too (through the API, with its own User-Agent), then this browser.
      const phone = await fetch(`${base}/api/v1/users/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'User-Agent': PHONE },
        body: JSON.stringify({ username: USER.username, password: USER.password }),
      }).then((res) => res.json() as Promise<{ token: string }>);
      expect((await fetch(`${base}/protected`, { headers: { Authorization: `Bearer ${phone.token}` } })).status).toBe(200);
      await logIn(USER.username, USER.password);
      await expectSignedIn(USER.username);

      const sessions = region('Where you are signed in');
      const phoneRow = sessions.getByRole('row').filter({ hasText: 'Safari on iOS' });
      await visible(phoneRow).toBe(true);
      // Headless Chromium on Linux, summarised; this one is marked and its button says so.
      const here = sessions.locator('tr[data-current="true"]');
      expect(await here.count()).toBe(1);
      expect(await here.textContent()).toContain('Chrome on Linux');
      await visible(sessions.getByRole('button', { name: 'End the session on Chrome on Linux (this device)' })).toBe(true);
      // The summary only: no User-Agent text on the page.
      expect(await sessions.textContent()).not.toMatch(/Mozilla|AppleWebKit|HeadlessChrome/);

      await sessions.getByRole('button', { name: 'End the session on Safari on iOS' }).click();
      await expect.poll(message).toBe('The session on Safari on iOS ended: it is signed out there.');
      expect(await phoneRow.count()).toBe(0);
      expect((await fetch(`${base}/protected`, { headers: { Authorization: `Bearer ${phone.token}` } })).status).toBe(401);
      // This browser is still signed in.
      expect(await region('Profile').isVisible()).toBe(true);
      expect(await here.count()).toBe(1);
    }, 60_000);

    it('resets the password with the mailed token, refuses the old password and accepts the new one', async () => {
      if (await region('Profile').isVisible()) await logOut();
      const reset = region('Forgot your password?');
      await reset.getByLabel('Email for the reset').fill(USER.email);
      await reset.getByRole('button', { name: 'Send me a reset token' }).click();
      const { token } = await mail.next('password_reset', USER.email);
      await expect.poll(message).toMatch(/reset token is on its way/);
      await reset.getByLabel('Reset token').fill(token!);
      await reset.getByLabel('New password').fill(NEW_PASSWORD);
      await reset.getByRole('button', { name: 'Set the new password' }).click();
      await expect.poll(message).toMatch(/^Password changed/);

      await logIn(USER.username, USER.password);
      await expect.poll(message).toMatch(/^invalid_credentials: /); // the typed error, code and message
      expect(await page.locator('#message').getAttribute('aria-live')).toBe('polite');
      expect(await region('Profile').isVisible()).toBe(false);
      await logIn(USER.username, NEW_PASSWORD);
      await expectSignedIn(USER.username);
      await logOut();
    }, 60_000);

    it('signs in with an emailed code', async () => {
      const otp = region('Sign in with an email code');
      await otp.getByLabel('Email for the code').fill(USER.email);
      await otp.getByRole('button', { name: 'Send me a code' }).click();
      const { code } = await mail.next('otp', USER.email);
      await visible(otp.getByLabel('Emailed code')).toBe(true);
      await otp.getByLabel('Emailed code').fill(code!);
      await otp.getByRole('button', { name: 'Sign in with the code' }).click();
      await expectSignedIn(USER.username);
      expect(await page.locator('#profile-verified').textContent()).toBe('yes');
    }, 60_000);

    it('sets up TOTP, and the next login asks for the second factor', async () => {
      const mfa = region('Two-factor authentication');
      await expect.poll(() => mfa.locator('#mfa-status').textContent()).toMatch(/^Off/);
      await mfa.getByLabel('Current password').fill(NEW_PASSWORD);
      await mfa.getByRole('button', { name: 'Set up an authenticator app' }).click();
      await expect.poll(() => page.locator('#totp-secret').textContent()).toMatch(/^[A-Z2-7]{16,}$/);
      const secret = (await page.locator('#totp-secret').textContent())!;
      expect(await page.locator('#totp-url').textContent()).toMatch(new RegExp(`^otpauth://totp/.+secret=${secret}`));
      await mfa.getByLabel('Code from the app').fill(totp(secret, Date.now()));
      await mfa.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => mfa.locator('#mfa-status').textContent()).toMatch(/^On/);
      expect(await page.locator('#backup-code-list li').count()).toBe(10);
      expect(await page.locator('#totp-secret').textContent()).toBe('');

      await logOut();
      expect(await page.locator('#backup-code-list li').count()).toBe(0); // shown once
      await logIn(USER.username, NEW_PASSWORD);
      await visible(region('Second factor')).toBe(true);
      await expect.poll(message).toMatch(/^mfa_required: /);
      expect(await region('Profile').isVisible()).toBe(false);
      // The next 30-second step: one step of skew is allowed, and the code used to confirm cannot be replayed.
      await region('Second factor')
        .getByLabel('Second factor code')
        .fill(totp(secret, Date.now() + 30_000));
      await region('Second factor').getByRole('button', { name: 'Verify' }).click();
      await expectSignedIn(USER.username);
      expect(await message()).toBe('Signed in with two factors.');
      expect(await region('Second factor').isVisible()).toBe(false);
    }, 60_000);

    it('logs out everywhere, and a reload stays signed out', async () => {
      await page.getByRole('button', { name: 'Log out everywhere' }).click();
      await visible(region('Log in')).toBe(true);
      await expect.poll(message).toMatch(/^Signed out everywhere/);
      await open(true);
      await visible(region('Log in')).toBe(true);
      expect(await region('Profile').isVisible()).toBe(false);
      expect(await message()).toBe('');
    }, 60_000);
  });
});
