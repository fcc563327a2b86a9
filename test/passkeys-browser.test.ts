import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import * as OTPAuth from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { auditRows } from './helpers/audit.js';
import { hasChromium, launchChromium } from './helpers/chromium.js';
import { TEST_DSN, databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';
import { uniqueName } from './helpers/endpoints.js';
import { addVirtualAuthenticator, assertInPage, newPrivateKey, type VirtualAuthenticator } from './helpers/virtual-authenticator.js';

// Passkeys through the browser's real WebAuthn ceremony: Debian's Chromium (playwright-core, no
// browser downloaded) with a CDP virtual authenticator (CTAP2, internal transport, resident keys,
// user verification), and express-authlib/client as the package builds it (dist/client.js) calling
// navigator.credentials. The page is http://localhost:<port>: a secure context on a domain name, as
// WebAuthn requires (an RP ID is never an IP address). Attacks that need a response no browser
// makes (another RP ID, a chosen counter without a key copy) are in passkey-attacks.test.ts.

const chromiumInstalled = hasChromium('passkeys-browser');
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLIENT_FILE = join(ROOT, 'dist/client.js');
const PASSWORD = 'correct horse battery staple';

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
};
const closeServer = async (server: Server | undefined) => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
};

// Only the browser's side is under test here, not the database: once, on the PGlite run (CI runs
// the suite on both).
describe.skipIf(!chromiumInstalled || TEST_DSN)('passkeys in Chromium with a virtual authenticator', () => {
  const schema = uniqueSchema('pkb');
  let browser: Browser;
  let server: Server;
  let auth: AuthManager;
  /** The page's origin (and the only one configured). */
  let origin: string;
  /** The same server as this process reaches it. */
  let api: string;
  let context: BrowserContext;
  let page: Page;
  let authenticator: VirtualAuthenticator;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // The page loads dist/client.js: built when missing or older than src/client.
    execFileSync(process.execPath, [join(ROOT, 'scripts/demo-client.mjs')], { cwd: ROOT, stdio: 'inherit' });
    browser = await launchChromium();
    server = createServer();
    const port = await listen(server);
    origin = `http://localhost:${port}`;
    api = `http://127.0.0.1:${port}/api/v1/users`;
    const app = express();
    auth = new AuthManager(app, {
      ...(await databaseOptions()),
      dbSchema: schema,
      jwtSecret: 'p'.repeat(40),
      bcryptRounds: 4,
      rateLimit: false,
      logger: false,
      webauthn: { rpId: 'localhost', rpName: 'Passkey test', origins: [origin] },
    });
    await auth.ready;
    app.get('/', (_req, res) => {
      res.type('html').send('<!doctype html><html><head><title>passkeys</title></head><body>passkeys</body></html>');
    });
    // The client as the package ships it, with the chunks it imports.
    app.get(/^\/(client|chunk-[A-Za-z0-9_-]+)\.js$/, (req, res) => {
      res.sendFile(join(dirname(CLIENT_FILE), req.path.slice(1)));
    });
    server.on('request', app);
    expect(existsSync(CLIENT_FILE)).toBe(true);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await closeServer(server);
    await auth?.close();
    await dropSchema(schema);
  });

  /** A fresh browser (context, page on the app, virtual authenticator) with the client loaded as `window.client`. */
  async function openBrowser(): Promise<{ context: BrowserContext; page: Page; authenticator: VirtualAuthenticator }> {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    p.on('pageerror', (err) => pageErrors.push(err.message));
    const a = await addVirtualAuthenticator(ctx, p);
    await p.goto(`${origin}/`);
    await p.evaluate(`(async () => { window.client = (await import('/client.js')).createAuthClient({ baseUrl: location.origin }); })()`);
    return { context: ctx, page: p, authenticator: a };
  }

  /** Runs a client call in the page: its value, or the AuthClientError's code, status and body. */
  async function inPage<T = unknown>(
    target: Page,
    call: string,
  ): Promise<{ ok: true; value: T } | { ok: false; code: string; status: number; body?: Record<string, unknown> }> {
    return target.evaluate(`(async () => {
      try { return { ok: true, value: await (${call}) }; }
      catch (e) { return { ok: false, code: e.code, status: e.status, body: e.body }; }
    })()`);
  }

  async function newUser() {
    const username = uniqueName('pk');
    // Created verified by the app: its holder counts as having proven the address (what enrolling a passkey needs).
    const user = await auth.users.create({ username, email: `${username}@example.com`, password: PASSWORD, email_verified: true });
    return { ...user, username };
  }

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${api}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { code?: string } };
  };

  let alice: Awaited<ReturnType<typeof newUser>>;
  let alicePasskey: { id: string; name: string };

  beforeAll(async () => {
    ({ context, page, authenticator } = await openBrowser());
    alice = await newUser();
  });
  afterAll(async () => {
    await context?.close();
  });
  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  it('registers a passkey through the client: a resident key for the RP ID, whose user handle names no one', async () => {
    expect(await inPage(page, `client.login({ username: ${JSON.stringify(alice.username)}, password: ${JSON.stringify(PASSWORD)} })`)).toMatchObject({
      ok: true,
    });
    const registered = await inPage<{ id: string; name: string; device_type: string; backed_up: boolean; last_used_at: null }>(
      page,
      `client.registerPasskey({ name: 'Laptop' })`,
    );
    expect(registered).toMatchObject({ ok: true, value: { name: 'Laptop', device_type: 'singleDevice', backed_up: false, last_used_at: null } });
    alicePasskey = (registered as { value: { id: string; name: string } }).value;
    expect(Object.keys(alicePasskey).sort()).toEqual(['backed_up', 'created_at', 'device_type', 'id', 'last_used_at', 'name']);

    const held = await authenticator.credentials();
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ rpId: 'localhost', isResidentCredential: true });
    // The user handle is the 16 bytes of the user id: no name or address lives in the authenticator.
    expect(Buffer.from(held[0]!.userHandle!, 'base64').toString('hex')).toBe(alice.id.replace(/-/g, ''));
    expect(await auth.passkeys.list(alice.id)).toEqual([alicePasskey]);
    expect((await inPage(page, 'client.passkeys.list()')) as unknown).toEqual({ ok: true, value: [alicePasskey] });
    expect(await auditRows(schema, { type: 'passkey_added', userId: alice.id })).toHaveLength(1);

    // The same authenticator again: excluded by the options, so the browser refuses to make a second one.
    const again = await inPage(page, `client.registerPasskey()`);
    expect(again).toMatchObject({ ok: false, code: 'passkey_failed' });
    expect(await authenticator.credentials()).toHaveLength(1);
  }, 60_000);

  it('signs in without a username (a discoverable credential) and with one, each a whole sign-in', async () => {
    await inPage(page, 'client.logout()');
    const discoverable = await inPage<{ username: string }>(page, 'client.signInWithPasskey()');
    expect(discoverable).toMatchObject({ ok: true, value: { username: alice.username } });
    expect(await inPage(page, 'client.profile()')).toMatchObject({ ok: true, value: { id: alice.id } });

    await inPage(page, 'client.logout()');
    const named = await inPage(page, `client.signInWithPasskey({ username: ${JSON.stringify(alice.username.toUpperCase())} })`);
    expect(named).toMatchObject({ ok: true, value: { username: alice.username } });
    const [listed] = await auth.passkeys.list(alice.id);
    expect(listed!.last_used_at).not.toBeNull();
    const logins = await auditRows(schema, { type: 'passkey_login', userId: alice.id });
    expect(logins.map((e) => e.data.passkey_id)).toEqual([alicePasskey.id, alicePasskey.id]);
  }, 60_000);

  it('finishes a password sign-in as the second factor, and alone needs no second factor even with TOTP on', async () => {
    // TOTP on, over HTTP as any client would.
    const login = await post('/login', { username: alice.username, password: PASSWORD });
    const bearer = { Authorization: `Bearer ${String(login.body.token)}`, 'Content-Type': 'application/json' };
    const setup = (await (await fetch(`${api}/mfa/totp/setup`, { method: 'POST', headers: bearer, body: JSON.stringify({ password: PASSWORD }) })).json()) as {
      secret: string;
    };
    const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.secret) }).generate();
    expect((await fetch(`${api}/mfa/totp/confirm`, { method: 'POST', headers: bearer, body: JSON.stringify({ code }) })).status).toBe(200);

    await inPage(page, 'client.logout()');
    const first = await inPage(page, `client.login({ username: ${JSON.stringify(alice.username)}, password: ${JSON.stringify(PASSWORD)} })`);
    expect(first).toMatchObject({ ok: false, code: 'mfa_required', status: 401 });
    const body = (first as unknown as { body: { mfa_id: string; methods: string[] } }).body;
    expect(body.methods).toContain('passkey');
    const second = await inPage(page, `client.signInWithPasskey({ mfaId: ${JSON.stringify(body.mfa_id)} })`);
    expect(second).toMatchObject({ ok: true, value: { username: alice.username } });
    expect(await auditRows(schema, { type: 'login_success', userId: alice.id })).toEqual(
      expect.arrayContaining([expect.objectContaining({ data: { method: 'mfa:passkey' } })]),
    );

    // A passkey (with user verification) is two factors: no mfa_required after it.
    await inPage(page, 'client.logout()');
    expect(await inPage(page, 'client.signInWithPasskey()')).toMatchObject({ ok: true, value: { username: alice.username } });
  }, 60_000);

  it('an assertion is single use: the same response sent again is refused', async () => {
    const options = await post('/login/passkey/options', {});
    const response = await assertInPage(page, options.body.options);
    const once = await post('/login/passkey', { challenge_id: options.body.challenge_id, response });
    expect(once.status).toBe(200);
    const twice = await post('/login/passkey', { challenge_id: options.body.challenge_id, response });
    expect(twice).toMatchObject({ status: 401, body: { code: 'invalid_credentials' } });
  }, 60_000);

  it("an assertion made on another origin's page is refused, even by the user's own authenticator", async () => {
    // Another port is another origin, and `localhost` is still a valid RP ID there: a phishing page
    // on this machine gets a real assertion from the real authenticator, for a challenge it fetched.
    const phishing = createServer((_req, res) => res.setHeader('Content-Type', 'text/html').end('<!doctype html><title>phish</title>'));
    const port = await listen(phishing);
    try {
      await page.goto(`http://localhost:${port}/`);
      const options = await post('/login/passkey/options', { username: alice.username });
      const response = await assertInPage(page, options.body.options);
      const clientData = JSON.parse(Buffer.from((response.response as { clientDataJSON: string }).clientDataJSON, 'base64url').toString()) as {
        origin: string;
      };
      expect(clientData.origin).toBe(`http://localhost:${port}`);
      const refused = await post('/login/passkey', { challenge_id: options.body.challenge_id, response });
      expect(refused).toMatchObject({ status: 401, body: { code: 'invalid_credentials' } });
    } finally {
      await page.goto(`${origin}/`);
      await page.evaluate(`(async () => { window.client = (await import('/client.js')).createAuthClient({ baseUrl: location.origin }); })()`);
      await closeServer(phishing);
    }
  }, 60_000);

  it('a copy of the key with an older signature counter is refused and audited as a suspected clone', async () => {
    const [held] = await authenticator.credentials();
    const copy = { ...held! };
    // One more sign-in: the server now knows a counter past the copy's.
    expect(await inPage(page, 'client.signInWithPasskey()')).toMatchObject({ ok: true });
    await authenticator.remove(held!.credentialId);
    await authenticator.add(copy);
    const cloned = await inPage(page, 'client.signInWithPasskey()');
    expect(cloned).toMatchObject({ ok: false, code: 'invalid_credentials', status: 401 });
    const [event] = await auditRows(schema, { type: 'passkey_clone_suspected', userId: alice.id });
    expect(event!.data).toMatchObject({ passkey_id: alicePasskey.id, presented_counter: copy.signCount + 1 });
    expect(Number(event!.data.stored_counter)).toBeGreaterThan(copy.signCount);

    // The same key with a counter past the stored one signs in again: it was the counter that was refused.
    await authenticator.remove(held!.credentialId);
    await authenticator.add({ ...copy, signCount: copy.signCount + 100 });
    expect(await inPage(page, 'client.signInWithPasskey()')).toMatchObject({ ok: true, value: { username: alice.username } });
  }, 60_000);

  it("a second authenticator answering for someone else's credential is refused", async () => {
    const attacker = await openBrowser();
    try {
      // The attacker's authenticator holds a key of its own under Alice's credential id and user handle.
      const [real] = await authenticator.credentials();
      await attacker.authenticator.add({ ...real!, privateKey: newPrivateKey(), signCount: real!.signCount + 1000 });
      const named = await inPage(attacker.page, `client.signInWithPasskey({ username: ${JSON.stringify(alice.username)} })`);
      expect(named).toMatchObject({ ok: false, code: 'invalid_credentials', status: 401 });
      const discoverable = await inPage(attacker.page, 'client.signInWithPasskey()');
      expect(discoverable).toMatchObject({ ok: false, code: 'invalid_credentials', status: 401 });

      // Bob's own passkey, registered on that second authenticator, does not answer a challenge asked for Alice.
      await attacker.authenticator.remove(real!.credentialId);
      const bob = await newUser();
      await inPage(attacker.page, `client.login({ username: ${JSON.stringify(bob.username)}, password: ${JSON.stringify(PASSWORD)} })`);
      expect(await inPage(attacker.page, 'client.registerPasskey()')).toMatchObject({ ok: true });
      const [bobs] = await attacker.authenticator.credentials();
      const options = await post('/login/passkey/options', { username: alice.username });
      const forAlice = {
        ...(options.body.options as object),
        allowCredentials: [{ id: Buffer.from(bobs!.credentialId, 'base64').toString('base64url'), type: 'public-key' }],
      };
      const response = await assertInPage(attacker.page, forAlice);
      expect(await post('/login/passkey', { challenge_id: options.body.challenge_id, response })).toMatchObject({
        status: 401,
        body: { code: 'invalid_credentials' },
      });
      // ... while a challenge of his own signs him in.
      const own = await post('/login/passkey/options', { username: bob.username });
      const ok = await post('/login/passkey', { challenge_id: own.body.challenge_id, response: await assertInPage(attacker.page, own.body.options) });
      expect(ok).toMatchObject({ status: 200, body: { user: { id: bob.id } } });
    } finally {
      await attacker.context.close();
    }
  }, 90_000);

  it('a removed passkey no longer signs in, though the browser still holds it', async () => {
    expect(await inPage(page, `client.passkeys.rename(${JSON.stringify(alicePasskey.id)}, 'Old laptop')`)).toMatchObject({
      ok: true,
      value: { id: alicePasskey.id, name: 'Old laptop' },
    });
    expect(await inPage(page, `client.passkeys.remove(${JSON.stringify(alicePasskey.id)})`)).toEqual({ ok: true, value: { success: true } });
    expect(await auth.passkeys.list(alice.id)).toEqual([]);
    expect(await auditRows(schema, { type: 'passkey_removed', userId: alice.id })).toHaveLength(1);
    // The page's login was opened by that passkey: it ended with it.
    expect(await inPage(page, 'client.passkeys.list()')).toMatchObject({ ok: false, status: 401 });
    await inPage(page, 'client.logout()');
    expect(await authenticator.credentials()).toHaveLength(1);
    expect(await inPage(page, 'client.signInWithPasskey()')).toMatchObject({ ok: false, code: 'invalid_credentials', status: 401 });
    // Named, the options now offer the made-up credential an unknown name gets, which no authenticator holds.
    expect(await inPage(page, `client.signInWithPasskey({ username: ${JSON.stringify(alice.username)} })`)).toMatchObject({
      ok: false,
      code: 'passkey_cancelled',
    });
    const named = await post('/login/passkey/options', { username: alice.username });
    const allowed = (named.body.options as { allowCredentials: Array<{ id: string }> }).allowCredentials;
    expect(allowed).toHaveLength(1);
    const [held] = await authenticator.credentials();
    expect(allowed[0]!.id).not.toBe(Buffer.from(held!.credentialId, 'base64').toString('base64url'));
    expect(Buffer.from(allowed[0]!.id, 'base64url')).toHaveLength(16);
  }, 60_000);
});
