import { execFileSync } from 'node:child_process';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { hasChromium, hostFlags, launchChromium } from './helpers/chromium.js';
import { TEST_DSN, databaseOptions, dropSchema, rawQuery, uniqueSchema } from './helpers/database.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { authorizeAt } from './helpers/oauth-browser.js';
import { testCertificate } from './helpers/test-certificate.js';

// The browser credentials of cookie mode, the OAuth binding cookie and express-authlib/client,
// attacked in Debian's Chromium with real host names: the app on app.example.test, an attacker
// on the sibling host evil.example.test (same site: SameSite cookies flow, and it may set
// `Domain=example.test` cookies) and on an unrelated site, elsewhere.test. Over https (a
// certificate made at test time, trusted by its key) and over plain http. Every test plays an
// attack that worked before: a planted binding cookie (login CSRF, link CSRF), a shadowed refresh
// cookie, a refresh cookie redeemed from a body, a peer tab's token adopted by another user's tab,
// tokens sent to the landing page by another site.

const chromiumInstalled = hasChromium('browser-credentials-attacks');
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOSTS = ['app.example.test', 'evil.example.test', 'elsewhere.test'];
const BASE = '/api/v1/users';
const PASSWORD = 'correct horse battery';

/** The app's page: the built client, a flow's completion from the fragment, and restore() on start. */
const LANDING = `<!doctype html><title>app</title><script type="module">
const [, , mode, kept] = location.pathname.split('/');
const lib = await import('/client.js');
window.lib = lib;
window.client = lib.createAuthClient({ baseUrl: location.origin, mode, storage: kept === 'local' ? localStorage : sessionStorage });
if (location.hash.length > 1) {
  try { window.client.completeOAuth(location.hash); window.completed = 'ok'; } catch (e) { window.completed = e.code ?? String(e); window.completedText = String(e.message) + JSON.stringify(e.body ?? null); }
  history.replaceState(null, '', location.pathname);
}
const restore = () => (window.client.restore ? window.client.restore() : window.client.profile().catch(() => null));
window.restored = await restore().then((u) => (u ? u.username : null), (e) => 'error:' + (e.code ?? e));
window.ready = true;
</script>`;

