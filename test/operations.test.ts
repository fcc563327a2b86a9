import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { AuthManager } from '../src/index.js';
import { bearer, closedAfterEach, registerUser } from './helpers/app.js';
import { BASE } from './helpers/endpoints.js';
import { decodeJwt } from './helpers/tokens.js';

// The documented operating patterns, run as written: the shutdown sequence of
// docs/guide/production.md ("Shutting down cleanly"), and what a role change does to the tokens the
// user holds (the README's quick start says it where it changes a role).

const opened = closedAfterEach();

/** The production guide's SIGTERM handler, as a function a test can call instead of sending the signal. */
function shutdown(server: Server, auth: AuthManager, graceMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close(async () => {
      await auth.close().then(resolve, reject);
    });
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), graceMs).unref();
  });
}

describe('shutdown: server.close, then auth.close()', () => {
  it('is the sequence the production guide shows', () => {
    // The function above is the guide's handler with the signal and process.exit taken out: the
    // guide's block must make the same calls in the same order.
    const guide = readFileSync(new URL('../docs/guide/production.md', import.meta.url), 'utf8');
    const section = guide.slice(guide.indexOf('## Shutting down cleanly'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const calls = ['server.close(async () => {', 'await auth.close();', 'server.closeIdleConnections();', 'server.closeAllConnections()'];
    const at = calls.map((call) => block.indexOf(call));
    expect(
      at.every((i) => i >= 0),
      block,
    ).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it('finishes the request under way, closes keep-alive sockets, then releases the library', async () => {
    const t = await opened.app();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    t.app.get('/slow', async (_req, res) => {
      await held;
      res.json({ done: true });
    });
    const server = t.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A keep-alive socket left idle by an earlier request would hold server.close open.
    expect((await fetch(`${base}/public`)).status).toBe(200);
    const slow = fetch(`${base}/slow`);
    await new Promise((r) => setTimeout(r, 50));
    let closed = false;
    const done = shutdown(server, t.auth, 300).then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false); // the request under way still runs
    release();
    expect(await (await slow).json()).toEqual({ done: true });
    const finished = Date.now();
    await done;
    // The slow request's socket went idle after close(): the grace timer ends it, not the client's keep-alive timeout.
    expect(Date.now() - finished).toBeLessThan(2000);
    expect(closed).toBe(true);
    await expect(fetch(`${base}/public`)).rejects.toThrow();
  });
});

describe("a role change ends the user's access tokens", () => {
  it('the old token is 401 at once; a refresh carries the new roles', async () => {
    const t = await opened.app();
    const u = await registerUser(t);
    expect((await t.http.get('/admin').set(bearer(u.token))).status).toBe(403);
    await t.auth.users.setRoles(u.user.id, ['user', 'admin']);
    const old = await t.http.get('/me').set(bearer(u.token));
    expect(old.status).toBe(401);
    const refreshed = await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: u.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(refreshed.body.token as string).payload.roles).toEqual(expect.arrayContaining(['admin']));
    expect((await t.http.get('/admin').set(bearer(refreshed.body.token as string))).status).toBe(200);
  });
});
