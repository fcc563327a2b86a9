import { createServer, type Server } from 'node:http';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { hasChromium, launchChromium } from './helpers/chromium.js';
import { TEST_DSN, databaseOptions, dropSchema, rawQuery, uniqueSchema } from './helpers/database.js';

// Cookie mode's CSRF protection attacked from a real browser (Debian's Chromium): a page on another
// origin of the same site (127.0.0.1, another port: SameSite=Strict cookies still go along) tries
// every way a page can send the victim's refresh cookie without reading anything: form posts of
// each encoding, simple fetches, a preflighted fetch with a guessed token, a fetch with a forged
// origin header. None may rotate or end the victim's login.

const chromiumInstalled = hasChromium('cookie-csrf-browser');
const listen = async (app: express.Express): Promise<{ server: Server; origin: string }> => {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
};

// Only the browser's side is under test here, not the database: once, on the PGlite run (CI runs
// the suite on both).
describe.skipIf(!chromiumInstalled || TEST_DSN)('cookie mode against a cross-origin page in Chromium', () => {
  const schema = uniqueSchema('csrfb');
  let browser: Browser;
  let api: { server: Server; origin: string };
  let evil: { server: Server; origin: string };
  let auth: AuthManager;
  let page: Page;
  let csrf: string;
  let userId: string;
  let arrived = 0;

  beforeAll(async () => {
    browser = await launchChromium();
    const app = express();
    // Counts the requests that reach the API from the attacker's page with the victim's cookie: the
    // attacks must really arrive, cookie and all, for their refusal to mean anything.
    app.use((req, _res, next) => {
      if (req.headers.origin === evil?.origin && /authlib_refresh=/.test(req.headers.cookie ?? '')) arrived += 1;
      next();
    });
    // The API and its own front end share an origin; only it is allowed.
    app.get('/', (_req, res) => {
      res.type('html').send('<!doctype html><title>app</title>');
    });
    api = await listen(app);
    auth = new AuthManager(app, {
      ...(await databaseOptions()),
      dbSchema: schema,
      jwtSecret: 'c'.repeat(40),
      bcryptRounds: 4,
      rateLimit: false,
      logger: false,
      cookies: { secure: false, allowedOrigins: [api.origin] },
    });
    await auth.ready;

    const attacker = express();
    attacker.get('/', (_req, res) => {
      res.type('html').send('<!doctype html><title>evil</title><body></body>');
    });
    evil = await listen(attacker);

    // The victim signs in on the app's own page: the browser now holds the HttpOnly refresh cookie.
    page = await (await browser.newContext()).newPage();
    await page.goto(`${api.origin}/`);
    const signedUp = await page.evaluate(async () => {
      const res = await fetch('/api/v1/users/register', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        credentials: 'include',
        body: JSON.stringify({ username: 'victim', password: 'correct horse battery', email: 'victim@example.com', refresh_token_in: 'cookie' }),
      });
      return { status: res.status, body: (await res.json()) as { csrf_token?: string; refresh_token?: string; user: { id: string } } };
    });
    expect(signedUp.status).toBe(201);
    expect(signedUp.body.refresh_token).toBeUndefined();
    csrf = signedUp.body.csrf_token!;
    userId = signedUp.body.user.id;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const s of [api?.server, evil?.server]) {
      s?.closeAllConnections();
      await new Promise((resolve) => s?.close(resolve));
    }
    await auth?.close();
    await dropSchema(schema);
  });

  /** The victim's refresh tokens as the database has them: every rotation adds one, a logout revokes them. */
  const tokens = () =>
    rawQuery<{ n: number; live: number }>(
      `select count(*)::int as n, count(*) filter (where revoked_at is null and used_at is null)::int as live from "${schema}".refresh_tokens where user_id = $1`,
      [userId],
    ).then((r) => r[0]!);

  it('no form post, simple fetch or preflighted fetch from the other origin rotates or ends the login', async () => {
    const before = await tokens();
    expect(before.live).toBe(1);
    await page.goto(`${evil.origin}/`);
    const target = (path: string) => `${api.origin}/api/v1/users${path}`;
    for (const path of ['/token-refresh', '/logout']) {
      // Forms of every encoding, submitted into a frame (the attacker cannot read the answer, only cause it).
      for (const enctype of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']) {
        // (A string: the tests compile without the DOM library.)
        await page.evaluate(`new Promise((resolve) => {
          const frame = document.createElement('iframe');
          frame.name = 'f' + Math.random().toString(36).slice(2);
          frame.onload = () => resolve();
          document.body.append(frame);
          const form = document.createElement('form');
          form.method = 'POST';
          form.action = ${JSON.stringify(target(path))};
          form.enctype = ${JSON.stringify(enctype)};
          form.target = frame.name;
          const field = document.createElement('input');
          field.name = ${JSON.stringify(enctype === 'text/plain' ? '{"refresh_token_in":"cookie","x":"' : 'refresh_token_in')};
          field.value = ${JSON.stringify(enctype === 'text/plain' ? '"}' : 'cookie')};
          form.append(field);
          document.body.append(form);
          form.submit();
        })`);
      }
      // Simple requests (no preflight), with the cookie, and a body the server would otherwise parse.
      const simple = await page.evaluate(async (url) => {
        const outcomes: string[] = [];
        for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
          const res = await fetch(url, {
            method: 'POST',
            mode: 'no-cors',
            credentials: 'include',
            headers: { 'Content-Type': contentType },
            body: '{"refresh_token_in":"cookie"}',
          });
          outcomes.push(res.type);
        }
        // No body at all: nothing for the JSON-only body rule to refuse, so only the CSRF check stands between.
        const bare = await fetch(url, { method: 'POST', mode: 'no-cors', credentials: 'include' });
        outcomes.push(bare.type);
        return outcomes;
      }, target(path));
      expect(simple).toEqual(['opaque', 'opaque', 'opaque']);
      // A preflighted request with a guessed token: the API sends no CORS headers, so the browser never sends it.
      const preflighted = await page.evaluate(async (url) => {
        try {
          await fetch(url, {
            method: 'POST',
            credentials: 'include',
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'guessed' },
            body: JSON.stringify({ refresh_token_in: 'cookie' }),
          });
          return 'sent';
        } catch {
          return 'blocked';
        }
      }, target(path));
      expect(preflighted).toBe('blocked');
    }
    // Every form post and simple fetch arrived with the cookie (3 + 3 per path); nothing rotated, nothing revoked.
    expect(arrived).toBe(12);
    expect(await tokens()).toEqual(before);

    // The victim's own page still refreshes, once, with its token.
    await page.goto(`${api.origin}/`);
    const refreshed = await page.evaluate(async (token) => {
      const res = await fetch('/api/v1/users/token-refresh', {
        method: 'POST',
        credentials: 'include',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token },
        body: JSON.stringify({ refresh_token_in: 'cookie' }),
      });
      return res.status;
    }, csrf);
    expect(refreshed).toBe(200);
    expect((await tokens()).n).toBe(before.n + 1);
  }, 60_000);
});