// Once, on the PGlite run, like the other browser suites: what is attacked here is the browser's
// side (cookies, storage, tabs); the server side of each (refresh rotation and its races, CSRF,
// binding cookies) is tested over HTTP on both databases.
describe.skipIf(!chromiumInstalled || TEST_DSN)('browser credentials against a sibling host, another tab and another site (Chromium)', () => {
  const cert = testCertificate(HOSTS);
  let browser: Browser;

  beforeAll(async () => {
    // The page loads dist/client.js; this builds it when missing or stale, else returns at once.
    execFileSync(process.execPath, [join(ROOT, 'scripts/demo-client.mjs')], { cwd: ROOT, stdio: 'inherit' });
    browser = await launchChromium(hostFlags(HOSTS, cert.spki));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  describe.each(['https', 'http'] as const)('over %s', (scheme) => {
    const secure = scheme === 'https';
    const schema = uniqueSchema('bca');
    const servers: Server[] = [];
    let github: FakeGitHub;
    let auth: AuthManager;
    let APP: string;
    let EVIL: string;
    let ELSEWHERE: string;
    /** What reached the sibling host: its requests' paths and Cookie headers. */
    const atEvil: Array<{ path: string; cookie: string }> = [];
    /** `/token-refresh` requests that reached the app. */
    let refreshes = 0;
    // Cookie names as the server sets them: `__Host-` over https, bare over http.
    const refreshName = secure ? '__Host-authlib_refresh' : 'authlib_refresh';

    async function listen(handler?: RequestListener): Promise<{ server: Server; port: number }> {
      const server = secure ? createHttpsServer({ cert: cert.cert, key: cert.key }) : createHttpServer();
      if (handler) server.on('request', handler);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.push(server);
      return { server, port: (server.address() as { port: number }).port };
    }

    beforeAll(async () => {
      const app = express();
      const appServer = await listen();
      APP = `${scheme}://app.example.test:${appServer.port}`;
      github = await startFakeGitHub({ callbackURL: `${APP}${BASE}/login/oauth2callback` });
      app.use((req, _res, next) => {
        if (req.path === `${BASE}/token-refresh`) refreshes += 1;
        next();
      });
      app.get(/^\/landing\/(bearer|cookie)\/(local|session)$/, (_req, res) => {
        res.type('html').send(LANDING);
      });
      app.use(express.static(join(ROOT, 'dist'), { index: false }));
      auth = new AuthManager(app, {
        ...(await databaseOptions()),
        dbSchema: schema,
        jwtSecret: 'b'.repeat(48),
        bcryptRounds: 4,
        rateLimit: false,
        logger: false,
        publicUrl: APP,
        allowedRedirects: [APP],
        cookies: { allowedOrigins: [APP], secure },
        oauthConfig: { github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls } },
      });
      await auth.ready;
      appServer.server.on('request', app);

      // The sibling host: plants whatever cookies it likes (`/plant?c=<Set-Cookie>&c=...`), and logs what it receives.
      const evil = await listen((req, res) => {
        const url = new URL(req.url ?? '/', 'http://x');
        atEvil.push({ path: url.pathname, cookie: req.headers.cookie ?? '' });
        if (url.pathname === '/plant') res.setHeader('Set-Cookie', url.searchParams.getAll('c'));
        res.setHeader('Content-Type', 'text/html');
        res.end('<!doctype html><title>evil</title>');
      });
      EVIL = `${scheme}://evil.example.test:${evil.port}`;
      const elsewhere = await listen((_req, res) => {
        res.setHeader('Content-Type', 'text/html');
        res.end('<!doctype html><title>elsewhere</title>');
      });
      ELSEWHERE = `${scheme}://elsewhere.test:${elsewhere.port}`;
    }, 60_000);

    afterAll(async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
      await github?.stop();
      await auth?.close();
      await dropSchema(schema);
    });

    /** The attributes a sibling host gives the cookies it plants: for the whole site, on a path longer than `/`. */
    const siteWide = (path: string) => `Domain=example.test; Path=${path}${secure ? '; Secure; SameSite=None' : ''}`;

    async function plant(page: Page, cookies: string[]): Promise<void> {
      const query = new URLSearchParams(cookies.map((c): [string, string] => ['c', c]));
      await page.goto(`${EVIL}/plant?${query.toString()}`);
    }

    async function landing(page: Page, mode: 'bearer' | 'cookie', kept: 'local' | 'session', hash = ''): Promise<void> {
      await page.goto(`${APP}/landing/${mode}/${kept}${hash}`);
      await page.waitForFunction('window.ready === true');
    }

    /** In the page: `await client.<call>` as a string of code, its result or the error's code. */
    const run = (page: Page, code: string) =>
      page.evaluate<unknown>(`(async () => { try { return await (${code}); } catch (e) { return 'error:' + (e.code ?? String(e)); } })()`);

    const loginIdOf = (token: string) => {
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; sid: string };
      return `${claims.sub} ${claims.sid}`;
    };

    let n = 0;
    /** A new account, registered through the page's client in a fresh browser; answers its username and access token. */
    async function account(context: BrowserContext): Promise<{ username: string; token: string; page: Page }> {
      const page = await context.newPage();
      await landing(page, 'bearer', 'session');
      const username = `u${scheme}${++n}${Date.now() % 100000}`;
      await run(page, `client.register({ username: '${username}', password: '${PASSWORD}', email: '${username}@example.com' })`);
      // Linking a provider needs a verified address (contract 5.3, "Ownership"): this account has proven its own.
      const found = await auth.users.findByIdentifier(username);
      await auth.users.update(found!.id, { email_verified: true });
      return { username, token: (await run(page, 'client.store.getAccessToken()')) as string, page };
    }

    /**
     * The attacker, in his own browser, begins a flow (a sign-in, or linking to his account with
     * `linkToken`) and keeps his binding cookie; unless `authorize: false`, he passes the provider
     * himself and keeps the callback URL it sends him back to, without opening it.
     */
    async function attackerFlow(opts: { linkToken?: string; refreshIn?: 'cookie'; authorize?: boolean } = {}) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await landing(page, 'bearer', 'session');
      const { redirect_url } = (await run(page, beginCode(opts))) as { redirect_url: string };
      expect(redirect_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/login\/oauth\/authorize\?/);
      const binding = (await context.cookies()).find((c) => c.domain === 'app.example.test' && /authlib_oauth$/.test(c.name))!;
      await context.close();
      const callbackUrl = opts.authorize === false ? '' : (await authorizeAt(redirect_url)).callbackUrl.href;
      return { redirectUrl: redirect_url, callbackUrl, binding: binding.value, bindingName: binding.name };
    }

    /** In a page of the app: begins a sign-in (or a linking with `linkToken`) by POST, answering `{redirect_url}`. */
    function beginCode(opts: { linkToken?: string; refreshIn?: 'cookie' }): string {
      return opts.linkToken
        ? `fetch('${BASE}/me/identities/github', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ${opts.linkToken}' }, body: JSON.stringify({ redirect_to: '${APP}/landing/bearer/session' }) }).then((r) => r.json())`
        : `fetch('${BASE}/login/oauth', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ provider: 'github', redirect_to: '${APP}/landing/${opts.refreshIn ?? 'bearer'}/session'${opts.refreshIn ? ", refresh_token_in: 'cookie'" : ''} }) }).then((r) => r.json())`;
    }

    /** Every spelling a sibling host may try for a binding cookie of `value`: both prefixes, the bare name, a nameless cookie. */
    const plantedBindings = (value: string) => {
      const path = `${BASE}/login/oauth2callback`;
      return [
        `__Host-authlib_oauth=${value}; ${siteWide(path)}`,
        `__Secure-authlib_oauth=${value}; ${siteWide(path)}`,
        `authlib_oauth=${value}; ${siteWide(path)}`,
        `=__Host-authlib_oauth=${value}; ${siteWide(path)}`,
        `=authlib_oauth=${value}; ${siteWide(path)}`,
      ];
    };

    /** A victim's browser that began a sign-in of its own (its binding cookie is set, the flow not finished). */
    async function victimWithOwnFlow(context: BrowserContext): Promise<Page> {
      const page = await context.newPage();
      await landing(page, 'bearer', 'session');
      await run(page, beginCode({}));
      expect((await context.cookies()).some((c) => c.domain === 'app.example.test' && /authlib_oauth$/.test(c.name))).toBe(true);
      return page;
    }

    /** Opens `url` in the victim's page; answers the status and JSON body of an error, or where the browser ended up. */
    async function visit(page: Page, url: string): Promise<{ status: number | undefined; code?: string; url: string }> {
      const res = await page.goto(url).catch(() => null);
      const text = await page.evaluate('document.body ? document.body.innerText : ""').catch(() => '');
      let code: string | undefined;
      try {
        code = (JSON.parse(String(text)) as { code?: string }).code;
      } catch {
        code = undefined;
      }
      return { status: res?.status(), code, url: page.url() };
    }

    const identitiesOf = async (token: string) =>
      (await (await fetchApp(`${BASE}/me/identities`, { headers: { Authorization: `Bearer ${token}` } })).json()) as Array<{ provider: string }>;

    /** The attacker's own requests to the app, from this machine (no browser): status and JSON body. */
    function fetchApp(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
      const url = new URL(`${APP}${path}`);
      const options = { method: init.method ?? 'GET', headers: { ...init.headers, Host: url.host }, host: '127.0.0.1', port: url.port, path: url.pathname };
      return new Promise((resolve, reject) => {
        const done = (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode })));
        };
        const req = secure ? httpsRequest({ ...options, ca: cert.cert, servername: url.hostname }, done) : httpRequest(options, done);
        req.on('error', reject);
        req.end(init.body);
      });
    }

    if (secure) {
      it('login CSRF: a binding cookie tossed from the sibling host, under any name, signs the victim in as nobody (bearer and cookie delivery)', async () => {
        for (const refreshIn of [undefined, 'cookie'] as const) {
          github.nextUser = github.makeUser();
          const attacker = await attackerFlow({ refreshIn });
          const context = await browser.newContext();
          const page = await context.newPage();
          await plant(page, plantedBindings(attacker.binding));
          // The browser refuses `__Host-` with a Domain, and the nameless `__Host-` spelling; what it keeps has other names.
          expect((await context.cookies(APP)).map((c) => c.name)).not.toContain('__Host-authlib_oauth');
          const result = await visit(page, attacker.callbackUrl);
          expect(result).toMatchObject({ status: 400, code: 'invalid_state' });
          expect(result.url).not.toContain('#token');
          expect((await context.cookies()).filter((c) => c.name.includes('authlib_refresh'))).toEqual([]);
          expect(attacker.bindingName).toBe('__Host-authlib_oauth');
          await context.close();
        }
      }, 60_000);

      it('link CSRF: the sibling host tosses in the binding of the attacker’s linking flow; the victim’s GitHub is not linked to the attacker', async () => {
        const attackerContext = await browser.newContext();
        const attacker = await account(attackerContext);
        const flow = await attackerFlow({ linkToken: attacker.token, authorize: false });
        const context = await browser.newContext();
        const page = await context.newPage();
        await plant(page, plantedBindings(flow.binding));
        // The victim, signed in at the provider, passes its authorize page: it sends the victim's code back to the app.
        github.nextUser = github.makeUser();
        const result = await visit(page, flow.redirectUrl);
        expect(result).toMatchObject({ status: 400, code: 'invalid_state' });
        expect(await identitiesOf(attacker.token)).toEqual([]);
        await context.close();
        await attackerContext.close();
      }, 60_000);
    }

    it('a victim holding its own binding cookie: a second one tossed in (longer path, either order) is 400 duplicate_cookie, never the attacker’s flow', async () => {
      github.nextUser = github.makeUser();
      const attacker = await attackerFlow();
      const context = await browser.newContext();
      const page = await victimWithOwnFlow(context);
      await plant(page, plantedBindings(attacker.binding));
      const result = await visit(page, attacker.callbackUrl);
      // Over https the planted ones have other names than ours (the browser refused ours): no binding matches.
      // Over http a sibling can plant the very name: two of one name are refused.
      expect(result).toMatchObject(secure ? { status: 400, code: 'invalid_state' } : { status: 400, code: 'duplicate_cookie' });
      expect(result.url).not.toContain('#token');
      await context.close();
    }, 60_000);

    it('link CSRF against a victim who holds its own binding cookie: refused, nothing linked', async () => {
      const attackerContext = await browser.newContext();
      const attacker = await account(attackerContext);
      const flow = await attackerFlow({ linkToken: attacker.token, authorize: false });
      const context = await browser.newContext();
      const page = await victimWithOwnFlow(context);
      await plant(page, plantedBindings(flow.binding));
      github.nextUser = github.makeUser();
      const result = await visit(page, flow.redirectUrl);
      expect(result.status).toBe(400);
      expect(result.code).toBe(secure ? 'invalid_state' : 'duplicate_cookie');
      expect(await identitiesOf(attacker.token)).toEqual([]);
      await context.close();
      await attackerContext.close();
    }, 60_000);

    it('a refresh cookie shadowed from the sibling host (junk, before and after sign-in) neither signs the victim out nor is used', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const junk = (path: string) => [
        `__Host-authlib_refresh=junk; ${siteWide(path)}`,
        `authlib_refresh=junk; ${siteWide(path)}`,
        `=__Host-authlib_refresh=junk; ${siteWide(path)}`,
      ];
      await plant(page, junk(`${BASE}/token-refresh`));
      await landing(page, 'cookie', 'local');
      const username = `shadow${scheme}${Date.now() % 100000}`;
      await run(page, `client.register({ username: '${username}', password: '${PASSWORD}', email: '${username}@example.com' })`);
      await plant(page, [...junk(`${BASE}/token-refresh`), ...junk(`${BASE}/`)]);
      await landing(page, 'cookie', 'local');
      if (secure) {
        // The junk has other names than `__Host-authlib_refresh`: the reload restores the session.
        expect(await page.evaluate('window.restored')).toBe(username);
      } else {
        // Over http the sibling can plant the very name: the request is refused, the junk is never used, the login lives.
        expect(await page.evaluate('window.restored')).toBe('error:duplicate_cookie');
        const [row] = await rawQuery<{ live: number }>(
          `SELECT count(*)::int AS live FROM "${schema}".refresh_tokens r JOIN "${schema}".users u ON u.id = r.user_id WHERE u.username = $1 AND r.revoked_at IS NULL AND r.used_at IS NULL`,
          [username],
        );
        expect(row!.live).toBe(1);
        // Once the planted cookie is gone (it expires, or the user clears it), the same login goes on.
        await context.clearCookies({ domain: '.example.test' });
        await landing(page, 'cookie', 'local');
        expect(await page.evaluate('window.restored')).toBe(username);
      }
      await context.close();
    }, 60_000);

    it('the refresh cookie never reaches the sibling host, and its value redeemed from a body (no Origin, no CSRF token) opens nothing', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await landing(page, 'cookie', 'local');
      const username = `img${scheme}${Date.now() % 100000}`;
      await run(page, `client.register({ username: '${username}', password: '${PASSWORD}', email: '${username}@example.com' })`);
      const cookie = (await context.cookies()).find((c) => c.domain === 'app.example.test' && c.name.endsWith('authlib_refresh'))!;
      atEvil.length = 0;
      await page.evaluate(
        `new Promise((resolve) => { const img = new Image(); img.onload = img.onerror = resolve; img.src = '${EVIL}${BASE}/token-refresh'; })`,
      );
      expect(atEvil.map((r) => r.path)).toEqual([`${BASE}/token-refresh`]);
      expect(atEvil[0]!.cookie).not.toContain('authlib_refresh');
      expect(atEvil[0]!.cookie).not.toContain(cookie.value);
      // Had a host obtained the value anyway: it is no refresh token in a body.
      for (const path of ['/token-refresh', '/logout']) {
        const res = await fetchApp(`${BASE}${path}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ refresh_token: cookie.value }),
        });
        expect(res.status).toBe(401);
      }
      // Host-only, `__Host-` over https: no sibling host receives it, none can set one in its place.
      expect(cookie).toMatchObject({ name: refreshName, httpOnly: true, path: '/', domain: 'app.example.test', sameSite: 'Strict', secure });
      // The victim's own page still refreshes with it.
      expect(await run(page, 'client.refresh().then(() => "refreshed")')).toBe('refreshed');
      // A Domain for the cookie (which would send it to every sibling host) is refused at construction.
      expect(
        () =>
          new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(48), cookies: { allowedOrigins: [APP], domain: 'example.test' } as never }),
      ).toThrow(/cookies\.domain/);
      await context.close();
    }, 60_000);

    it('two tabs of two users (each its own sessionStorage): one tab’s refresh never makes the other tab that user', async () => {
      const context = await browser.newContext();
      const alice = await account(context);
      const bob = await account(context);
      const bobLogin = loginIdOf(bob.token);
      const refreshed = (await run(alice.page, 'client.refresh()')) as string;
      expect(loginIdOf(refreshed)).toBe(loginIdOf(alice.token));
      await bob.page.waitForTimeout(300);
      const bobNow = (await run(bob.page, 'client.store.getAccessToken()')) as string;
      expect(loginIdOf(bobNow)).toBe(bobLogin);
      // The API token bob creates is bob's.
      const created = (await run(bob.page, "client.apiTokens.create({ name: 'mine' })")) as { token: string };
      const me = (await (await fetchApp(`${BASE}/login/profile`, { headers: { 'X-API-Token': created.token } })).json()) as { user?: { username: string } };
      expect(me.user?.username).toBe(bob.username);
      // Alice's sign-out is not bob's either.
      await run(alice.page, 'client.logout()');
      await bob.page.waitForTimeout(300);
      expect(await run(bob.page, 'client.store.getAccessToken()')).toBe(bobNow);
      await context.close();
    }, 60_000);

    it('two tabs of one user in cookie mode share one refresh: concurrent refreshes rotate once, and both hold the new token', async () => {
      const context = await browser.newContext();
      const tabA = await context.newPage();
      await landing(tabA, 'cookie', 'local');
      const username = `tabs${scheme}${Date.now() % 100000}`;
      await run(tabA, `client.register({ username: '${username}', password: '${PASSWORD}', email: '${username}@example.com' })`);
      const tabB = await context.newPage();
      await landing(tabB, 'cookie', 'local');
      expect(await tabB.evaluate('window.restored')).toBe(username);
      const before = refreshes;
      if (secure) {
        // Web Locks (secure contexts only): two refreshes begun at the same instant take turns; the second takes the first's token.
        const [a, b] = await Promise.all([run(tabA, 'client.refresh()'), run(tabB, 'client.refresh()')]);
        expect(a).toBe(b);
        await tabB.waitForFunction(`window.client.store.getAccessToken() === ${JSON.stringify(a)}`);
      } else {
        // Over plain http there are no Web Locks: the channel still hands one tab's refresh to the other.
        const a = await run(tabA, 'client.refresh()');
        await tabB.waitForFunction(`window.client.store.getAccessToken() === ${JSON.stringify(a)}`);
        expect(await run(tabB, 'client.profile().then((u) => u.username)')).toBe(username);
      }
      expect(refreshes - before).toBe(1);
      await context.close();
    }, 60_000);

    it('a tab signed out because another user signed in in another tab (shared localStorage and cookie) never becomes that user on its next call', async () => {
      const context = await browser.newContext();
      const tabA = await context.newPage();
      await landing(tabA, 'cookie', 'local');
      const alice = `sa${scheme}${Date.now() % 100000}`;
      await run(tabA, `client.register({ username: '${alice}', password: '${PASSWORD}', email: '${alice}@example.com' })`);
      const aliceLogin = await tabA.evaluate<string | null>("localStorage.getItem('authlib:login')");
      expect(aliceLogin).toBeTruthy();
      const tabC = await context.newPage();
      await landing(tabC, 'cookie', 'local');
      const bob = `sb${scheme}${Date.now() % 100000}`;
      await run(tabC, `client.register({ username: '${bob}', password: '${PASSWORD}', email: '${bob}@example.com' })`);
      // Chromium hands tab C's localStorage writes to tab A's renderer a moment later: until then,
      // tab A still reads alice's CSRF token beside bob's cookie, and its refresh is refused as
      // csrf_failed (also never bob). The case here is the one after, as a user switching tabs meets it.
      await tabA.waitForFunction(`![${JSON.stringify(aliceLogin)}, null].includes(localStorage.getItem('authlib:login'))`);
      // Tab A notices on its next refresh: the storage and the cookie are bob's login now.
      expect(await run(tabA, 'client.refresh()')).toBe('error:unauthorized');
      const before = refreshes;
      const status = `client.fetch('${BASE}/login/profile').then((r) => r.status)`;
      expect(await run(tabA, status)).toBe(401);
      expect(await run(tabA, status)).toBe(401);
      expect(await run(tabA, 'client.profile().then((u) => u.username)')).toBe('error:unauthorized');
      expect(refreshes - before).toBe(0);
      expect(await run(tabA, 'JSON.stringify(client.store.getState())')).toBe('{"accessToken":null,"user":null}');
      // Bob's tab is untouched; tab A takes up his login only when asked to (restore, as a reload does).
      expect(await run(tabC, 'client.profile().then((u) => u.username)')).toBe(bob);
      expect(await run(tabA, 'client.restore().then((u) => u.username)')).toBe(bob);
      await context.close();
    }, 60_000);

    it('an OAuth error another site sends the landing page to (phishing text, markup) is refused by completeOAuth: invalid_state, no text of it anywhere', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${ELSEWHERE}/`);
      const fragment = '#error=invalid_token&error_description=Session+expired.+Re-enter+your+password+at+https%3A%2F%2Fevil.example.test';
      await page.evaluate(`location.href = ${JSON.stringify(`${APP}/landing/bearer/session${fragment}`)}`);
      await page.waitForURL(`${APP}/landing/bearer/session`);
      await page.waitForFunction('window.ready === true');
      expect(await page.evaluate('window.completed')).toBe('invalid_state');
      expect(await page.evaluate('window.completedText')).not.toMatch(/evil|password/i);
      // The tab's own flow failing at the provider comes back with its client_state: a known code, the server's words only.
      github.deny = true;
      await page.evaluate(`location.href = client.oauthStartUrl('github', { redirectTo: ${JSON.stringify(`${APP}/landing/bearer/session`)} })`);
      await page.waitForURL(`${APP}/landing/bearer/session`);
      await page.waitForFunction('window.ready === true');
      expect(await page.evaluate('window.completed')).toBe('access_denied');
      expect(await page.evaluate('window.completedText')).not.toMatch(/evil|password/i);
      await context.close();
    }, 60_000);

    it('tokens another site sends the landing page to (fragment) are refused by completeOAuth, in bearer and cookie mode; the tab’s own flow completes', async () => {
      const attackerContext = await browser.newContext();
      const attacker = await account(attackerContext);
      const attackerRefresh = (await run(attacker.page, 'sessionStorage.getItem("authlib:refresh_token")')) as string;
      for (const [mode, fragment] of [
        ['bearer', `#token=${attacker.token}&refresh_token=${attackerRefresh}`],
        ['cookie', `#token=${attacker.token}&csrf_token=${'A'.repeat(43)}`],
      ] as const) {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(`${ELSEWHERE}/`);
        await page.evaluate(`location.href = ${JSON.stringify(`${APP}/landing/${mode}/local${fragment}`)}`);
        await page.waitForURL(`${APP}/landing/${mode}/local`);
        await page.waitForFunction('window.ready === true');
        expect(await page.evaluate('window.completed')).toBe('invalid_state');
        expect(await page.evaluate('window.restored')).toBeNull();
        expect(await page.evaluate('JSON.stringify(Object.keys(localStorage))')).toBe('[]');
        // A reload stays signed out.
        await landing(page, mode, 'local');
        expect(await page.evaluate('window.restored')).toBeNull();

        // The tab's own sign-in (navigation start, and the POST start) comes back with its client_state and completes.
        const own = github.makeUser();
        github.nextUser = own;
        await page.evaluate(`location.href = client.oauthStartUrl('github', { redirectTo: ${JSON.stringify(`${APP}/landing/${mode}/local`)} })`);
        await page.waitForURL(`${APP}/landing/${mode}/local`);
        await page.waitForFunction('window.ready === true');
        expect(await page.evaluate('window.completed')).toBe('ok');
        expect(await page.evaluate('window.restored')).toBe(own.login);
        await run(page, 'client.logout()');
        github.nextUser = github.makeUser();
        await page.evaluate(
          `client.startOAuth('github', { redirectTo: ${JSON.stringify(`${APP}/landing/${mode}/local`)} }).then((url) => { location.href = url; })`,
        );
        await page.waitForURL(`${APP}/landing/${mode}/local`);
        await page.waitForFunction('window.ready === true');
        expect(await page.evaluate('window.completed')).toBe('ok');
        await context.close();
      }
      await attackerContext.close();
    }, 90_000);
  });
});
