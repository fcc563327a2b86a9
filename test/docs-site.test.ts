import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from './helpers/chromium.js';
import { TEST_DSN } from './helpers/database.js';

// The documentation site as a reader gets it: `npm run docs:build` (TypeDoc, then VitePress) into a
// directory of its own, served by a tiny static server, read in headless Chromium (Debian's
// `chromium` through playwright-core): the home page, a click to a guide, the sidebar, the search
// box, a diagram and the generated API pages. It touches no database, so the PostgreSQL run skips
// it, as it skips the quick start.

const chromiumInstalled = hasChromium('docs-site');
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCREENSHOTS = join(tmpdir(), 'express-authlib-docs-screenshots');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** Serves `dir` as a static site: `/` and `/x/` are their index.html, nothing outside `dir`. */
function serveStatic(dir: string): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    let file = join(dir, path);
    if (!file.startsWith(dir)) return void res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, base: `http://127.0.0.1:${(server.address() as { port: number }).port}` })),
  );
}

describe.skipIf(!chromiumInstalled || TEST_DSN)('the documentation site in Chromium', () => {
  let out: string;
  let server: Server;
  let base: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'express-authlib-docs-'));
    // The npm script as written, its output sent to a directory of this run (npm appends the flag
    // to the last command, `vitepress build docs`).
    execFileSync('npm', ['run', '--silent', 'docs:build', '--', '--outDir', out], { cwd: ROOT, stdio: 'pipe' });
    ({ server, base } = await serveStatic(out));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(String(err)));
  }, 480_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('builds every guide and reference page, and the generated TypeScript API', () => {
    for (const page of ['index', 'guide/getting-started', 'guide/roles-and-guards', 'guide/production', 'reference/options', 'reference/errors']) {
      expect(existsSync(join(out, `${page}.html`)), page).toBe(true);
    }
    // TypeDoc's pages, from the doc comments of the three entry points (one page per module).
    const api = readFileSync(join(out, 'reference/api/index.html'), 'utf8');
    for (const entry of ['index-1', 'testing', 'client']) expect(api).toContain(`href="./${entry}.html"`);
    expect(readFileSync(join(out, 'reference/api/index-1.html'), 'utf8')).toContain('id="authmanager"');
    expect(readFileSync(join(out, 'reference/api/testing.html'), 'utf8')).toContain('id="createtestauth"');
  });

  it('opens the home page and reaches a guide by clicking', async () => {
    await page.goto(`${base}/`);
    await expect.poll(() => page.title()).toContain('express-authlib');
    await page.getByRole('link', { name: 'Get started' }).first().click();
    await page.waitForURL(/\/guide\/getting-started\.html$/);
    await expect.poll(() => page.locator('h1').first().innerText()).toMatch(/^Getting started/);

    // The sidebar leads to the other guides: how to protect a route by role, in one click.
    await page.locator('.VPSidebar').getByRole('link', { name: 'Roles, permissions and guards' }).click();
    await page.waitForURL(/\/guide\/roles-and-guards\.html$/);
    await expect.poll(() => page.locator('h2#protecting-a-route-by-role').count()).toBe(1);

    mkdirSync(SCREENSHOTS, { recursive: true });
    const shot = join(SCREENSHOTS, 'roles-and-guards.png');
    await page.screenshot({ path: shot, fullPage: false });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  });

  it('finds a word with the local search box', async () => {
    await page.goto(`${base}/guide/getting-started.html`);
    await page.locator('.VPNavBarSearch button').first().click();
    const input = page.locator('.VPLocalSearchBox input');
    await input.fill('impersonation');
    const results = page.locator('.VPLocalSearchBox .result');
    await expect.poll(() => results.count()).toBeGreaterThan(0);
    await expect.poll(() => results.first().innerText()).toMatch(/impersonat/i);
    await results.first().click();
    await page.waitForURL(/\/guide\/administration\.html#|\/guide\/[a-z-]+\.html#/);
    await page.screenshot({ path: join(SCREENSHOTS, 'search-result.png') });
  });

  it('shows the diagrams', async () => {
    await page.goto(`${base}/guide/sessions-and-keys.html`);
    const diagram = page.locator('img[alt^="The token lifecycle"]');
    // Loaded and decoded: the SVG was bundled with the page and is served.
    await expect.poll(() => diagram.evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  });
});
